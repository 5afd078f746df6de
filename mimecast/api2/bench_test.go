package api2

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// BenchmarkBatchRecords measures a whole batch file through Records over
// loopback HTTP: download, gunzip, split, jsonl.Normalize and EventTime.
// The file is the real samples repeated to about 16 MiB uncompressed.
func BenchmarkBatchRecords(b *testing.B) {
	data := mimecasttest.ReadFile(b, mimecasttest.V2CG)
	var plain bytes.Buffer
	for plain.Len() < 16<<20 {
		plain.Write(data)
	}
	nLines := strings.Count(plain.String(), "\n")
	api := newFakeAPI(b)
	api.files["big.gz"] = gz(b, plain.Bytes())
	api.setPage(true, "", "big.gz")
	m := metrics.New(prometheus.NewRegistry(), "b", "r")
	srcs, err := NewSources(Config{BaseURL: api.srv.URL, ClientID: testID, ClientSecret: testSecret,
		Types: []string{"receipt"}}, m, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	batch, err := srcs[0].Fetch(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(plain.Len()))
	records := 0
	for b.Loop() {
		n := 0
		if err := batch.Records(context.Background(), func(*source.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != nLines {
			b.Fatal(fmt.Sprintf("%d records, want %d", n, nLines))
		}
		records += n
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	srcs[0].(*Source).api.files.HTTPClient().CloseIdleConnections()
	srcs[0].(*Source).api.client.HTTPClient().CloseIdleConnections()
}

// BenchmarkGunzipSplit measures gunzip + line splitting + jsonl.Normalize +
// EventTime without HTTP.
func BenchmarkGunzipSplit(b *testing.B) {
	data := mimecasttest.ReadFile(b, mimecasttest.V2CG)
	var plain bytes.Buffer
	for plain.Len() < 16<<20 {
		plain.Write(data)
	}
	z := gz(b, plain.Bytes())
	b.ReportAllocs()
	b.SetBytes(int64(plain.Len()))
	var buf []byte
	for b.Loop() {
		zr, err := gzipReader(bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		sc := jsonl.NewScanner(zr, 0)
		for sc.Scan() {
			out, err := jsonl.Normalize(buf, sc.Bytes())
			if err != nil {
				b.Fatal(err)
			}
			jsonl.EventTime(out)
			buf = out[:0]
		}
		if sc.Err() != nil {
			b.Fatal(sc.Err())
		}
	}
}

// BenchmarkAppendFields measures turning the located members of the real
// samples into source.Record.Fields.
func BenchmarkAppendFields(b *testing.B) {
	type ev struct {
		out     []byte
		members []jsonl.Member
	}
	var evs []ev
	for _, l := range mimecasttest.V2CGLines(b) {
		out, info, err := jsonl.NormalizeMembers(nil, l, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, ev{out, info.Members})
	}
	var fields []source.Field
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := evs[i%len(evs)]
		fields = appendFields(fields[:0], e.out, e.members)
		i++
	}
}
