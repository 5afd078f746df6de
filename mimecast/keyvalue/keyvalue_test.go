package keyvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

type kv struct {
	k, v    string
	wrapped bool
}

func pairsOf(ps []Pair) []kv {
	out := make([]kv, len(ps))
	for i, p := range ps {
		out[i] = kv{string(p.Key), string(p.Value), p.Wrapped}
	}
	return out
}

func TestParseSample(t *testing.T) {
	line := mimecasttest.KeyValueLine(t)
	ps, err := Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	want := []kv{
		{"datetime", "2017-05-26T16:47:41+0100", false},
		{"aCode", "7O7I7MvGP1mj8plHRDuHEA", false},
		{"acc", "C0A0", false},
		{"SpamLimit", "0", false},
		{"IP", "123.123.123.123", false},
		{"Dir", "Internal", false},
		{"MsgId", "<81ce15$8r2j59@mail01.example.com>", false},
		{"Subject", "message subject", true},
		{"headerFrom", "from@mimecast.com", false},
		{"Sender", "from@mimecast.com", false},
		{"Rcpt", "auser@mimecast.com", false},
		{"SpamInfo", "[]", false},
		{"Act", "Acc", false},
		{"TlsVer", "TLSv1", false},
		{"Cphr", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", false},
		{"SpamProcessingDetail", `{"spf":{"info":"SPF_FAIL","allow":true},"dkim":{"info":"DKIM_UNKNOWN","allow":true}}`, false},
		{"SpamScore", "1", false},
	}
	got := pairsOf(ps)
	if len(got) != len(want) {
		t.Fatalf("got %d pairs %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if f := Format(nil, ps); !bytes.Equal(f, line) {
		t.Errorf("Format = %s\nwant     %s", f, line)
	}
	js := AppendJSON(nil, ps)
	var m map[string]string
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatalf("AppendJSON output %s: %v", js, err)
	}
	if len(m) != len(want) {
		t.Errorf("JSON has %d keys, want %d", len(m), len(want))
	}
	for _, w := range want {
		if m[w.k] != w.v {
			t.Errorf("JSON[%q] = %q, want %q", w.k, m[w.k], w.v)
		}
	}
	if !strings.HasPrefix(string(js), `{"datetime":"2017-05-26T16:47:41+0100","aCode":`) {
		t.Errorf("JSON does not keep the line's order: %s", js)
	}
}

func TestParseCases(t *testing.T) {
	cases := []struct {
		name string
		line string
		want []kv
	}{
		{"pipe inside wrapped value", `a=1|Subject=\x | y|z=\|b=2`,
			[]kv{{"a", "1", false}, {"Subject", "x | y|z=", true}, {"b", "2", false}}},
		{"wrapped value at end", `a=1|Subject=\hi there\`,
			[]kv{{"a", "1", false}, {"Subject", "hi there", true}}},
		{"unclosed backslash kept", `a=\abc|b=2`,
			[]kv{{"a", `\abc`, false}, {"b", "2", false}}},
		{"equals in value split on first =", `q=a=b==c|r=1`,
			[]kv{{"q", "a=b==c", false}, {"r", "1", false}}},
		{"pipe without key stays in value", `a=x|y|b=z|`,
			[]kv{{"a", "x|y", false}, {"b", "z|", false}}},
		{"json with pipe and fake key", `j={"s":"a|b=c","t":[1,{"u":"|v=w"}]}|k=1`,
			[]kv{{"j", `{"s":"a|b=c","t":[1,{"u":"|v=w"}]}`, false}, {"k", "1", false}}},
		{"unbalanced json falls back", `j={"s":1|k=1`,
			[]kv{{"j", `{"s":1`, false}, {"k", "1", false}}},
		{"empty values", `a=|b=|c=`,
			[]kv{{"a", "", false}, {"b", "", false}, {"c", "", false}}},
		{"empty wrapped", `a=\\|b=1`,
			[]kv{{"a", "", true}, {"b", "1", false}}},
		{"single backslash", `a=\`,
			[]kv{{"a", `\`, false}}},
		{"bom ignored", "\ufeffdatetime=x|a=1",
			[]kv{{"datetime", "x", false}, {"a", "1", false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := Parse([]byte(c.line))
			if err != nil {
				t.Fatal(err)
			}
			got := pairsOf(ps)
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("pair %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
			if f := string(Format(nil, ps)); f != strings.TrimPrefix(c.line, "\ufeff") {
				t.Errorf("Format = %q, want %q", f, c.line)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("Parse(nil) error = %v, want ErrEmpty", err)
	}
	for _, line := range []string{"no pairs here", "=value", "|a=1", " a=1", "a b=1"} {
		ps, err := Parse([]byte(line))
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", line, pairsOf(ps))
		} else if !strings.Contains(err.Error(), "does not start with key=") {
			t.Errorf("Parse(%q) error = %v", line, err)
		}
	}
}

func TestAppendJSONDuplicatesAndEscapes(t *testing.T) {
	ps, err := Parse([]byte("a=1|a=2|a_2=3|a=4|b=x\x00y\n\"\\\xff\u2028"))
	if err != nil {
		t.Fatal(err)
	}
	js := AppendJSON([]byte("prefix"), ps)
	if !bytes.HasPrefix(js, []byte("prefix")) {
		t.Fatalf("dst not kept: %s", js)
	}
	js = js[len("prefix"):]
	want := `{"a":"1","a_3":"2","a_2":"3","a_4":"4","b":"x\u0000y\n\"\\\ufffd\u2028"}`
	if string(js) != want {
		t.Errorf("AppendJSON = %s\nwant          %s", js, want)
	}
	if !json.Valid(js) {
		t.Error("invalid JSON")
	}
}

func TestAppendJSONManyPairs(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString("k=v")
	}
	ps, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(AppendJSON(nil, ps), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 200 || m["k"] != "v" || m["k_200"] != "v" {
		t.Errorf("got %d keys, k=%q k_200=%q", len(m), m["k"], m["k_200"])
	}
}

// checkInvariants asserts the properties that hold for every input.
func checkInvariants(t *testing.T, line []byte) {
	ps, err := Parse(line)
	if err != nil {
		if len(ps) != 0 {
			t.Fatalf("error %v with %d pairs", err, len(ps))
		}
		return
	}
	if len(ps) == 0 {
		t.Fatal("no pairs and no error")
	}
	// Round trip: the pairs rebuild the line exactly.
	if f := Format(nil, ps); !bytes.Equal(f, bytes.TrimPrefix(line, bom)) {
		t.Fatalf("Format = %q, want %q", f, line)
	}
	for _, p := range ps {
		if len(p.Key) == 0 {
			t.Fatal("empty key")
		}
		for _, c := range p.Key {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
				t.Fatalf("key %q has byte %q", p.Key, c)
			}
		}
	}
	js := AppendJSON(nil, ps)
	if !json.Valid(js) {
		t.Fatalf("invalid JSON %q", js)
	}
	if bytes.ContainsAny(js, "\n\r\x00") {
		t.Fatalf("raw control byte in %q", js)
	}
	// Keys in order, all distinct, one per pair; values equal when the
	// value is valid UTF-8; first occurrences keep their name.
	dec := json.NewDecoder(bytes.NewReader(js))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for i := 0; dec.More(); i++ {
		kt, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		vt, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k, v := kt.(string), vt.(string)
		if i >= len(ps) {
			t.Fatalf("more members than pairs")
		}
		if seen[k] {
			t.Fatalf("duplicate name %q in %s", k, js)
		}
		first := !seen[string(ps[i].Key)]
		seen[k] = true
		if first && utf8.Valid(ps[i].Key) && k != string(ps[i].Key) {
			t.Fatalf("member %d named %q, want %q", i, k, ps[i].Key)
		}
		if utf8.Valid(ps[i].Value) && v != string(ps[i].Value) {
			t.Fatalf("member %d value %q, want %q", i, v, ps[i].Value)
		}
	}
	if len(seen) != len(ps) {
		t.Fatalf("%d members for %d pairs", len(seen), len(ps))
	}
}

func FuzzParse(f *testing.F) {
	f.Add(mimecasttest.KeyValueLine(f))
	for _, s := range []string{
		"", "=", "a=", "a=b", `a=\`, `a=\\`, `a=\x|y\|b=1`, `a=\x|b=\|c=3`,
		`j={"a":"|b=1"}|c=2`, `j=[1,2|k=3`, "a=1|a=2|a_2=3", "a=1||b=2", "a=1|", "|a=1",
		"\ufeffa=1", "a=\xff\xfe|b=\x00", "a=\u2028", `a="|"b=1`, `a={"x":"\"|c=1"}|d=1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkInvariants(t, line)
	})
}

func BenchmarkParseAppendJSON(b *testing.B) {
	line := mimecasttest.KeyValueLine(b)
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		ps, err := Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		dst = AppendJSON(dst[:0], ps)
	}
}

// simulatorLines returns the simulator's key_value events, 100 of each
// type (distinct lines, as the bench command serves them).
func simulatorLines(b *testing.B) [][]byte {
	b.Helper()
	const perType = 100
	sim, err := simulator.New(simulator.Options{RecordsPerFile: perType, LiveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	for _, typ := range simulator.AllTypes() {
		for n := range perType {
			lines = append(lines, sim.V1Event(typ, 0, n, "key_value"))
		}
	}
	return lines
}

// BenchmarkAppendParse parses the simulator's lines into a reused slice,
// as the API 1.0 source does.
func BenchmarkAppendParse(b *testing.B) {
	lines := simulatorLines(b)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	var ps []Pair
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, l := range lines {
			var err error
			if ps, err = AppendParse(ps, l); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// pathological lines that would cost quadratic time without the look-ahead
// budget and the rename memory.
func pathological() map[string][]byte {
	return map[string][]byte{
		"unclosed-json":      bytes.Repeat([]byte("a={|"), 50000),
		"unclosed-wrapped":   bytes.Repeat([]byte(`a=\x|`), 50000),
		"duplicates":         bytes.Repeat([]byte("a=|"), 50000),
		"open-string":        append([]byte(`j={"`), bytes.Repeat([]byte("|k={"), 50000)...),
		"duplicate-suffixes": []byte(strings.Repeat("k=1|", 20000) + strings.Repeat("k_9=1|", 20000) + "k=end"),
	}
}

func TestPathologicalLines(t *testing.T) {
	for name, line := range pathological() {
		t.Run(name, func(t *testing.T) { checkInvariants(t, line) })
	}
	// Within the budget, JSON values are still recognised in long lines.
	long := append(bytes.Repeat([]byte("x=1|"), 10000), `j={"a":"|b=1"}|z=2`...)
	ps, err := Parse(long)
	if err != nil {
		t.Fatal(err)
	}
	if last := ps[len(ps)-2]; string(last.Key) != "j" || string(last.Value) != `{"a":"|b=1"}` {
		t.Errorf("JSON value split: %q=%q", last.Key, last.Value)
	}
}

func BenchmarkPathological(b *testing.B) {
	for name, line := range pathological() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			var dst []byte
			for b.Loop() {
				ps, _ := Parse(line)
				dst = AppendJSON(dst[:0], ps)
			}
		})
	}
}

// TestAppendParseReuses: AppendParse gives Parse's pairs and reuses dst.
func TestAppendParseReuses(t *testing.T) {
	a := []byte(`datetime=2017-05-26T16:47:41+0100|Subject=\a | b\|Act=Acc`)
	b := []byte(`k=v|x={"a":"|y="}`)
	buf := make([]Pair, 0, 8)
	for _, line := range [][]byte{a, b, a} {
		want, werr := Parse(line)
		got, gerr := AppendParse(buf, line)
		if fmt.Sprint(got) != fmt.Sprint(want) || (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: AppendParse = %v %v, Parse = %v %v", line, got, gerr, want, werr)
		}
		if &got[:1][0] != &buf[:1][0] {
			t.Errorf("%s: AppendParse did not reuse dst", line)
		}
		buf = got
	}
	if _, err := AppendParse(buf, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty line: %v", err)
	}
}
