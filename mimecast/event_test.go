package mimecast

import (
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func TestNormalizeEvent(t *testing.T) {
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
		got, err := NormalizeEvent(make([]byte, 0, 4), []byte(tc.in))
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
		checkAgainstEncodingJSON(t, []byte(tc.in)) // NormalizeEventTime agrees
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

// BenchmarkNormalizeEventTimeOnePass is BenchmarkNormalizeEventTime with
// the one-pass NormalizeEventTime the API 2.0 source uses.
func BenchmarkNormalizeEventTimeOnePass(b *testing.B) {
	lines := mimecasttest.V2CGLines(b)
	var total int
	for _, l := range lines {
		total += len(l)
	}
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	b.SetBytes(int64(total / len(lines)))
	i := 0
	for b.Loop() {
		out, _, ok, err := NormalizeEventTime(buf, lines[i%len(lines)])
		if err != nil || !ok {
			b.Fatal(err, ok)
		}
		buf = out[:0]
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
}
