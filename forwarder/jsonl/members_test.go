package jsonl

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestNormalizeMembers checks the positions on a line with whitespace,
// escapes, replaced invalid UTF-8, nested values and a repeated name, read
// back with KeyIn and ValueIn.
func TestNormalizeMembers(t *testing.T) {
	in := "{ \"a\" : \"x\xffy\" , \"k\\\"q\": {\"n\" : [1, \"}\"]}, \"a\":-1.5e3,\"b\\u00e9\":null , \"e\":\"\",\"t\":true}"
	out, info, err := NormalizeMembers(nil, []byte(in), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"a", `x\ufffdy`}, {`k\"q`, `{"n":[1,"}"]}`}, {"a", "-1.5e3"}, {`b\u00e9`, "null"}, {"e", ""}, {"t", "true"}}
	var got [][2]string
	for _, m := range info.Members {
		got = append(got, [2]string{string(m.KeyIn(out)), string(m.ValueIn(out))})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("members of %s:\n got %q\nwant %q", out, got, want)
	}
	if info.Replaced != 1 {
		t.Errorf("replaced %d, want 1", info.Replaced)
	}

	// An empty object has no members; an error reports none.
	if _, info, err := NormalizeMembers(nil, []byte(`{}`), 0, nil); err != nil || len(info.Members) != 0 {
		t.Errorf("{}: %v, %v", info.Members, err)
	}
	if _, info, err := NormalizeMembers(nil, []byte(`{"a":1,"b":}`), 0, make([]Member, 5)); err == nil || info.Members != nil {
		t.Errorf("invalid: %v, %v", info.Members, err)
	}
	// NormalizeInfo does not locate them.
	if _, info, _ := NormalizeInfo(nil, []byte(`{"a":1}`), 0); info.Members != nil {
		t.Errorf("NormalizeInfo located members: %v", info.Members)
	}
}

// TestNormalizeMembersLimit: up to MaxMembers top-level members are
// located, an object with more reports none (nested members do not count).
func TestNormalizeMembersLimit(t *testing.T) {
	obj := func(n int) []byte {
		var b strings.Builder
		b.WriteString(`{"nested":{`)
		for i := range 2 * MaxMembers {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"n%d":%d`, i, i)
		}
		b.WriteString(`}`)
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, `,"k%d":%d`, i, i)
		}
		b.WriteString(`}`)
		return []byte(b.String())
	}
	out, info, err := NormalizeMembers(nil, obj(MaxMembers), 0, nil)
	if err != nil || len(info.Members) != MaxMembers {
		t.Fatalf("%d members: located %d, %v", MaxMembers, len(info.Members), err)
	}
	if last := info.Members[MaxMembers-1]; string(last.KeyIn(out)) != fmt.Sprintf("k%d", MaxMembers-1) {
		t.Errorf("last member %q", last.KeyIn(out))
	}
	buf := info.Members
	if _, info, err := NormalizeMembers(nil, obj(MaxMembers+1), 0, buf); err != nil || info.Members != nil {
		t.Errorf("%d members: located %d, %v", MaxMembers+1, len(info.Members), err)
	}
	if walk := appendMembers(nil, out); len(walk) != MaxMembers {
		t.Errorf("appendMembers: %d", len(walk))
	}
	if walk := appendMembers(nil, obj(3*MaxMembers)); len(walk) != MaxMembers+1 {
		t.Errorf("appendMembers stops at %d, want %d", len(walk), MaxMembers+1)
	}
}

// TestScannerMembers: Scanner.Normalize locates the members of every line
// in a buffer it reuses (no allocation once warm).
func TestScannerMembers(t *testing.T) {
	line := `{"accountId":"A","nested":{"x":[1,2,"s"]},"timestamp":1731499059314,"action":"Hold"}` + "\n"
	data := []byte(strings.Repeat(line, 200))
	s := NewScanner(bytes.NewReader(data), 0)
	check := func() {
		if !s.Scan() {
			t.Fatalf("no line: %v", s.Err())
		}
		out, info, err := s.Normalize()
		if err != nil || len(info.Members) != 4 || string(info.Members[3].ValueIn(out)) != "Hold" ||
			string(info.Members[1].ValueIn(out)) != `{"x":[1,2,"s"]}` || !info.TimeOK {
			t.Fatalf("line %d: %v, %v", s.LineNo(), info, err)
		}
	}
	check()
	if n := testing.AllocsPerRun(100, check); n != 0 {
		t.Errorf("Scanner.Normalize allocates %v times per line", n)
	}
}
