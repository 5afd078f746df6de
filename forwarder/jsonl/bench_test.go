package jsonl

import (
	"errors"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func TestSamplesNormalizeAndTime(t *testing.T) {
	lines := mimecasttest.V2CGLines(t)
	for i, l := range lines {
		out, err := Normalize(nil, l)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if _, ok := EventTime(out); !ok {
			t.Errorf("line %d: no time", i+1)
		}
	}
}

// benchRecords runs step on the real API 2.0 sample lines in turn, with one
// reused output buffer, and reports bytes and records per second.
func benchRecords(b *testing.B, step func(buf, line []byte) ([]byte, error)) {
	benchLines(b, mimecasttest.V2CGLines(b), step)
}

// compactLines returns the API 2.0 sample lines compacted, as the batch
// files of the simulator (and of Mimecast, one event per line) are.
func compactLines(b *testing.B) [][]byte {
	var lines [][]byte
	for _, l := range mimecasttest.V2CGLines(b) {
		out, err := Normalize(nil, l)
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, out)
	}
	return lines
}

func benchLines(b *testing.B, lines [][]byte, step func(buf, line []byte) ([]byte, error)) {
	var total int
	for _, l := range lines {
		total += len(l)
	}
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	b.SetBytes(int64(total / len(lines)))
	i := 0
	for b.Loop() {
		out, err := step(buf, lines[i%len(lines)])
		if err != nil {
			b.Fatal(err)
		}
		buf = out[:0]
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNormalizeTime measures the per-record work of both APIs:
// validate + compact one real event, then read its time.
func BenchmarkNormalizeTime(b *testing.B) {
	benchRecords(b, func(buf, line []byte) ([]byte, error) {
		out, err := Normalize(buf, line)
		if err != nil {
			return nil, err
		}
		if _, ok := EventTime(out); !ok {
			return nil, errors.New("no time")
		}
		return out, nil
	})
}

// BenchmarkNormalizeTimeOnePass is BenchmarkNormalizeTime with the one-pass
// NormalizeTime the API 2.0 source uses.
func BenchmarkNormalizeTimeOnePass(b *testing.B) {
	benchRecords(b, func(buf, line []byte) ([]byte, error) {
		out, _, ok, err := NormalizeTime(buf, line)
		if err == nil && !ok {
			err = errors.New("no time")
		}
		return out, err
	})
}

// BenchmarkEventTime measures EventTime alone on a compact event.
func BenchmarkEventTime(b *testing.B) {
	lines := mimecasttest.V2CGLines(b)
	objs := make([][]byte, len(lines))
	for i, l := range lines {
		objs[i], _ = Normalize(nil, l)
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

// BenchmarkNormalizeMembers is BenchmarkNormalizeTimeOnePass that also
// locates the top-level members, as the API 2.0 source does
// (Scanner.Normalize).
func BenchmarkNormalizeMembers(b *testing.B) {
	b.Run("spaced", func(b *testing.B) { benchNormalizeMembers(b, mimecasttest.V2CGLines(b)) })
	b.Run("compact", func(b *testing.B) { benchNormalizeMembers(b, compactLines(b)) })
}

func benchNormalizeMembers(b *testing.B, lines [][]byte) {
	var members []Member
	benchLines(b, lines, func(buf, line []byte) ([]byte, error) {
		out, info, err := NormalizeMembers(buf, line, 0, members)
		if err == nil && !info.TimeOK {
			err = errors.New("no time")
		}
		if len(info.Members) > 0 {
			members = info.Members
		}
		return out, err
	})
}
