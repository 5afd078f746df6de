package readahead

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPassesData: both modes return exactly the underlying bytes, then
// io.EOF, whatever the size relative to the buffers.
func TestPassesData(t *testing.T) {
	for _, n := range []int{0, 1, BufferSize - 1, BufferSize, BufferSize + 1, Buffers*BufferSize + 7, 3 << 20} {
		data := randomBytes(n)
		for _, ahead := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/ahead=%v", n, ahead), func(t *testing.T) {
				r := newReader(bytes.NewReader(data), nil, ahead)
				defer r.Close()
				if err := iotest.TestReader(r, data); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// read returns everything r gives before its first error, and the error.
func read(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// failing returns data, then err.
type failing struct {
	r   io.Reader
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

// TestErrorsPassUnchanged: through read-ahead, a corrupt, truncated or
// badly checksummed gzip stream and a failing download give the same
// bytes and the very same error as read directly.
func TestErrorsPassUnchanged(t *testing.T) {
	data := randomBytes(5*BufferSize + 123)
	good := gzipped(t, data)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)/2] ^= 0xff
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-6] ^= 0xff // the CRC-32 of the trailer
	netErr := errors.New("connection reset")
	cases := map[string]func() io.Reader{
		"truncated gzip": func() io.Reader { return gunzip(t, good[:len(good)*2/3]) },
		"corrupt gzip":   func() io.Reader { return gunzip(t, corrupt) },
		"bad checksum":   func() io.Reader { return gunzip(t, badCRC) },
		"failing read":   func() io.Reader { return &failing{bytes.NewReader(data[:3*BufferSize+5]), netErr} },
	}
	for name, open := range cases {
		t.Run(name, func(t *testing.T) {
			wantData, wantErr := read(open())
			if wantErr == io.EOF || wantErr == nil {
				t.Fatalf("the case does not fail: %v", wantErr)
			}
			r := newReader(open(), nil, true)
			defer r.Close()
			got, err := read(r)
			if err != wantErr {
				t.Errorf("error %v (%T), want %v (%T)", err, err, wantErr, wantErr)
			}
			if !bytes.Equal(got, wantData) {
				t.Errorf("%d bytes before the error, want %d", len(got), len(wantData))
			}
		})
	}
}

func gunzip(t *testing.T, b []byte) io.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// TestAbandonedReaderEnds: a reader closed before its end stops its
// goroutine, also when that goroutine waits for buffers to be read.
func TestAbandonedReaderEnds(t *testing.T) {
	data := randomBytes(4 << 20)
	r := newReader(gunzip(t, gzipped(t, data)), nil, true)
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data[:1000]) {
		t.Fatalf("first bytes: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseUnblocksRead: Close closes unblock first, so that a goroutine
// blocked in a Read of a stalled download returns and ends.
func TestCloseUnblocksRead(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	// One buffer's worth (the goroutine hands a buffer over when it is
	// full), then the download stalls.
	data := randomBytes(BufferSize)
	go func() { _, _ = pw.Write(data) }()
	r := newReader(pr, pr, true)
	buf := make([]byte, len(data))
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, data) {
		t.Fatalf("first buffer: %v", err)
	}
	// The goroutine is now blocked in pr.Read: without unblock, Close
	// would wait for it forever.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t)
}

// TestDirectCloseClosesUnblock: without read-ahead, Close closes unblock
// too (once), so that callers need not tell the two cases apart.
func TestDirectCloseClosesUnblock(t *testing.T) {
	c := &countCloser{}
	r := newReader(bytes.NewReader([]byte("x")), c, false)
	_ = r.Close()
	_ = r.Close()
	if c.n != 1 {
		t.Errorf("unblock closed %d times, want 1", c.n)
	}
}

type countCloser struct{ n int }

func (c *countCloser) Close() error { c.n++; return nil }

// TestEnabledFollowsGOMAXPROCS: New reads ahead only when more than one
// goroutine may run at a time.
func TestEnabledFollowsGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := New(bytes.NewReader([]byte("x")), nil)
	if _, ok := r.(*direct); !ok || Enabled() {
		t.Errorf("GOMAXPROCS=1: %T, Enabled %v; want no read-ahead", r, Enabled())
	}
	r.Close()
	runtime.GOMAXPROCS(2)
	r = New(bytes.NewReader([]byte("x")), nil)
	if _, ok := r.(*ahead); !ok || !Enabled() {
		t.Errorf("GOMAXPROCS=2: %T, Enabled %v; want read-ahead", r, Enabled())
	}
	r.Close()
}
