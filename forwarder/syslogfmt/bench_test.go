package syslogfmt

import (
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// benchRecord is a realistic ~1 KB record: the real API 2.0 receipt event
// with a spam verdict.
func benchRecord(b *testing.B) *source.Record {
	b.Helper()
	for _, s := range loadSamples(b) {
		if s.name == "v2-receipt-19" {
			r := s.rec
			return &r
		}
	}
	b.Fatal("sample v2-receipt-19 not found")
	return nil
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAppend(b *testing.B) {
	b.Run("scan", func(b *testing.B) { benchAppend(b, benchRecord(b)) })
	b.Run("fields", func(b *testing.B) { benchAppend(b, withFields(b, benchRecord(b))) })
}

func benchAppend(b *testing.B, r *source.Record) {
	f := mustNew(b, testConfig())
	buf := make([]byte, 0, 4096)
	out, _, err := f.Append(buf, r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, _, _ = f.Append(buf[:0], r)
	}
	reportRate(b)
}

func BenchmarkAppendParallel(b *testing.B) {
	r := benchRecord(b)
	f := mustNew(b, testConfig())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 4096)
		for pb.Next() {
			buf, _, _ = f.Append(buf[:0], r)
		}
	})
	reportRate(b)
}

// BenchmarkGoSyslogString is the same message through go-syslog's builder:
// setting the fields and String().
func BenchmarkGoSyslogString(b *testing.B) {
	r := benchRecord(b)
	c := testConfig()
	msg := `{"mimecast":{"logType":"receipt",` + string(r.JSON[1:]) + "}"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := &rfc5424.SyslogMessage{}
		m.SetPriority(uint8(c.Facility*8 + Severity(r)))
		m.SetVersion(1)
		ts := r.Time.UTC().Truncate(time.Millisecond)
		m.Timestamp = &ts
		m.SetHostname(c.Hostname)
		m.SetAppname(c.AppName)
		m.SetMsgID(MsgID(r.Type))
		m.SetParameter("origin", "software", Software)
		m.SetParameter("origin", "swVersion", c.Version)
		m.SetMessage(msg)
		if _, err := m.String(); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkGoSyslogStringOnly is String() alone on a prebuilt message.
func BenchmarkGoSyslogStringOnly(b *testing.B) {
	r := benchRecord(b)
	c := testConfig()
	m := &rfc5424.SyslogMessage{}
	m.SetPriority(uint8(c.Facility*8 + Severity(r)))
	m.SetVersion(1)
	ts := r.Time.UTC().Truncate(time.Millisecond)
	m.Timestamp = &ts
	m.SetHostname(c.Hostname)
	m.SetAppname(c.AppName)
	m.SetMsgID(MsgID(r.Type))
	m.SetParameter("origin", "software", Software)
	m.SetParameter("origin", "swVersion", c.Version)
	m.SetMessage(`{"mimecast":{"logType":"receipt",` + string(r.JSON[1:]) + "}")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.String(); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func BenchmarkSeverity(b *testing.B) {
	b.Run("scan", func(b *testing.B) { benchSeverity(b, benchRecord(b)) })
	b.Run("fields", func(b *testing.B) { benchSeverity(b, withFields(b, benchRecord(b))) })
}

func benchSeverity(b *testing.B, r *source.Record) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Severity(r)
	}
}

// withFields returns r with the Fields the API 2.0 source gives it.
func withFields(tb testing.TB, r *source.Record) *source.Record {
	tb.Helper()
	out, info, err := jsonl.NormalizeMembers(nil, r.JSON, 0, nil)
	if err != nil || len(info.Members) == 0 {
		tb.Fatalf("%s: %v", r.JSON, err)
	}
	c := *r
	c.JSON = out
	c.Fields = nil
	for _, m := range info.Members {
		c.Fields = append(c.Fields, source.Field{Key: m.KeyIn(out), Value: m.ValueIn(out)})
	}
	return &c
}

// BenchmarkAppendShrink200KB formats a record with a 200 KB value that is
// shrunk to 65000 bytes.
func BenchmarkAppendShrink200KB(b *testing.B) {
	r := bigRecord(b, "process", "action", "Hld", "attachments", strings.Repeat("aé\"", 200*1024/4), "n", 1)
	f := mustNew(b, testConfig())
	buf := make([]byte, 0, 70000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var shrunk bool
		buf, shrunk, _ = f.Append(buf[:0], r)
		if !shrunk {
			b.Fatal("not shrunk")
		}
	}
	reportRate(b)
}
