package jsonl

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: `{"a": 1, "b" : [1, 2], "c": {"d": "x y"}}`, want: `{"a":1,"b":[1,2],"c":{"d":"x y"}}`},
		{in: "\xEF\xBB\xBF{\"a\":\"\\u00e9<>&\\n\u00e9\"}\r", want: `{"a":"\u00e9<>&\n` + "\u00e9" + `"}`},
		{in: "  {\"k\":null}  ", want: `{"k":null}`},
		{in: `[1,2]`, err: "not a JSON object"},
		{in: `"str"`, err: "not a JSON object"},
		{in: ``, err: "empty line"},
		{in: "\r", err: "empty line"},
		{in: `{"a":1`, err: "invalid JSON"},
		{in: `{"a":1}{"b":2}`, err: "invalid JSON"},
		{in: `{"a":1} x`, err: "invalid JSON"},
		{in: "{\"a\":\"tab\tinside\"}", err: "invalid JSON"},
	} {
		got, err := Normalize(make([]byte, 0, 4), []byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			if len(got) != 0 {
				t.Errorf("%q: returned %q on error", tc.in, got)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestNormalizeInvalidUTF8 checks the cases: invalid bytes
// (\xff\xfe), an overlong encoding (\xc0\xaf) and an encoded surrogate
// become \ufffd each, in values and keys, are counted, and the result is
// valid UTF-8; the limit refuses an event that the replacements would make
// too long.
func TestNormalizeInvalidUTF8(t *testing.T) {
	in := "{\"a\": \"x\xff\xfey\", \"k\xc0\xaf\":\"\xed\xa0\x80\u00e9\", \"ok\":\"\u00e9\xc3\xa9\", \"timestamp\":1731499059314}"
	want := `{"a":"x\ufffd\ufffdy","k\ufffd\ufffd":"\ufffd\ufffd\ufffd` + "\u00e9" + `","ok":"` + "\u00e9\u00e9" + `","timestamp":1731499059314}`
	out, info, err := NormalizeInfo(nil, []byte(in), 0)
	if err != nil || string(out) != want {
		t.Fatalf("got %q, %v; want %q", out, err, want)
	}
	if !utf8.Valid(out) {
		t.Errorf("%q is not valid UTF-8", out)
	}
	if info.Replaced != 7 || !info.TimeOK || info.Time.UnixMilli() != 1731499059314 {
		t.Errorf("info = %+v, want 7 replaced and the timestamp", info)
	}
	if out, err := Normalize(nil, []byte(in)); err != nil || string(out) != want {
		t.Errorf("Normalize: %q, %v", out, err)
	}

	// Valid input is untouched and counts nothing.
	if _, info, err := NormalizeInfo(nil, []byte(`{"a":"\u00e9 `+"\u00e9\U0001F600"+`"}`), 0); err != nil || info.Replaced != 0 {
		t.Errorf("valid UTF-8: %+v, %v", info, err)
	}

	// limit: 10 bad bytes grow the line by 50 bytes.
	line := []byte(`{"a":"` + strings.Repeat("\xff", 10) + `"}`)
	if out, _, err := NormalizeInfo(nil, line, len(line)+50); err != nil || len(out) != len(line)+50 {
		t.Errorf("limit just large enough: %q, %v", out, err)
	}
	dst := make([]byte, 0, len(line))
	out, _, err = NormalizeInfo(dst, line, len(line)+49)
	if !errors.Is(err, ErrTooLarge) || len(out) != 0 {
		t.Errorf("limit one byte short: %q, %v; want ErrTooLarge", out, err)
	}
	if cap(out) != cap(dst) {
		t.Errorf("dst grew to %d bytes for an event refused as too large", cap(out))
	}
}

func TestEventTime(t *testing.T) {
	ms := time.UnixMilli(1731499059314).UTC()
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{`{"timestamp":1731499059314}`, ms, true},
		{`{"timestamp":"1731499059314"}`, ms, true},
		{`{"a":{"timestamp":1},"b":"\"timestamp\":2","timestamp":1731499059314}`, ms, true},
		{`{"nested":{"datetime":"2017-05-26T16:47:41+0100"}}`, time.Time{}, false},
		{`{"s":"datetime","x":["timestamp",{"timestamp":5}]}`, time.Time{}, false},
		{`{"datetime":"2017-05-26T16:47:41+0100"}`, time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC), true},
		{`{"datetime":"2022-05-23T12:20:44-0400"}`, time.Date(2022, 5, 23, 16, 20, 44, 0, time.UTC), true},
		{`{"datetime":"2022-05-23T12:20:44Z"}`, time.Date(2022, 5, 23, 12, 20, 44, 0, time.UTC), true},
		{`{"datetime":"2022-05-23T12:20:44+01:00"}`, time.Date(2022, 5, 23, 11, 20, 44, 0, time.UTC), true},
		{`{"datetime":"2022-05-23T12:20:44"}`, time.Date(2022, 5, 23, 12, 20, 44, 0, time.UTC), true},
		{`{"datetime":"2022-05-23 12:20:44.123+0000"}`, time.Date(2022, 5, 23, 12, 20, 44, 123e6, time.UTC), true},
		{`{"datetime":"yesterday"}`, time.Time{}, false},
		{`{"datetime":"2022-05-23T12:20:44+1"}`, time.Time{}, false},
		{`{"timestamp":"soon","datetime":"2022-05-23T12:20:44Z"}`, time.Date(2022, 5, 23, 12, 20, 44, 0, time.UTC), true},
		{`{"datetime":"2022-05-23T12:20:44Z","timestamp":1731499059314}`, ms, true},
		{`{ "timestamp" : 1731499059314 }`, ms, true},
		{`{"timestamp":1.5e3}`, time.UnixMilli(1500).UTC(), true},
		{`{"timestamp":null}`, time.Time{}, false},
		{`{"timestamp":true}`, time.Time{}, false},
		{`[{"timestamp":1}]`, time.Time{}, false},
		{`{}`, time.Time{}, false},
		{`{"a":`, time.Time{}, false},
	} {
		checkAgainstEncodingJSON(t, []byte(tc.in)) // NormalizeTime agrees
		got, ok := EventTime([]byte(tc.in))
		if ok != tc.ok || !got.Equal(tc.want) || (ok && got.Location() != time.UTC) {
			t.Errorf("EventTime(%s) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEventTimeAllocs(t *testing.T) {
	obj := []byte(`{"accountId":"A","nested":{"x":[1,2,"s"]},"timestamp":1731499059314,"other":"v"}`)
	if n := testing.AllocsPerRun(100, func() { EventTime(obj) }); n != 0 {
		t.Errorf("EventTime allocates %v times per call", n)
	}
}

// TestTimeScanMatchesEventTime: the members of an object offered one by one
// as strings give the time EventTime reads from the object.
func TestTimeScanMatchesEventTime(t *testing.T) {
	for _, members := range [][][2]string{
		{{"datetime", "2017-05-26T16:47:41+0100"}, {"acc", "C0A0"}},
		{{"acc", "x"}, {"timestamp", "1715767102752"}, {"datetime", "2017-05-26T16:47:41+0100"}},
		{{"datetime", "not a time"}, {"timestamp", "2024-05-15T10:00:00Z"}},
		{{"timestamp", "junk"}, {"datetime", "2020-07-27 00:39:59"}},
		{{"timestamp", "-1000"}},
		{{"timestamp", "1.5e3"}},
		{{"datetime", "bad"}},
		{{"other", "2017-05-26T16:47:41+0100"}},
		{},
	} {
		obj := []byte{'{'}
		var ts TimeScan
		for i, m := range members {
			if i > 0 {
				obj = append(obj, ',')
			}
			obj = append(obj, `"`+m[0]+`":"`+m[1]+`"`...)
			ts.String([]byte(m[0]), []byte(m[1]))
		}
		obj = append(obj, '}')
		wantT, wantOK := EventTime(obj)
		gotT, gotOK := ts.Result()
		if gotOK != wantOK || !gotT.Equal(wantT) {
			t.Errorf("%s: TimeScan = %v %v, EventTime = %v %v", obj, gotT, gotOK, wantT, wantOK)
		}
	}
	var ts TimeScan
	ts.String([]byte("datetime"), []byte("2017-05-26T16:47:41+0100"))
	if got, ok := ts.Result(); !ok || !got.Equal(time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC)) {
		t.Errorf("datetime: %v %v", got, ok)
	}
}
