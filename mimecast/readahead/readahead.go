// Package readahead runs the decompression of a download (a zip member of
// API 1.0, a gzip batch file of API 2.0) ahead of its parsing, on a
// goroutine of its own, so that inflating one stream's data overlaps with
// parsing, formatting and sending it: one stream then uses a second core.
//
// It wraps github.com/klauspost/readahead with a fixed number of buffers
// (Buffers × BufferSize bytes per reader, allocated for the reader; garbage
// at Close) and decides when reading ahead pays: only when the process may
// run more than one goroutine at a time (GOMAXPROCS > 1). On one core it
// would only add a copy, so New then returns the reader as it is.
//
// Data and errors pass through unchanged: the reader returns the bytes the
// underlying reader produced, then its error (io.EOF, a checksum or
// corrupt-data error, a network error) as the underlying reader returned
// it, so callers classify errors exactly as without read-ahead. A panic of
// the underlying reader becomes an error ("panic reading: ...").
//
// Usage:
//
//	ra := readahead.New(zr, resp.Body) // resp.Body: closed first by ra.Close
//	defer ra.Close()                   // ends the goroutine, always
//	use(ra)
package readahead

import (
	"errors"
	"io"
	"runtime"

	kpreadahead "github.com/klauspost/readahead"
)

// Buffers is the number of buffers a reader fills ahead, and BufferSize
// the size of each: a reader holds at most Buffers × BufferSize bytes
// (256 KiB) besides what the underlying reader holds.
const (
	Buffers    = 4
	BufferSize = 64 << 10
)

// Enabled reports whether New reads ahead: when GOMAXPROCS > 1.
func Enabled() bool { return runtime.GOMAXPROCS(0) > 1 }

// New returns a reader of r. When Enabled, r is read ahead by a goroutine
// into Buffers buffers; otherwise the reader reads r directly. Close must
// be called once the reader is no longer used (also when it is abandoned
// before the end): it stops and waits for the goroutine, which may be in
// a Read of r at that moment. unblock (may be nil) is closed first, so that
// such a Read returns: pass the network body under r. Close does not close
// r itself.
func New(r io.Reader, unblock io.Closer) io.ReadCloser {
	return newReader(r, unblock, Enabled())
}

func newReader(r io.Reader, unblock io.Closer, readAhead bool) io.ReadCloser {
	if !readAhead {
		return &direct{Reader: r, unblock: unblock}
	}
	// One allocation per reader (a file or a member: thousands of
	// records), garbage once the reader is closed.
	var set [Buffers][]byte
	mem := make([]byte, Buffers*BufferSize)
	for i := range set {
		set[i] = mem[i*BufferSize : (i+1)*BufferSize : (i+1)*BufferSize]
	}
	ra, err := kpreadahead.NewReaderBuffer(r, set[:])
	if err != nil { // impossible: the buffers are Buffers × BufferSize
		return &direct{Reader: r, unblock: unblock}
	}
	return &ahead{ReadCloser: ra, unblock: unblock}
}

// ahead is a reader with its read-ahead goroutine.
type ahead struct {
	io.ReadCloser // the klauspost reader
	unblock       io.Closer
	closed        bool
}

// Close closes unblock, then stops the goroutine and waits for it. Later
// calls do nothing.
func (a *ahead) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	var err error
	if a.unblock != nil {
		err = a.unblock.Close()
	}
	// The goroutine has ended when Close returns.
	return errors.Join(err, a.ReadCloser.Close())
}

// direct is the reader without read-ahead.
type direct struct {
	io.Reader
	unblock io.Closer
	closed  bool
}

// Close closes unblock once.
func (d *direct) Close() error {
	if d.closed || d.unblock == nil {
		return nil
	}
	d.closed = true
	return d.unblock.Close()
}
