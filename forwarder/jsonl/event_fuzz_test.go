package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// normalizeRef is Normalize as first written, on encoding/json
// alone, plus the replacement of invalid UTF-8 (fixUTF8): the reference
// the hand-written compactor must match.
func normalizeRef(dst, line []byte) ([]byte, error) {
	line = bytes.TrimPrefix(line, utf8BOM)
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return dst[:0], errors.New("empty line")
	}
	if line[0] != '{' {
		return dst[:0], fmt.Errorf("not a JSON object: starts with %q", line[0])
	}
	buf := bytes.NewBuffer(dst[:0])
	if err := json.Compact(buf, line); err != nil {
		return dst[:0], fmt.Errorf("invalid JSON: %w", err)
	}
	out, _ := fixUTF8(buf.Bytes())
	return out, nil
}

// fixUTF8 is the reference replacement: every byte that utf8.DecodeRune
// finds invalid becomes the six bytes \ufffd, as encoding/json's encoder
// writes it. In valid JSON such bytes can only be inside strings. n counts
// them.
func fixUTF8(b []byte) (out []byte, n int) {
	out = []byte{}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, `\ufffd`...)
			n++
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out, n
}

// checkAgainstEncodingJSON fails t when appendCompact or Normalize
// disagree with encoding/json on in.
func checkAgainstEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	// appendCompact alone, on any input: same verdict as json.Valid, same
	// bytes as json.Compact with invalid UTF-8 replaced, dst's prefix kept.
	prefix := []byte("prefix")
	var sc scan
	got, ok := appendCompact(bytes.Clone(prefix), in, &sc)
	if valid := json.Valid(in); ok != valid {
		t.Fatalf("appendCompact(%q): ok = %v, json.Valid = %v", in, ok, valid)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("appendCompact(%q) lost dst's prefix: %q", in, got)
	}
	var compact bytes.Buffer
	werr := json.Compact(&compact, in)
	want, bad := fixUTF8(compact.Bytes())
	if ok {
		if werr != nil || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("appendCompact(%q) = %q, json.Compact with invalid UTF-8 replaced = %q, %v", in, got[len(prefix):], want, werr)
		}
		if sc.replaced != bad {
			t.Fatalf("appendCompact(%q) replaced %d bytes, want %d", in, sc.replaced, bad)
		}
		// What a receiver reads: valid UTF-8 that decodes to what
		// encoding/json decodes from the input (it replaces the same
		// bytes by U+FFFD when decoding).
		if !utf8.Valid(got) {
			t.Fatalf("appendCompact(%q) = %q: not valid UTF-8", in, got)
		}
		var vin, vout any
		if json.Unmarshal(in, &vin) == nil {
			if err := json.Unmarshal(got[len(prefix):], &vout); err != nil || !reflect.DeepEqual(vin, vout) {
				t.Fatalf("appendCompact(%q) = %q decodes to %#v (%v), the input to %#v", in, got[len(prefix):], vout, err, vin)
			}
		}
	} else if len(got) != len(prefix) {
		t.Fatalf("appendCompact(%q) invalid but appended %q", in, got[len(prefix):])
	}
	checkFastPath(t, in)

	// Normalize: same bytes and the same error text as the reference.
	dst := make([]byte, 3, 16)
	gotN, gerr := Normalize(dst, in)
	wantN, rerr := normalizeRef(nil, in)
	if (gerr == nil) != (rerr == nil) || gerr != nil && gerr.Error() != rerr.Error() {
		t.Fatalf("Normalize(%q) error = %v, reference %v", in, gerr, rerr)
	}
	if !bytes.Equal(gotN, wantN) {
		t.Fatalf("Normalize(%q) = %q, reference %q", in, gotN, wantN)
	}
	if gerr != nil && len(gotN) != 0 {
		t.Fatalf("Normalize(%q) returned %q with an error", in, gotN)
	}

	// NormalizeTime: Normalize's result and EventTime's time.
	gotT, tm, tok, terr := NormalizeTime(make([]byte, 0, 8), in)
	if (terr == nil) != (gerr == nil) || terr != nil && terr.Error() != gerr.Error() || !bytes.Equal(gotT, gotN) {
		t.Fatalf("NormalizeTime(%q) = %q, %v; Normalize = %q, %v", in, gotT, terr, gotN, gerr)
	}
	wantT, wantOK := time.Time{}, false
	if gerr == nil {
		wantT, wantOK = EventTime(gotN)
	}
	if tok != wantOK || !tm.Equal(wantT) || tm.Location() != wantT.Location() {
		t.Fatalf("NormalizeTime(%q) time = %v, %v; EventTime = %v, %v", in, tm, tok, wantT, wantOK)
	}

	// NormalizeMembers: Normalize's result, and the members where
	// encoding/json's decoder finds them in it.
	reuse := append(make([]Member, 0, 64), Member{1, 2, 3, 4})
	gotM, info, merr := NormalizeMembers(make([]byte, 0, 8), in, 0, reuse)
	if (merr == nil) != (gerr == nil) || merr != nil && merr.Error() != gerr.Error() || !bytes.Equal(gotM, gotN) {
		t.Fatalf("NormalizeMembers(%q) = %q, %v; Normalize = %q, %v", in, gotM, merr, gotN, gerr)
	}
	if merr != nil {
		if info.Members != nil {
			t.Fatalf("NormalizeMembers(%q) failed with members %v", in, info.Members)
		}
		return
	}
	wantM := membersRef(t, gotN)
	if len(wantM) > MaxMembers {
		wantM = nil
	}
	if !equalMembers(info.Members, wantM) {
		t.Fatalf("NormalizeMembers(%q) members = %v, want %v (in %q)", in, info.Members, wantM, gotN)
	}
	if len(wantM) > 0 && len(wantM) <= cap(reuse) && &info.Members[0] != &reuse[0] {
		t.Fatalf("NormalizeMembers(%q) did not reuse the slice", in)
	}
	if walk := appendMembers(nil, gotN); len(wantM) > 0 && !equalMembers(walk, wantM) {
		t.Fatalf("appendMembers(%q) = %v, want %v", gotN, walk, wantM)
	}
}

// membersRef locates the top-level members of the compact object obj with
// encoding/json's decoder: InputOffset is just past the last token read.
func membersRef(t *testing.T, obj []byte) []Member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: first token %v, %v", obj, tok, err)
	}
	var ms []Member
	for dec.More() {
		p := int(dec.InputOffset())
		if obj[p] == ',' {
			p++
		}
		if _, err := dec.Token(); err != nil {
			t.Fatalf("%q: key: %v", obj, err)
		}
		m := Member{Key: p + 1, KeyEnd: int(dec.InputOffset()) - 1}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("%q: value: %v", obj, err)
		}
		m.ValueEnd = int(dec.InputOffset())
		m.Value = m.ValueEnd - len(raw)
		if obj[m.KeyEnd+1] != ':' || m.Value != m.KeyEnd+2 || !bytes.Equal(obj[m.Value:m.ValueEnd], raw) {
			t.Fatalf("%q: reference member %v misplaced", obj, m)
		}
		ms = append(ms, m)
	}
	return ms
}

func equalMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzNormalize proves the hand-written validating compactor equal to
// encoding/json: the same validity verdict as json.Valid, the same bytes as
// json.Compact when valid, and Normalize's result and error unchanged.
// Seeds: the real samples, the cases below and testdata/fuzz.
func FuzzNormalize(f *testing.F) {
	for _, l := range mimecasttest.V2CGLines(f) {
		f.Add(l)
	}
	for _, s := range compactCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkAgainstEncodingJSON(t, in)
	})
}

// compactCases are edge cases of JSON syntax and whitespace.
var compactCases = []string{
	``, ` `, `{`, `}`, `{}`, ` { } `, "{\t\n\r }", `{"a":1}`, `{"a" : 1 , "b" :[ 1 , 2 ] }`,
	`{"a":1,}`, `{"a":1,,"b":2}`, `{,"a":1}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{1:2}`, `{'a':1}`,
	`{"a":[]}`, `{"a":[ ]}`, `{"a":[,]}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":[1],}`, `{"a":{"b":{}}}`,
	`{"a":[}`, `{"a":{]}`, `{"a":[1}`, `[1,2]`, `"s"`, `1`, `true`, `null`, ` null `, `nul`, `nulll`,
	`{"a":true}`, `{"a":tru}`, `{"a":truex}`, `{"a":false}`, `{"a":fals}`, `{"a":null}`, `{"a":nil}`,
	`{"a":0}`, `{"a":-0}`, `{"a":01}`, `{"a":-}`, `{"a":-a}`, `{"a":1.}`, `{"a":1.5}`, `{"a":.5}`,
	`{"a":1e5}`, `{"a":1E+5}`, `{"a":1e-5}`, `{"a":1e}`, `{"a":1e+}`, `{"a":-1.25e-10}`, `{"a":+1}`,
	`{"a":0x10}`, `{"a":1.5.5}`, `{"a":Infinity}`, `{"a":NaN}`, `{"a":12345678901234567890123}`,
	`{"a":"\"\\\/\b\f\n\r\t"}`, `{"a":"\u00e9\u20AC\uD83D\uDE00"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`,
	`{"a":"\x"}`, `{"a":"\'"}`, `{"a":"\`, `{"a":"abc`, `{"a":"abcdefghijklmnopqrstuvwxyz0123456789`,
	"{\"a\":\"tab\tinside\"}", "{\"a\":\"nul\x00\"}", "{\"a\":\"del\x7f\"}", "{\"a\":\"bad utf8 \xff\xfe\"}",
	"{\"a\":\"\u2028\u2029<>&\"}", "{\"\xff\":1}", "{\"a\":\"overlong \xc0\xaf, surrogate \xed\xa0\x80, cut \xe2\x82\"}",
	"{\"a\":\"\xf4\x90\x80\x80 \xf0\x9f\x98\x80 ok \xc3\xa9\", \"k\xfe\" : [\"\xff\", {\"timestamp\":\"\xff\"}], \"timestamp\": 1731499059314}",
	"{\"long\":\"" + strings.Repeat("abcdefg\xff", 20) + "\"}", "\xEF\xBB\xBF{\"a\":1}", "{\"a\":1}\r", "{\"a\":1}\n",
	"\v{\"a\":1}", "{\"a\":1}\v", "{\"a\":\v1}", "{\"a\":1}\u00a0", "\u0085{\"a\":1}", "{\"a\":\u00a01}",
	`{"a":1}{"b":2}`, `{"a":1} x`, `{"a":1} {`, `{"a":1}]`, `{"a":"x"}"`,
	`{"longstring":"` + strings.Repeat("abcdefgh", 20) + `","k":"` + strings.Repeat("é", 30) + `\n"}`,
	`{"a":"12345678\"12345678\\12345678` + "\x01" + `"}`,
	`{ "nested" : { "deep" : [ { "x" : [ 1 , { "y" : "z" } ] } ] } , "t" : 1731499059314 }`,
	`{"timestamp":1731499059314}`, `{ "timestamp" : "1731499059314" }`, `{"timestamp":1.5e3}`, `{"timestamp":-5}`,
	`{"timestamp":"2017-05-26T16:47:41+0100"}`, `{"timestamp":"soon","datetime":"2022-05-23T12:20:44Z"}`,
	`{"datetime":"2022-05-23T12:20:44Z","timestamp":1731499059314}`, `{"datetime":"x","datetime":"2022-05-23 12:20:44.5"}`,
	`{"datetime":"2022-05-23T12:20:44Z","datetime":"2023-01-01T00:00:00Z"}`, `{"timestamp":null,"timestamp":true,"timestamp":7}`,
	`{"a":{"timestamp":1},"b":["timestamp",{"datetime":"2022-05-23T12:20:44Z"}],"c":"\"timestamp\":2"}`,
	`{"timestamp":{"x":1},"datetime":["2022-05-23T12:20:44Z"]}`, `{"timestamp":[5],"timestamp":6}`,
	`{"times\u0074amp":5}`, `{"timestamp":99999999999999999999}`, `{"timestamp":"-1"}`, `[{"timestamp":1}]`,
}

// TestNormalizeMatchesEncodingJSON runs the fuzz seeds in every
// test run, plus nesting at encoding/json's depth limit and past it.
func TestNormalizeMatchesEncodingJSON(t *testing.T) {
	for _, s := range compactCases {
		checkAgainstEncodingJSON(t, []byte(s))
	}
	for _, l := range mimecasttest.V2CGLines(t) {
		checkAgainstEncodingJSON(t, l)
		// The same event pretty-printed must compact back to itself.
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, l, " ", "\t"); err != nil {
			t.Fatal(err)
		}
		checkAgainstEncodingJSON(t, pretty.Bytes())
	}
	for _, depth := range []int{63, 64, 65, 256, 257, 1000, maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, objectFirst := range []bool{false, true} {
			in := nested(depth, objectFirst)
			_, ok := appendCompact(nil, in, nil)
			if ok != (depth <= maxDepth) {
				t.Errorf("depth %d: ok = %v", depth, ok)
			}
			checkAgainstEncodingJSON(t, in)
		}
	}
}

// nested returns a value nested depth levels deep, alternating arrays and
// objects, starting with an object or an array.
func nested(depth int, objectFirst bool) []byte {
	var open, tail strings.Builder
	closers := make([]byte, 0, depth)
	for d := 0; d < depth; d++ {
		if (d%2 == 0) == objectFirst {
			open.WriteString(`{"k":`)
			closers = append(closers, '}')
		} else {
			open.WriteString(`[0,`)
			closers = append(closers, ']')
		}
	}
	for i := len(closers) - 1; i >= 0; i-- {
		tail.WriteByte(closers[i])
	}
	return []byte(open.String() + "1" + tail.String())
}

func TestNormalizeAllocs(t *testing.T) {
	line := []byte(`{"accountId":"A", "nested":{"x":[1,2,"s"]},"timestamp":1731499059314,"other":"v"}`)
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		out, err := Normalize(buf, line)
		if err != nil {
			t.Fatal(err)
		}
		buf = out[:0]
	}); n != 0 {
		t.Errorf("Normalize allocates %v times per call", n)
	}
}
