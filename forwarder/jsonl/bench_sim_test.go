package jsonl_test

import (
	"errors"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// BenchmarkNormalizeMembersSimulated is BenchmarkNormalizeMembers on the
// events the simulator serves to the `bench` command (compact lines of the
// ten API 2.0 types, with escapes and non-ASCII text in about half of them),
// 100 of each type in turn.
func BenchmarkNormalizeMembersSimulated(b *testing.B) {
	sim, err := simulator.New(simulator.Options{RecordsPerFile: 100})
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	var total int
	for n := range 100 {
		for _, typ := range mimecast.Types {
			l := sim.Event(typ, 0, n)
			if l == nil {
				b.Fatalf("no event %s/%d", typ, n)
			}
			lines = append(lines, l)
			total += len(l)
		}
	}
	buf := make([]byte, 0, 8192)
	var members []jsonl.Member
	b.ReportAllocs()
	b.SetBytes(int64(total / len(lines)))
	i := 0
	for b.Loop() {
		out, info, err := jsonl.NormalizeMembers(buf, lines[i%len(lines)], 0, members)
		if err == nil && !info.TimeOK {
			err = errors.New("no time")
		}
		if err != nil {
			b.Fatal(err)
		}
		if len(info.Members) > 0 {
			members = info.Members
		}
		buf = out[:0]
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
}
