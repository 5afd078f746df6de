package jsonl

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"reflect"
	"strings"
	"testing"
)

// checkFastPath fails t when appendCompact (fast path first) and the
// general machine alone disagree on in, for every request NormalizeInfo and
// NormalizeMembers make and limits around the sizes that matter: the same
// verdict, output and everything collected in scan (time, members,
// replaced bytes, overflow). It reports whether appendFlat itself vouched
// for the result.
func checkFastPath(t *testing.T, in []byte) (flat bool) {
	t.Helper()
	limits := []int{0, 1, len(in), len(in) + 5, len(in) + 6, len(in) + 11, 2 * len(in)}
	for _, limit := range limits {
		for _, capture := range []bool{false, true} {
			prefix := []byte("pre")
			mk := func() *scan {
				return &scan{time: true, capture: capture, limit: limit, members: make([]Member, 0, 2)}
			}
			got, want := mk(), mk()
			gotOut, gotOK := appendCompact(bytes.Clone(prefix), in, got)
			wantOut, wantOK := appendGeneral(bytes.Clone(prefix), in, want, maxDepth)
			if gotOK != wantOK || !bytes.Equal(gotOut, wantOut) {
				t.Fatalf("appendCompact(%q, limit %d) = %q, %v; general machine %q, %v", in, limit, gotOut, gotOK, wantOut, wantOK)
			}
			if !reflect.DeepEqual(*got, *want) {
				t.Fatalf("appendCompact(%q, limit %d) collected %+v; general machine %+v", in, limit, *got, *want)
			}
			if limit == 0 && capture {
				sc := mk()
				_, flat = appendFlat(bytes.Clone(prefix), in, sc)
			}
		}
	}
	return flat
}

// TestFlatBoundaries: the cases where appendFlat's own work ends (a string
// ending at, before or after a word boundary or in the line's last bytes,
// escapes and non-ASCII text, invalid UTF-8 in names and values, nested
// values, whitespace or an error after a compact prefix) give what the
// general machine and encoding/json give, and those it should keep are
// kept by it.
func TestFlatBoundaries(t *testing.T) {
	var cases []string
	var flat []bool // appendFlat must vouch for cases[i]
	add := func(fast bool, s ...string) {
		for _, c := range s {
			cases = append(cases, c)
			flat = append(flat, fast)
		}
	}
	// Names and string values of 0 to 25 bytes, so that the closing quote
	// falls on every position of a word, at the start, the middle and the
	// end of a line (the last seven bytes are read one by one).
	for l := 0; l <= 25; l++ {
		s := strings.Repeat("x", l)
		add(true, `{"`+s+`":"`+s+`","timestamp":1731499059314,"`+s+`":"`+s+`"}`)
		// An escape or a non-ASCII letter as the string's last byte(s).
		add(true, `{"`+s+`\"":"`+s+`\\","n":"`+s+"é"+`","e":"`+s+`\u00e9"}`)
		// Invalid UTF-8 as the string's last byte, in a name and a value.
		add(true, `{"`+s+"\xff"+`":1,"v":"`+s+"\xfe"+`","t":true}`)
		// A string cut at the end of the line, with an escape cut too.
		add(false, `{"a":1,"`+s, `{"a":1,"b":"`+s, `{"a":1,"b":"`+s+`\`, `{"a":1,"b":"`+s+`\u00e`)
	}
	add(true,
		`{}`, `{"a":null,"b":true,"c":false,"d":-1.5e+3,"e":0,"f":"","g":{},"h":[]}`,
		`{"a":1,"n":{"x":[1,{"y":"}]"}],"s":"\"]}"},"z":2}`, `{"a":1,"n":[ 1 , { "y" : 2 } ],"z":2}`,
		"{\"a\":1,\"n\":[\"\xff\",{\"\xfe\":2}],\"z\":2}", `{"timestamp":"1731499059314","datetime":"2022-05-23T12:20:44Z"}`,
		`{"datetime":"2022-05-23T12:20:44Z","n":{"timestamp":1},"timestamp":[1],"timestamp":5}`,
		`{"times\u0074amp":5,"timestamp":6}`, "{\"timestamp\xff\":5,\"timestamp\":6}",
	)
	add(false,
		`{"a":1 }`, `{"a":1, "b":2}`, `{"a" :1}`, `{"a": 1}`, "{\"a\":1,\"b\":2}\n", ` {"a":1}`,
		`{"a":1,}`, `{"a":1,"b"}`, `{"a":1,"b":}`, `{"a":1,"b":nul}`, `{"a":1,"b":nullx}`, `{"a":1,"b":tru}`,
		`{"a":1,"b":fals}`, `{"a":1,"b":-}`, `{"a":1,"b":01}`, `{"a":1}x`, `{"a":1}}`, `{"a":1`, `{"a":1,"b":[1}],"c":2}`,
		`{"a":1,"b":{"c":1]}`, `{"a":1,"b":[1,2`, `{"a":1,"b":"x"y}`, `{"a":1,"b":'x'}`, "{\"a\":1,\"b\":\"\x01\"}",
		`{"a":1,"b":"\x"}`, `{"a":1,1:2}`, `{"a":1,"b":+1}`,
	)
	// Nesting at encoding/json's limit (and one past it) after a compact
	// prefix: the object is the first level.
	for _, depth := range []int{maxDepth - 1, maxDepth} {
		for _, objectFirst := range []bool{false, true} {
			add(depth < maxDepth, `{"a":"x","timestamp":1,"n":`+string(nested(depth, objectFirst))+`,"z":"y"}`)
		}
	}
	for i, c := range cases {
		in := []byte(c)
		checkAgainstEncodingJSON(t, in)
		if got := checkFastPath(t, in); got != flat[i] {
			t.Errorf("appendFlat(%.80q) vouched %v, want %v", in, got, flat[i])
		}
	}
}

// TestFlatMembersReuse: members located by appendFlat before it gives up
// are not reported, and the memory they grew is kept.
func TestFlatMembersReuse(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"a":0`)
	for i := range 100 {
		b.WriteString(`,"k":` + strings.Repeat("1", i%7+1))
	}
	b.WriteString(`, "last":"x"}`) // the space sends it to the general machine
	in := []byte(b.String())
	out, info, err := NormalizeMembers(nil, in, 0, nil)
	if err != nil || len(info.Members) != 102 || string(info.Members[101].ValueIn(out)) != "x" {
		t.Fatalf("%d members, %v", len(info.Members), err)
	}
	members := info.Members
	if n := testing.AllocsPerRun(20, func() {
		out, info, err = NormalizeMembers(out[:0], in, 0, members)
		if err != nil || len(info.Members) != 102 {
			t.Fatalf("%d members, %v", len(info.Members), err)
		}
		members = info.Members
	}); n != 0 {
		t.Errorf("NormalizeMembers allocates %v times per call", n)
	}
}

// TestStopMask: for every byte value at every position of a word, after
// plain bytes and before any bytes, stopMask's lowest flag is the first
// byte that ends a plain run, whatever follows it.
func TestStopMask(t *testing.T) {
	isStop := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }
	plain := []byte{0x20, 0x21, 0x23, 0x5b, 0x5d, 'a', 0x7f}
	after := []byte{0x00, 0x01, 0x1f, 0x20, '"', '\\', 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	for p := range 8 {
		for c := range 256 {
			for f := range plain {
				var w [8]byte
				for j := range w {
					switch {
					case j < p:
						w[j] = plain[(j+f)%len(plain)]
					case j == p:
						w[j] = byte(c)
					default:
						w[j] = after[(j+c+f)%len(after)]
					}
				}
				m := stopMask(binary.LittleEndian.Uint64(w[:]))
				first := bits.TrailingZeros64(m) >> 3
				if isStop(byte(c)) && first != p || !isStop(byte(c)) && first <= p {
					t.Fatalf("stopMask(% x) = %#x: first flag at %d, byte %#x at %d", w, m, first, c, p)
				}
			}
		}
	}
}
