package api1

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// scanMember runs readJSONMember over doc with a read buffer of size
// bytes, and returns the events (compacted by encoding/json, to compare
// them) and the error.
func scanMember(t *testing.T, doc string, size int) ([]string, error) {
	t.Helper()
	m := newMemberScanner(t.Context(), bufio.NewReaderSize(strings.NewReader(doc), size), nil)
	defer m.release()
	var got []string
	err := readJSONMember(m, func(ev []byte, idx int) error {
		got = append(got, string(ev))
		return nil
	}, func(int) { t.Error("no event is too large here") })
	return got, err
}

// TestJSONMemberStructure: the events of every document shape Mimecast
// (or a peer) writes come out byte for byte, whatever the read buffer's
// size (events and strings cut across buffer refills), and broken
// structure is an error with the document's number.
func TestJSONMemberStructure(t *testing.T) {
	cases := []struct {
		doc  string
		want []string
		err  string // substring of the error, "" for none
	}{
		{doc: `{"type":"MTA","data":[{"a":1},{"b":"x\"}]{["}]}`, want: []string{`{"a":1}`, `{"b":"x\"}]{["}`}},
		{doc: "{ \"type\" : \"MTA\" ,\n \"data\" : [\n {\"a\" : [1, {\"b\": \"]\"}]} ,\n\t{}\n ]\n}\n", want: []string{"{\"a\" : [1, {\"b\": \"]\"}]}", "{}"}},
		{doc: `{"meta":{"x":[1,{"y":"]}"}],"s":"\\"},"data":[{"a":1}],"fail":[]}{"data":[{"b":2}]}`, want: []string{`{"a":1}`, `{"b":2}`}},
		{doc: `[{"a":1},{"b":2}] [{"c":3}]`, want: []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}},
		{doc: `{"data":[]}`, want: nil},
		{doc: `{"data":[{"s":1},42,"x",true,null,{"s":2}]}`, want: []string{`{"s":1}`, `42`, `"x"`, `true`, `null`, `{"s":2}`}},
		{doc: `{"d\"ata":[{"a":1}],"data":[{"b":2}]}`, want: []string{`{"b":2}`}},
		{doc: `{"type":"MTA","dataX":[{"a":1}]}`, err: `document 1 has no "data" array`},
		{doc: `{}`, err: `document 1 has no "data" array`},
		{doc: `{"data":{}}`, err: `document 1: "data" is not an array`},
		{doc: `{"data":[{"a":1}]} 42`, want: []string{`{"a":1}`}, err: "document 2 does not start with an object"},
		{doc: `{"data":[{"r":1},{"r":`, want: []string{`{"r":1}`}, err: "JSON document truncated"},
		{doc: `{ "type" : "MTA", "data" : `, err: "JSON document truncated"},
		{doc: `{"data":[{"a":1} {"b":2}]}`, want: []string{`{"a":1}`}, err: "invalid JSON"},
		{doc: `{"data":[{"a":1}] "x":1}`, want: []string{`{"a":1}`}, err: "invalid JSON"},
		{doc: `{"data" [1]}`, err: "invalid JSON"},
		{doc: "  \n ", err: "no JSON document"},
	}
	for _, c := range cases {
		for _, size := range []int{16, 17, 64, 4096} {
			got, err := scanMember(t, c.doc, size)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("%s (buffer %d): events %q, want %q", c.doc, size, got, c.want)
			}
			switch {
			case c.err == "" && err != nil:
				t.Errorf("%s (buffer %d): %v", c.doc, size, err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("%s (buffer %d): error %v, want %q", c.doc, size, err, c.err)
			}
		}
	}
	// A truncated document is told apart from other damage.
	if _, err := scanMember(t, `{"data":[{"r":"`, 16); !errors.Is(err, errTruncatedDoc) {
		t.Errorf("truncated: %v", err)
	}
}

// TestJSONMemberMatchesEncodingJSON: on random documents (nested values,
// escapes, unicode, pretty-printed or compact), the events are those
// encoding/json finds in "data".
func TestJSONMemberMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(7); {
		case depth > 3 || k == 0:
			return r.IntN(1000) - 500
		case k == 1:
			return []string{"plain", `q"uote`, `back\slash`, "]}{[", "é€😀", "tab\tnl\n", ""}[r.IntN(7)]
		case k == 2:
			return r.IntN(2) == 0
		case k == 3:
			return nil
		case k == 4:
			a := make([]any, r.IntN(4))
			for i := range a {
				a[i] = gen(depth + 1)
			}
			return a
		default:
			o := map[string]any{}
			for i := range r.IntN(5) {
				o[[]string{"k", `"k"`, "data", "]", "ü"}[i]+string(rune('a'+i))] = gen(depth + 1)
			}
			return o
		}
	}
	for i := range 300 {
		events := make([]any, r.IntN(6))
		for j := range events {
			o := map[string]any{"n": j}
			for k := range r.IntN(4) {
				o[string(rune('a'+k))] = gen(1)
			}
			events[j] = o
		}
		doc := map[string]any{"type": "MTA", "meta": gen(1), "data": events, "fail": gen(1)}
		var b []byte
		if i%2 == 0 {
			b, _ = json.Marshal(doc)
		} else {
			b, _ = json.MarshalIndent(doc, " ", "\t")
		}
		var want struct{ Data []json.RawMessage }
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, err := scanMember(t, string(b), 16+r.IntN(100))
		if err != nil {
			t.Fatalf("doc %d: %v\n%s", i, err, b)
		}
		if len(got) != len(want.Data) {
			t.Fatalf("doc %d: %d events, want %d\n%s", i, len(got), len(want.Data), b)
		}
		for j := range got {
			if !bytes.Equal([]byte(got[j]), want.Data[j]) {
				t.Fatalf("doc %d event %d:\n got %s\nwant %s", i, j, got[j], want.Data[j])
			}
		}
	}
}
