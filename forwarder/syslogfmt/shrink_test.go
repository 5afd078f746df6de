package syslogfmt

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

var markerRE = regexp.MustCompile(`…\[truncated [0-9]+ bytes\]`)

func shrinkConfig(max int) Config {
	c := testConfig()
	c.MaxMessageBytes = max
	return c
}

// bigRecord builds a compact JSON object from ordered members.
func bigRecord(t testing.TB, typ string, members ...any) *source.Record {
	t.Helper()
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(members); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(members[i])
		v, err := json.Marshal(members[i+1])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return &source.Record{Type: typ, Time: fixedNow, JSON: []byte(b.String())}
}

// checkShrunk formats r with a small limit and checks the invariants of a
// shrunk json message; it returns the decoded mimecast object.
func checkShrunk(t *testing.T, max int, r *source.Record) (map[string]any, string) {
	t.Helper()
	f := mustNew(t, shrinkConfig(max))
	line, shrunk := format(t, f, r)
	if !shrunk {
		t.Fatalf("shrunk = false for a %d-byte record and limit %d", len(r.JSON), max)
	}
	if len(line) > max {
		t.Fatalf("message is %d bytes, limit %d", len(line), max)
	}
	if strings.ContainsAny(line, "\n\r\x00") {
		t.Fatal("LF, CR or NUL in message")
	}
	msg := msgOf(parse(t, line))
	if !json.Valid([]byte(msg)) {
		t.Fatalf("MSG is not valid JSON: %.500q", msg)
	}
	if !markerRE.MatchString(msg) {
		t.Fatalf("no marker in %.300q", msg)
	}
	obj := mimecastObject(t, msg)
	if obj["logType"] != r.Type {
		t.Fatalf("logType %v", obj["logType"])
	}
	return obj, msg
}

// checkKeys checks every original key is present, non-string values are
// unchanged, and each string value is either unchanged or a prefix of the
// original followed by exactly one marker.
func checkKeys(t *testing.T, obj map[string]any, r *source.Record) {
	t.Helper()
	orig := decodeObject(t, r.JSON)
	for k, ov := range orig {
		v, ok := obj[k]
		if !ok {
			t.Errorf("key %q lost", k)
			continue
		}
		os, isStr := ov.(string)
		if !isStr {
			if fmt.Sprint(v) != fmt.Sprint(ov) && !strings.Contains(fmt.Sprint(v), "truncated") {
				t.Errorf("key %q: non-string value changed", k)
			}
			continue
		}
		s := v.(string)
		if s == os {
			continue
		}
		loc := markerRE.FindStringIndex(s)
		if loc == nil || loc[1] != len(s) {
			t.Errorf("key %q: shortened value has no final marker: %.100q", k, s)
			continue
		}
		if !strings.HasPrefix(os, s[:loc[0]]) {
			t.Errorf("key %q: kept part is not a prefix of the original", k)
		}
		if strings.ContainsRune(s[:loc[0]], utf8.RuneError) && !strings.ContainsRune(os, utf8.RuneError) {
			t.Errorf("key %q: the cut produced an invalid character", k)
		}
	}
}

func TestBelowLimitNotShrunk(t *testing.T) {
	r := bigRecord(t, "receipt", "a", strings.Repeat("x", 60*1024), "b", 1)
	f := mustNew(t, testConfig())
	line, shrunk := format(t, f, r)
	want := `<134>1 2026-11-28T16:10:00.123Z fwd01 mimecast - receipt [origin software="mimecast-forwarder" swVersion="1.2.3"] {"mimecast":{"logType":"receipt",` + string(r.JSON[1:])
	want += "}"
	if shrunk || line != want {
		t.Fatalf("60 KB value under 65000: shrunk=%v, changed=%v", shrunk, line != want)
	}
	// Exactly at the limit: untouched; one byte less: shrunk.
	f = mustNew(t, shrinkConfig(len(line)))
	if l2, s := format(t, f, r); s || l2 != line {
		t.Errorf("at the limit: shrunk=%v", s)
	}
	f = mustNew(t, shrinkConfig(len(line)-1))
	if l2, s := format(t, f, r); !s || len(l2) > len(line)-1 {
		t.Errorf("one byte over: shrunk=%v len=%d", s, len(l2))
	}
}

func TestShrinkLargeValues(t *testing.T) {
	for _, size := range []int{60 * 1024, 200 * 1024, 5 << 20} {
		for _, max := range []int{8192, 65000} {
			if size < max {
				continue
			}
			t.Run(fmt.Sprintf("%d/%d", size, max), func(t *testing.T) {
				r := bigRecord(t, "process", "action", "Hld", "attachments", strings.Repeat("a", size),
					"small", "keep me", "n", 42, "null", nil, "arr", []any{"x", 1})
				obj, _ := checkShrunk(t, max, r)
				checkKeys(t, obj, r)
				if obj["small"] != "keep me" || obj["action"] != "Hld" {
					t.Errorf("short values changed: %v %v", obj["small"], obj["action"])
				}
				if got := len(obj["attachments"].(string)); got < max-600 {
					t.Errorf("value cut to %d bytes, more than needed for limit %d", got, max)
				}
			})
		}
	}
}

func TestShrinkAtEveryCutPoint(t *testing.T) {
	units := []string{"é", "€", "😀", `"`, `\`, "\u0001", "\u2028", "a"}
	for _, u := range units {
		// Mix the unit with ASCII so that the cut lands on every offset of
		// its encoding (as a JSON escape or a multibyte sequence).
		val := strings.Repeat("ab"+u+u+"c", 2000)
		r := bigRecord(t, "spam", "v", val, "k", "x")
		f0 := mustNew(t, shrinkConfig(100000))
		full, _ := format(t, f0, r)
		for max := 1000; max < 1040; max++ {
			if max >= len(full) {
				break
			}
			obj, _ := checkShrunk(t, max, r)
			checkKeys(t, obj, r)
		}
	}
	// \uXXXX escapes and surrogate pairs written by the source itself.
	js := `{"v":"` + strings.Repeat(`ab\u00e9\ud83d\ude00\"\\\/c`, 500) + `","k":"x"}`
	r := &source.Record{Type: "spam", Time: fixedNow, JSON: []byte(js)}
	for max := 1000; max < 1040; max++ {
		obj, msg := checkShrunk(t, max, r)
		checkKeys(t, obj, r)
		if strings.Contains(msg, `\ud83d…`) {
			t.Errorf("limit %d: high surrogate kept without its low half", max)
		}
	}
}

func TestShrinkManyMidSizedFields(t *testing.T) {
	var members []any
	for i := 0; i < 200; i++ {
		members = append(members, fmt.Sprintf("f%03d", i), strings.Repeat(string(rune('a'+i%26)), 1000+i*10))
	}
	members = append(members, "short", "s", "num", 3.5)
	r := bigRecord(t, "delivery", members...)
	obj, _ := checkShrunk(t, 65000, r)
	checkKeys(t, obj, r)
	if len(obj) != 203 {
		t.Errorf("%d keys, want 203", len(obj))
	}
	// Water-filling: every cut value keeps the same number of bytes (±4 for
	// boundaries), and the longest values were cut.
	minKept, maxKept := 1<<30, 0
	for i := 0; i < 200; i++ {
		s := obj[fmt.Sprintf("f%03d", i)].(string)
		if loc := markerRE.FindStringIndex(s); loc != nil {
			minKept, maxKept = min(minKept, loc[0]), max(maxKept, loc[0])
		}
	}
	if maxKept == 0 || maxKept-minKept > 4 {
		t.Errorf("kept lengths range %d-%d", minKept, maxKept)
	}
}

func TestShrinkNestedStrings(t *testing.T) {
	r := bigRecord(t, "receipt", "spamProcessingDetail", map[string]any{"info": strings.Repeat("z", 100000), "allow": true},
		"list", []any{strings.Repeat("y", 50000), "ok"})
	obj, _ := checkShrunk(t, 10000, r)
	d := obj["spamProcessingDetail"].(map[string]any)
	if d["allow"] != true || !markerRE.MatchString(d["info"].(string)) {
		t.Errorf("nested object: %v", d["allow"])
	}
	l := obj["list"].([]any)
	if len(l) != 2 || l[1] != "ok" || !markerRE.MatchString(l[0].(string)) {
		t.Errorf("nested array: %.80v", l)
	}
}

func TestShrinkFallback(t *testing.T) {
	var members []any
	for i := 0; i < 10000; i++ {
		members = append(members, fmt.Sprintf("n%05d", i), i)
	}
	r := bigRecord(t, "internal email protect", members...)
	for _, max := range []int{480, 65000} {
		obj, msg := checkShrunk(t, max, r)
		if obj["truncated"] != true || obj["originalBytes"] != json.Number(fmt.Sprint(len(r.JSON))) {
			t.Errorf("max %d: fallback fields %v %v", max, obj["truncated"], obj["originalBytes"])
		}
		head := obj["head"].(string)
		loc := markerRE.FindStringIndex(head)
		if loc == nil || !strings.HasPrefix(string(r.JSON), head[:loc[0]]) || loc[0] == 0 {
			t.Errorf("max %d: head is not a prefix of the record: %.100q", max, head)
		}
		if want := fmt.Sprintf("…[truncated %d bytes]", len(r.JSON)-loc[0]); head[loc[0]:] != want {
			t.Errorf("max %d: marker %q, want %q", max, head[loc[0]:], want)
		}
		if len(obj) != 4 {
			t.Errorf("max %d: fallback keys %d: %.200s", max, len(obj), msg)
		}
		if max == 65000 && len(msgOf(parse(t, mustFormat(t, max, r)))) < 60000 {
			t.Errorf("fallback wastes the budget")
		}
	}
	// A huge key cannot be shortened either.
	r = bigRecord(t, "av", strings.Repeat("k", 100000), "v")
	obj, _ := checkShrunk(t, 4096, r)
	if obj["truncated"] != true {
		t.Errorf("huge key: no fallback")
	}
	// A record with quotes, backslashes and multibyte text in the head.
	r = bigRecord(t, "av", "x", strings.Repeat(`"\é`, 10), strings.Repeat("k", 100000), 1)
	obj, _ = checkShrunk(t, 600, r)
	if h := obj["head"].(string); !strings.HasPrefix(h, `{"x":"\"\\é\"\\é`) || !utf8.ValidString(h) {
		t.Errorf("head %q", h)
	}
	// Longest header at the smallest limit still fits (checked by New).
	c := shrinkConfig(0)
	c.Hostname, c.AppName, c.ProcID, c.Version = strings.Repeat("h", 255), strings.Repeat("a", 48), strings.Repeat("p", 128), strings.Repeat("v", 32)
	c.MaxMessageBytes = c.worstCaseFallback()
	f := mustNew(t, c)
	r = bigRecord(t, strings.Repeat("type with spaces ", 10), strings.Repeat("k", 1000), 1)
	out, shrunk, err := f.Append(nil, r)
	if err != nil || !shrunk || len(out) > c.MaxMessageBytes || !json.Valid([]byte(msgOf(parse(t, string(out))))) {
		t.Errorf("worst case: err %v shrunk %v len %d > %d", err, shrunk, len(out), c.MaxMessageBytes)
	}
}

func mustFormat(t *testing.T, max int, r *source.Record) string {
	l, _ := format(t, mustNew(t, shrinkConfig(max)), r)
	return l
}

func TestShrinkRaw(t *testing.T) {
	c := shrinkConfig(2000)
	c.Body = BodyRaw
	f := mustNew(t, c)
	raw := "Subject=\\" + strings.Repeat("ü€😀\n", 1000) + "\\|Act=Acc"
	for _, max := range []int{2000, 2001, 2002, 2003} {
		c.MaxMessageBytes = max
		f = mustNew(t, c)
		line, shrunk := format(t, f, &source.Record{Type: "receipt", Time: fixedNow, JSON: []byte(`{}`), Raw: []byte(raw)})
		if !shrunk || len(line) > max || !utf8.ValidString(line) || strings.ContainsAny(line, "\n\r\x00") {
			t.Fatalf("max %d: shrunk %v len %d valid %v", max, shrunk, len(line), utf8.ValidString(line))
		}
		msg := msgOf(parse(t, line))
		loc := markerRE.FindStringIndex(msg)
		if loc == nil || loc[1] != len(msg) || !strings.HasPrefix(strings.ReplaceAll(raw, "\n", " "), msg[:loc[0]]) {
			t.Errorf("max %d: raw cut %q", max, msg[len(msg)-min(60, len(msg)):])
		}
		if want := fmt.Sprintf("…[truncated %d bytes]", len(raw)-loc[0]); msg[loc[0]:] != want {
			t.Errorf("max %d: marker %q want %q", max, msg[loc[0]:], want)
		}
	}
}

func TestCutPoint(t *testing.T) {
	tests := []struct {
		s     string
		limit int
		want  int
	}{
		{`abc`, 2, 2},
		{`a\"b`, 2, 1},           // inside \"
		{`a\\b`, 3, 3},           // after \\
		{`a\\\"b`, 4, 3},         // inside the second escape
		{`a\u00e9b`, 4, 1},       // inside \u00e9
		{`a\u00e9b`, 7, 7},       // after it
		{`a\ud83d\ude00b`, 7, 1}, // after a high surrogate only
		{`a\ud83d\ude00b`, 9, 1}, // inside the low surrogate
		{`a\ud83d\ude00b`, 13, 13},
		{"aé", 2, 1},
		{"a😀", 3, 1},
		{"a😀", 5, 5},
		{`a\\u0041`, 5, 5}, // \\ then literal u0041: no escape
	}
	for _, tc := range tests {
		if got := cutPoint([]byte(tc.s), tc.limit); got != tc.want {
			t.Errorf("cutPoint(%q, %d) = %d, want %d", tc.s, tc.limit, got, tc.want)
		}
	}
}
