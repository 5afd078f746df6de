package mimecast

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

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
