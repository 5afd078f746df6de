package mimecast

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func TestSamplesNormalizeAndTime(t *testing.T) {
	lines := mimecasttest.V2CGLines(t)
	for i, l := range lines {
		out, err := NormalizeEvent(nil, l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if _, ok := EventTime(out); !ok {
			t.Errorf("line %d: no time", i+1)
		}
	}
}

func TestSkipReporter(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), "t", "r")
	var logs bytes.Buffer
	r := NewSkipReporter("url-protect", m, slog.New(slog.NewTextHandler(&logs, nil)))
	line := []byte(`{"broken": "` + strings.Repeat("A", 1000) + "TAIL")
	r.Record(metrics.ReasonInvalidJSON, "file 2 of 3 (https://h/p)", 17, line, os.ErrInvalid)
	r.File(metrics.ReasonCorruptArchive, "file 3 of 3", 40, os.ErrClosed)
	if got := value(t, m.RecordsSkipped.WithLabelValues("url-protect", metrics.ReasonInvalidJSON)); got != 1 {
		t.Errorf("records_skipped = %v", got)
	}
	if got := value(t, m.FilesSkipped.WithLabelValues("url-protect", metrics.ReasonCorruptArchive)); got != 1 {
		t.Errorf("files_skipped = %v", got)
	}
	out := logs.String()
	for _, want := range []string{"level=WARN", "line=17", "file 2 of 3", "line=40", "reason=corrupt_archive", `{\"broken\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "TAIL") || strings.Count(out, "A") > 250 {
		t.Errorf("log holds the whole line:\n%s", out)
	}
}

// BenchmarkNormalizeEventTime measures the per-record work of both APIs:
// validate + compact one real event, then read its time.
func BenchmarkNormalizeEventTime(b *testing.B) {
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
		out, err := NormalizeEvent(buf, lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := EventTime(out); !ok {
			b.Fatal("no time")
		}
		buf = out[:0]
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkEventTime measures EventTime alone on a compact event.
func BenchmarkEventTime(b *testing.B) {
	lines := mimecasttest.V2CGLines(b)
	objs := make([][]byte, len(lines))
	for i, l := range lines {
		objs[i], _ = NormalizeEvent(nil, l)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := EventTime(objs[i%len(objs)]); !ok {
			b.Fatal("no time")
		}
		i++
	}
}
