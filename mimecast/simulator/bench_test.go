package simulator

import (
	"compress/gzip"
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkWriteFile measures generating + gzipping a batch file in memory.
func BenchmarkWriteFile(b *testing.B) {
	const records = 100_000
	s, err := New(Options{RecordsPerFile: records, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var bytes int64
	for i := 0; b.Loop(); i++ {
		cw := &countWriter{w: io.Discard}
		if _, err := s.writeFile(cw, s.file(allTypes[i%len(allTypes)], i)); err != nil {
			b.Fatal(err)
		}
		bytes += cw.n
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/float64(b.N)/records, "gzbytes/record")
}

// BenchmarkServeFileHTTP measures a download over loopback HTTP, including
// the client's gunzip.
func BenchmarkServeFileHTTP(b *testing.B) {
	const records = 100_000
	s, err := NewServer(Options{RecordsPerFile: records, Now: func() time.Time { return t0 }, Types: []string{"receipt"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u := s.presign(s.URL(), s.file("receipt", 3), t0).URL
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		n, _, err := countLines(zr)
		resp.Body.Close()
		if err != nil || n != records {
			b.Fatalf("%d lines, %v", n, err)
		}
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkBigFileHTTP streams one 2,000,000-record file over loopback and
// reports the peak HeapInuse seen while reading it (bounded memory).
func BenchmarkBigFileHTTP(b *testing.B) {
	const records = 2_000_000
	s, err := NewServer(Options{RecordsPerFile: records, Now: func() time.Time { return t0 }, Types: []string{"url protect"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u := s.presign(s.URL(), s.file("url protect", 1), t0).URL
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		n, heap, err := countLines(zr)
		resp.Body.Close()
		if err != nil || n != records {
			b.Fatalf("%d lines, %v", n, err)
		}
		peak = max(peak, heap)
	}
	b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(peak)/(1<<20), "peakHeapMiB")
}
