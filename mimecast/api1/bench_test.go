package api1

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// benchBatch spools a zip of 10 members × 1000 events and returns a batch
// reading it.
func benchBatch(b *testing.B, keyValue bool) (*fileBatch, int) {
	b.Helper()
	event := mimecasttest.Lines(b, mimecasttest.V1JSONElastic)[0]
	line := mimecasttest.KeyValueLine(b)
	var members []zipMember
	const perMember = 1000
	for i, p := range []string{"receipt_", "process_", "delivery_", "av_", "spameventthread_", "iep_", "impersonation_", "ttp_url_", "ttp_ap_", "jrnl_"} {
		var buf bytes.Buffer
		if keyValue {
			for range perMember {
				buf.Write(line)
				buf.WriteByte('\n')
			}
			members = append(members, zipMember{name: fmt.Sprintf("%s%d.log", p, i), data: buf.Bytes()})
			continue
		}
		buf.WriteString(`{"type":"MTA","data":[`)
		for j := range perMember {
			if j > 0 {
				buf.WriteString(",\n")
			}
			buf.Write(event)
		}
		buf.WriteString("]}")
		members = append(members, zipMember{name: fmt.Sprintf("%s%d.json", p, i), data: buf.Bytes()})
	}
	return spoolBatch(b, makeZip(b, members...)), 10 * perMember
}

// spoolBatch writes zipped to a file and returns a batch reading it.
func spoolBatch(b *testing.B, zipped []byte) *fileBatch {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.zip")
	if err := os.WriteFile(path, zipped, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	fi, _ := f.Stat()
	m := metrics.New(prometheus.NewRegistry(), "b", "b")
	src := &Source{m: m, log: discardLogger(), skip: mimecast.NewSkipReporter(StreamName, m, discardLogger())}
	fb := &fileBatch{src: src, f: f, size: fi.Size(), name: "bench.zip"}
	b.Cleanup(func() { fb.Close() })
	return fb
}

// simulatorBatch spools the simulator's API 1.0 file 0 in format (ten
// members of 2000 events each, every event different, as the bench
// command serves them) and returns a batch reading it.
func simulatorBatch(b *testing.B, format string) (*fileBatch, int) {
	b.Helper()
	const perMember = 2000
	sim, err := simulator.New(simulator.Options{RecordsPerFile: perMember, LiveInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	zipped, err := sim.V1Zip(0, format)
	if err != nil {
		b.Fatal(err)
	}
	return spoolBatch(b, zipped), len(simulator.AllTypes()) * perMember
}

func benchmarkRecords(b *testing.B, keyValue bool) {
	benchmarkRecordsMode(b, keyValue, false)
}

func benchmarkRecordsMode(b *testing.B, keyValue, rawOnly bool) {
	fb, n := benchBatch(b, keyValue)
	runRecords(b, fb, n, rawOnly)
}

func runRecords(b *testing.B, fb *fileBatch, n int, rawOnly bool) {
	fb.src.cfg.RawOnly = rawOnly
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		got := 0
		if err := fb.Records(ctx, func(*source.Record) error { got++; return nil }); err != nil || got != n {
			b.Fatalf("%d records, %v", got, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// BenchmarkRecordsJSON reads a 10-member json zip of 10000 events.
func BenchmarkRecordsJSON(b *testing.B) { benchmarkRecords(b, false) }

// BenchmarkRecordsKeyValue reads a 10-member key_value zip of 10000 lines.
func BenchmarkRecordsKeyValue(b *testing.B) { benchmarkRecords(b, true) }

// BenchmarkRecordsKeyValueRawOnly is BenchmarkRecordsKeyValue with
// RawOnly (SYSLOG_BODY=raw): no JSON built.
func BenchmarkRecordsKeyValueRawOnly(b *testing.B) { benchmarkRecordsMode(b, true, true) }

// BenchmarkSimulatorKeyValue reads the simulator's key_value zip (20000
// distinct events) building JSON.
func BenchmarkSimulatorKeyValue(b *testing.B) {
	fb, n := simulatorBatch(b, "key_value")
	runRecords(b, fb, n, false)
}

// BenchmarkSimulatorKeyValueRawOnly is BenchmarkSimulatorKeyValue with
// RawOnly (SYSLOG_BODY=raw).
func BenchmarkSimulatorKeyValueRawOnly(b *testing.B) {
	fb, n := simulatorBatch(b, "key_value")
	runRecords(b, fb, n, true)
}

// benchmarkFormatted reads the simulator's key_value zip and formats
// every record as a syslog message (as the pipeline does before sending),
// with GOMAXPROCS 1 and 2: with 2 the members are inflated and parsed
// ahead while the records are formatted.
func benchmarkFormatted(b *testing.B, rawOnly bool) {
	cfg := syslogfmt.DefaultConfig()
	cfg.Hostname = "bench"
	if rawOnly {
		cfg.Body = syslogfmt.BodyRaw
	}
	f, err := syslogfmt.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			fb, n := simulatorBatch(b, "key_value")
			fb.src.cfg.RawOnly = rawOnly
			var msg []byte
			var size int
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				got := 0
				err := fb.Records(ctx, func(r *source.Record) error {
					var err error
					msg, _, err = f.Append(msg[:0], r)
					size += len(msg)
					got++
					return err
				})
				if err != nil || got != n {
					b.Fatalf("%d records, %v", got, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// BenchmarkSimulatorFormattedRaw: the simulator's key_value zip to syslog
// messages with SYSLOG_BODY=raw.
func BenchmarkSimulatorFormattedRaw(b *testing.B) { benchmarkFormatted(b, true) }

// BenchmarkSimulatorFormattedJSON: the same with SYSLOG_BODY=json.
func BenchmarkSimulatorFormattedJSON(b *testing.B) { benchmarkFormatted(b, false) }
