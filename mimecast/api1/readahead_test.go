package api1

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"go.uber.org/goleak"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/readahead"
)

// withGOMAXPROCS runs fn with GOMAXPROCS n: 1 reads members directly, 2
// through readahead (readahead.Enabled).
func withGOMAXPROCS(t *testing.T, n int, fn func(t *testing.T)) {
	t.Run(fmt.Sprintf("GOMAXPROCS=%d", n), func(t *testing.T) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
		if readahead.Enabled() != (n > 1) {
			t.Fatalf("readahead.Enabled() = %v with GOMAXPROCS=%d", readahead.Enabled(), n)
		}
		fn(t)
	})
}

// keyValueLines returns n distinct key_value lines of member.
func keyValueLines(member string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "datetime=2017-05-26T16:47:41+0100|aCode=%s-%d|acc=C0A0|Subject=\\line %d of %s, padded to be a little longer\\|Act=Acc\n", member, i, i, member)
	}
	return b.Bytes()
}

// rawMember is a zip member written as given (method Deflate): its
// compressed bytes, sizes and CRC may disagree with each other.
type rawMember struct {
	name             string
	compressed       []byte
	uncompressedSize int
	crc              uint32
}

func deflate(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeRawZip(t *testing.T, members ...rawMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Deflate, CRC32: m.crc,
			CompressedSize64: uint64(len(m.compressed)), UncompressedSize64: uint64(m.uncompressedSize)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.compressed); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDamagedKeyValueMembersReadAhead: a corrupt member (damaged deflate
// data), a truncated one (the compressed stream ends early) and one whose
// CRC does not match deliver the same records and are counted as
// corrupt_archive the same way with and without read-ahead; the good
// members around them are read whole and the cursor moves on.
func TestDamagedKeyValueMembersReadAhead(t *testing.T) {
	// Several read-ahead buffers of lines, so that the damage comes after
	// records were delivered.
	const lines = 6000
	good := func(name string) rawMember {
		data := keyValueLines(name, lines)
		return rawMember{name, deflate(t, data), len(data), crc32.ChecksumIEEE(data)}
	}
	corrupt := good("delivery_1.log")
	corrupt.compressed = bytes.Clone(corrupt.compressed)
	for i := len(corrupt.compressed) / 2; i < len(corrupt.compressed)/2+64; i++ {
		corrupt.compressed[i] ^= 0x5a
	}
	truncated := good("process_1.log")
	truncated.compressed = truncated.compressed[:len(truncated.compressed)*2/3]
	badCRC := good("receipt_1.log")
	badCRC.crc ^= 1
	zipped := makeRawZip(t, good("av_1.log"), corrupt, truncated, badCRC, good("spameventthread_1.log"))

	var delivered [][]collected
	for _, procs := range []int{1, 2} {
		withGOMAXPROCS(t, procs, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue; c.RawOnly = true },
				func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "next") })
			got, b := fetchAll(t, e, nil)
			if tok, _ := DecodeCursor(b.Cursor()); tok != "next" {
				t.Errorf("cursor %q: must move past the damaged file", tok)
			}
			if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, metrics.ReasonCorruptArchive)); v != 3 {
				t.Errorf("corrupt_archive = %v, want 3", v)
			}
			if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, metrics.ReasonMalformedFile)); v != 0 {
				t.Errorf("malformed_file = %v, want 0", v)
			}
			perType := map[string]int{}
			for _, r := range got {
				perType[r.Type]++
			}
			if perType["av"] != lines || perType["spam"] != lines {
				t.Errorf("good members gave %d and %d records, want %d each", perType["av"], perType["spam"], lines)
			}
			for _, typ := range []string{"delivery", "process"} {
				if n := perType[typ]; n == 0 || n >= lines {
					t.Errorf("%s: %d records delivered, want those before the damage", typ, n)
				}
			}
			delivered = append(delivered, got)
		})
	}
	if len(delivered) == 2 && !reflect.DeepEqual(delivered[0], delivered[1]) {
		t.Errorf("read-ahead delivered %d records, direct reading %d: they must be the same", len(delivered[1]), len(delivered[0]))
	}
}

// TestAbandonedBatchEndsReadAhead: when the callback fails or the context
// is cancelled in the middle of a member, Records returns that error and
// no goroutine of the batch is left.
func TestAbandonedBatchEndsReadAhead(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "receipt_1.log", data: keyValueLines("receipt", 50000)})
	stop := errors.New("receiver down")
	for _, procs := range []int{1, 2} {
		withGOMAXPROCS(t, procs, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue },
				func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "next") })
			for _, cancel := range []bool{false, true} {
				b, err := e.src.Fetch(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				before := goleak.IgnoreCurrent()
				ctx, stopCtx := context.WithCancel(t.Context())
				calls := 0
				err = b.Records(ctx, func(*source.Record) error {
					if calls++; calls == 100 {
						if cancel {
							stopCtx()
							return nil
						}
						return stop
					}
					return nil
				})
				stopCtx()
				want := stop
				if cancel {
					want = context.Canceled
				}
				if !errors.Is(err, want) || calls > 101 {
					t.Errorf("cancel=%v: Records = %v after %d records, want %v after 100", cancel, err, calls, want)
				}
				goleak.VerifyNone(t, before)
				if err := b.(io.Closer).Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestParseAheadSameAsDirect: parsing ahead (GOMAXPROCS=2) delivers the
// same records, in the same order, and skips the same lines as reading
// directly, across block boundaries: many short lines, lines around the
// size where a line is no longer copied (heldLine), lines past 1 MiB that
// take the line budget, blank, bad and too long lines. The budget is free
// afterwards.
func TestParseAheadSameAsDirect(t *testing.T) {
	var member bytes.Buffer
	long := func(i, n int) string {
		return fmt.Sprintf("datetime=2017-05-26T16:47:41+0100|aCode=long-%d|Subject=\\%s\\|Act=Rej", i, strings.Repeat("s", n))
	}
	for i := range 3000 {
		switch {
		case i%500 == 7:
			member.WriteString(long(i, heldLine-60)) // just below heldLine
		case i%500 == 8:
			member.WriteString(long(i, heldLine+10)) // held
		case i%500 == 9:
			member.WriteString("   ") // blank
		case i%500 == 10:
			member.WriteString("not a key value line")
		case i == 1200:
			member.WriteString(long(i, 2<<20)) // takes the line budget
		case i == 1300:
			member.WriteString(long(i, 5<<20)) // too long for the budget
		default:
			fmt.Fprintf(&member, "datetime=2017-05-26T16:47:41+0100|aCode=%d|acc=C0A0|Act=Acc|Subject=\\short %d\\", i, i)
		}
		member.WriteByte('\n')
	}
	zipped := makeZip(t,
		zipMember{name: "receipt_1.log", data: member.Bytes()},
		zipMember{name: "process_1.log", data: keyValueLines("process", 700)},
	)
	for _, rawOnly := range []bool{true, false} {
		var runs [][]collected
		for _, procs := range []int{1, 2} {
			withGOMAXPROCS(t, procs, func(t *testing.T) {
				budget := jsonl.NewLineBudget(jsonl.LineClaim(3<<20), nil)
				e := newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue; c.RawOnly = rawOnly; c.LineBudget = budget },
					func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "next") })
				got, _ := fetchAll(t, e, nil)
				if want := 700 + 3000 - 6*2 - 1; len(got) != want {
					t.Errorf("rawOnly=%v: %d records, want %d", rawOnly, len(got), want)
				}
				if v := value(t, e.m.RecordsSkipped.WithLabelValues(StreamName, metrics.ReasonBadLine)); v != 7 {
					t.Errorf("rawOnly=%v: bad_line = %v, want 7 (6 bad, 1 too long)", rawOnly, v)
				}
				if budget.InUse() != 0 {
					t.Errorf("budget in use %d after the batch", budget.InUse())
				}
				if logs := e.logs.String(); !strings.Contains(logs, "line=2511") || !strings.Contains(logs, "line=1301") {
					t.Errorf("the skipped lines' numbers are not logged")
				}
				runs = append(runs, got)
			})
		}
		if len(runs) == 2 && !reflect.DeepEqual(runs[0], runs[1]) {
			t.Errorf("rawOnly=%v: parsing ahead delivered other records than reading directly", rawOnly)
		}
	}
}

// TestAbandonedWhileLineHeld: abandoning a member while the parser waits
// for a long (not copied) line to be delivered ends the parser.
func TestAbandonedWhileLineHeld(t *testing.T) {
	var member bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&member, "datetime=2017-05-26T16:47:41+0100|aCode=%d|Subject=\\%s\\\n", i, strings.Repeat("x", 2*heldLine))
	}
	zipped := makeZip(t, zipMember{name: "receipt_1.log", data: member.Bytes()})
	stop := errors.New("receiver down")
	withGOMAXPROCS(t, 2, func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue },
			func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "next") })
		b, err := e.src.Fetch(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.(io.Closer).Close()
		before := goleak.IgnoreCurrent()
		calls := 0
		err = b.Records(t.Context(), func(*source.Record) error {
			if calls++; calls == 3 {
				return stop
			}
			return nil
		})
		if err != stop || calls != 3 {
			t.Errorf("Records = %v after %d records, want the callback's error after 3", err, calls)
		}
		goleak.VerifyNone(t, before)
	})
}
