package mimecast

import (
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// PreviewBytes is the most bytes of a bad line that SkipReporter logs.
const PreviewBytes = 200

// SkipReporter counts and logs what a source skips: bad records
// (metrics.RecordsSkipped{stream,reason}) and unreadable files
// (metrics.FilesSkipped{stream,reason}). Logs are at warn level and name
// the location (file and line number); a bad line is logged as its first
// PreviewBytes bytes at most. Create it with NewSkipReporter; it is safe
// for concurrent use.
type SkipReporter struct {
	stream string
	m      *metrics.Metrics
	log    *slog.Logger
}

// NewSkipReporter returns a reporter for stream. log must not be nil.
func NewSkipReporter(stream string, m *metrics.Metrics, log *slog.Logger) *SkipReporter {
	return &SkipReporter{stream: stream, m: m, log: log}
}

// Record counts one skipped record for reason (a metrics.Reason* constant)
// and logs where it was: file names the file (a URL already redacted with
// RedactURL, a zip member name, or a description such as "file 2 of 5"),
// lineNo its 1-based line number (0 if none). line is the offending input,
// of which at most PreviewBytes bytes are logged; err says why.
func (s *SkipReporter) Record(reason, file string, lineNo int, line []byte, err error) {
	s.m.RecordsSkipped.WithLabelValues(s.stream, reason).Inc()
	s.log.Warn("skipping bad record",
		"stream", s.stream, "reason", reason, "file", file, "line", lineNo,
		"error", errString(err), "preview", Preview(line))
}

// File counts one skipped file (or the rest of a file from the point of
// damage) for reason and logs it; lineNo is the last line read (0 if none).
func (s *SkipReporter) File(reason, file string, lineNo int, err error) {
	s.m.FilesSkipped.WithLabelValues(s.stream, reason).Inc()
	s.log.Warn("skipping batch file",
		"stream", s.stream, "reason", reason, "file", file, "line", lineNo,
		"error", errString(err))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return RedactString(err.Error())
}

// Preview returns at most the first PreviewBytes bytes of b as valid UTF-8
// text, with "…" appended when cut; safe to log.
func Preview(b []byte) string {
	cut := len(b) > PreviewBytes
	if cut {
		b = b[:PreviewBytes]
	}
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if cut {
		s += "…"
	}
	return s
}
