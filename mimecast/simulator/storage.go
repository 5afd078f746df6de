package simulator

import (
	"bufio"
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

type pools struct {
	gz  sync.Pool // *gzip.Writer (klauspost/compress, default level)
	buf sync.Pool // *[]byte line buffers
	bw  sync.Pool // *bufio.Writer
}

func (p *pools) gzipWriter(w io.Writer) *gzip.Writer {
	if z, ok := p.gz.Get().(*gzip.Writer); ok {
		z.Reset(w)
		return z
	}
	// klauspost/compress at its default level: as fast as compress/gzip's
	// BestSpeed and about 6:1 on the simulated events, as real batch
	// files, so that the bench measures the forwarder on realistic input
	// and the simulator is not its bottleneck.
	z, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression) // a valid level
	return z
}

func (p *pools) putGzip(z *gzip.Writer) {
	z.Reset(io.Discard)
	p.gz.Put(z)
}

func (p *pools) buffer() *[]byte {
	if b, ok := p.buf.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (p *pools) putBuffer(b *[]byte) {
	if cap(*b) > 1<<20 { // do not keep huge buffers
		return
	}
	*b = (*b)[:0]
	p.buf.Put(b)
}

// s3Error writes an S3-style XML error.
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message><RequestId>SIMULATOR</RequestId></Error>", code, msg)
}

func (s *Simulator) handleStorage(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		s.stats.add(func(st *Stats) { st.StorageAuthHdr++ })
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	q := r.URL.Query()
	date, exp, sig := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"), q.Get("X-Amz-Signature")
	if date == "" || exp == "" || sig == "" || q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		s.stats.add(func(st *Stats) { st.StorageDenied++ })
		s3Error(w, http.StatusForbidden, "AccessDenied", "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Date, X-Amz-Expires and X-Amz-Signature parameters")
		return
	}
	if !hmac.Equal([]byte(sig), []byte(s.urlSignature(r.URL.Path, date, exp))) {
		s.stats.add(func(st *Stats) { st.StorageDenied++ })
		s3Error(w, http.StatusForbidden, "AccessDenied", "The request signature we calculated does not match the signature you provided")
		return
	}
	signedAt, err1 := time.Parse(amzDate, date)
	ttl, err2 := strconv.ParseInt(exp, 10, 64)
	if err1 != nil || err2 != nil || !s.now().Before(signedAt.Add(time.Duration(ttl)*time.Second)) {
		s.stats.add(func(st *Stats) { st.StorageDenied++ })
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}
	typ, idx, ok := parseObjectPath(r.URL.Path)
	if _, known := s.types[typ]; !ok || !known || idx >= s.countAt(s.now()) {
		s.stats.add(func(st *Stats) { st.StorageMissing++ })
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	f := s.file(typ, idx)
	body, cached, err := s.cachedBatchFile(f)
	if err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", "simulator: building the file: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", strconv.Quote(s.urlSignature(r.URL.Path, "etag", "")[:32]))
	if cached {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(http.StatusOK)
	s.stats.add(func(st *Stats) { st.FilesServed++ })
	if cached {
		n, err := w.Write(body)
		s.stats.add(func(st *Stats) {
			st.BytesServed += int64(n)
			if err == nil {
				st.RecordsServed += int64(f.Records)
				st.FilesCompleted++
			}
		})
		if err != nil {
			s.log.Debug("simulator: batch file download interrupted", "path", r.URL.Path, "err", err)
		}
		return
	}
	cw := &countWriter{w: w}
	res, err := s.writeFile(cw, f)
	s.stats.add(func(st *Stats) {
		st.BytesServed += cw.n
		st.RecordsServed += int64(res.lines)
		st.BadJSONLines += int64(res.bad)
		st.LongLines += int64(res.long)
		switch {
		case err != nil:
		case f.Faults.CorruptGzip:
			st.CorruptFiles++
		case f.Faults.TruncatedGzip:
			st.TruncatedFiles++
		default:
			st.FilesCompleted++
		}
	})
	if err != nil {
		s.log.Debug("simulator: batch file download interrupted", "path", r.URL.Path, "err", err)
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type writeResult struct{ lines, bad, long int }

// writeFile streams the gzip NDJSON content of f to w (fault injections
// included). Memory is bounded by one line (plus the long-line chunk).
func (s *Simulator) writeFile(w io.Writer, f File) (res writeResult, err error) {
	bw, _ := s.pools.bw.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(w, 32<<10)
	} else {
		bw.Reset(w)
	}
	defer func() {
		bw.Reset(io.Discard)
		s.pools.bw.Put(bw)
	}()
	zw := s.pools.gzipWriter(bw)
	defer s.pools.putGzip(zw)
	bp := s.pools.buffer()
	defer s.pools.putBuffer(bp)

	n := f.Records
	cut := f.Faults.CorruptGzip || f.Faults.TruncatedGzip
	if cut {
		n = f.Faults.ValidRecords
	}
	for i := range n {
		switch i {
		case f.Faults.LongLine:
			if err := s.writeLongEvent(zw, bp, f.Type, f.Index, i); err != nil {
				return res, err
			}
			res.long++
		case f.Faults.BadJSONLine:
			*bp = appendBadLine((*bp)[:0], f.Type, f.Index, i)
			*bp = append(*bp, '\n')
			if _, err := zw.Write(*bp); err != nil {
				return res, fmt.Errorf("write batch file: %w", err)
			}
			res.bad++
		default:
			*bp = s.appendEvent((*bp)[:0], f.Type, f.Index, i)
			*bp = append(*bp, '\n')
			if _, err := zw.Write(*bp); err != nil {
				return res, fmt.Errorf("write batch file: %w", err)
			}
		}
		res.lines++
	}
	if cut {
		// Sync flush: everything so far decodes, the stream is byte aligned.
		if err := zw.Flush(); err != nil {
			return res, fmt.Errorf("write batch file: %w", err)
		}
		if f.Faults.CorruptGzip {
			// 0x07: final block with the reserved block type 11 -> "corrupt
			// input" in every inflater, followed by noise.
			garbage := []byte{0x07, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x13, 0x37, 'g', 'a', 'r', 'b', 'a', 'g', 'e'}
			if _, err := bw.Write(garbage); err != nil {
				return res, fmt.Errorf("write batch file: %w", err)
			}
		}
	} else if err := zw.Close(); err != nil {
		return res, fmt.Errorf("write batch file: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("write batch file: %w", err)
	}
	return res, nil
}

// sizeCache remembers exact compressed sizes of files (bounded).
type sizeKey struct {
	typ string
	idx int
}

type sizeCache struct {
	mu sync.Mutex
	m  map[sizeKey]int64
}

// maxExactSizeRecords bounds the files whose exact size the listing
// computes (by generating them); bigger files report an estimate.
const maxExactSizeRecords = 10000

// size returns the listed "size" of f: the exact number of bytes served for
// files up to maxExactSizeRecords records, an estimate otherwise.
func (s *Simulator) size(f File) int64 {
	if body, ok, err := s.cachedBatchFile(f); ok && err == nil {
		return int64(len(body))
	}
	if f.Records > maxExactSizeRecords {
		est := int64(f.Records) * 110
		if f.Faults.LongLine >= 0 {
			est += int64(s.opts.LongLineBytes) / 100
		}
		return est
	}
	k := sizeKey{f.Type, f.Index}
	s.sizes.mu.Lock()
	v, ok := s.sizes.m[k]
	s.sizes.mu.Unlock()
	if ok {
		return v
	}
	cw := &countWriter{w: io.Discard}
	if _, err := s.writeFile(cw, f); err != nil {
		return 0 // io.Discard never fails; keep the listing usable anyway
	}
	s.sizes.mu.Lock()
	if len(s.sizes.m) >= 20000 {
		clear(s.sizes.m)
	}
	s.sizes.m[k] = cw.n
	s.sizes.mu.Unlock()
	return cw.n
}
