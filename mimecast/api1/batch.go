package api1

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/keyvalue"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/readahead"
)

// memberPrefixes maps zip member name prefixes to canonical log types
// (Sentinel's SIEM types and the names seen in Elastic's test data, plus
// the API 2.0 / Splunk spellings as aliases).
var memberPrefixes = []struct{ prefix, typ string }{
	{"receipt_", "receipt"},
	{"process_", "process"},
	{"delivery_", "delivery"},
	{"av_", "av"},
	{"spameventthread_", "spam"},
	{"spam_", "spam"},
	{"iep_", "internal email protect"},
	{"impersonation_", "impersonation protect"},
	{"ttp_ip_", "impersonation protect"},
	{"ttp_url_", "url protect"},
	{"ttp_ap_", "attachment protect"},
	{"jrnl_", "journal"},
	{"journal_", "journal"},
}

// TypeFromMemberName returns the log type of a zip member from its name
// prefix (receipt_, process_, delivery_, av_, spameventthread_, iep_,
// impersonation_, ttp_url_, ttp_ap_, jrnl_, in any letter case). For an
// unknown prefix, known is false and typ is the name without extension and
// trailing _<digits> parts, lower-cased, reduced to [a-z0-9_] and at most
// 32 bytes ("unknown" if nothing is left): the records are still
// forwarded under that type rather than lost, and counted in
// records_unknown_type_total{stream="siem-v1"}.
func TypeFromMemberName(name string) (typ string, known bool) {
	base := strings.ToLower(path.Base(strings.ReplaceAll(name, `\`, "/")))
	for _, p := range memberPrefixes {
		if strings.HasPrefix(base, p.prefix) {
			return p.typ, true
		}
	}
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	parts := strings.Split(base, "_")
	for len(parts) > 1 && isDigits(parts[len(parts)-1]) {
		parts = parts[:len(parts)-1]
	}
	var b strings.Builder
	for _, c := range []byte(strings.Join(parts, "_")) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteByte(c)
		}
	}
	typ = b.String()
	if len(typ) > 32 {
		typ = typ[:32]
	}
	if typ == "" {
		typ = "unknown"
	}
	return typ, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fileBatch is one downloaded SIEM log file, spooled to a temporary file.
type fileBatch struct {
	src    *Source
	f      *os.File
	size   int64
	name   string
	cursor []byte

	closeOnce sync.Once
	closeErr  error

	// Reused buffers.
	js     []byte
	kv     kvParser
	blocks []*kvBlock // parseAhead's
}

func (b *fileBatch) Cursor() []byte { return b.cursor }
func (b *fileBatch) CaughtUp() bool { return false }

// Close removes the spooled file. It is safe to call more than once.
func (b *fileBatch) Close() error {
	b.closeOnce.Do(func() {
		err := b.f.Close()
		if rmErr := os.Remove(b.f.Name()); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		b.closeErr = err
	})
	return b.closeErr
}

// member is one file of the download.
type member struct {
	name string
	open func() (io.ReadCloser, error)
}

var (
	zipMagic      = []byte("PK\x03\x04")
	emptyZipMagic = []byte("PK\x05\x06")
)

// members lists the files of the download in name order. A download that
// is not a zip and whose name does not end in .zip is one plain member
// (Mimecast answered without compression).
func (b *fileBatch) members() ([]member, error) {
	var head [4]byte
	n, _ := b.f.ReadAt(head[:], 0)
	isZip := n == 4 && (bytes.Equal(head[:], zipMagic) || bytes.Equal(head[:], emptyZipMagic))
	if !isZip && !strings.HasSuffix(strings.ToLower(b.name), ".zip") {
		return []member{{name: b.name, open: func() (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(b.f, 0, b.size)), nil
		}}}, nil
	}
	zr, err := zip.NewReader(b.f, b.size)
	if err != nil {
		return nil, err
	}
	// klauspost/compress inflates about three times as fast as
	// compress/flate; registered on this reader only.
	zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
	var ms []member
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		ms = append(ms, member{name: zf.Name, open: zf.Open})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	return ms, nil
}

// Records reads every member of the file in name order. An unreadable
// zip, member or document is counted (files_skipped_total) and logged; the
// records read before the damage are delivered and the batch still
// succeeds, so the cursor moves past the bad file.
func (b *fileBatch) Records(ctx context.Context, fn func(*source.Record) error) error {
	ms, err := b.members()
	if err != nil {
		b.src.skip.File(metrics.ReasonCorruptArchive, b.name, 0, err)
		return ctx.Err()
	}
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.readMember(ctx, m, fn); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// errFn wraps an error returned by fn or by the context, to tell it from a
// damaged input.
type errFn struct{ err error }

func (e errFn) Error() string { return e.err.Error() }

// readMember streams one member to fn. It returns only fn's error or the
// context's; damage is reported and ends the member.
func (b *fileBatch) readMember(ctx context.Context, m member, fn func(*source.Record) error) error {
	file := b.name + ":" + m.name
	typ, known := TypeFromMemberName(m.name)
	rc, err := m.open()
	if err != nil {
		b.src.skip.File(metrics.ReasonCorruptArchive, file, 0, err)
		return nil
	}
	defer rc.Close()
	// With more than one core the member is inflated ahead, on a goroutine
	// of its own, while its records are parsed and sent. Closed before rc
	// (deferred after it): the goroutine has ended when rc is closed.
	ra := readahead.New(rc, nil)
	defer ra.Close()
	// Read errors are marked here, under the one read buffer: the line
	// scanner of readKeyValue reads through br itself (bufio.NewReaderSize
	// returns a large enough *bufio.Reader as it is), so lines are not
	// copied from buffer to buffer.
	br := bufio.NewReaderSize(markReader{ra}, readBufferSize)
	kind, err := sniff(br)
	if err != nil {
		b.src.skip.File(damageReason(err), file, 0, err)
		return nil
	}
	var n int
	switch kind {
	case kindEmpty:
		b.src.log.Debug("empty SIEM log member", "file", file)
		return nil
	case kindJSON:
		n, err = b.readJSON(ctx, br, typ, file, fn)
	default:
		n, err = b.readKeyValue(ctx, br, typ, file, fn)
	}
	var fe errFn
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		b.src.skip.File(damageReason(err), file, 0, fmt.Errorf("after %d records: %w", n, err))
	}
	if !known && n > 0 {
		b.src.m.UnknownType.WithLabelValues(StreamName).Add(float64(n))
		b.src.log.Warn("SIEM log member with an unknown type prefix: its records are forwarded with the type derived from its name",
			"file", file, "type", typ, "records", n)
	}
	return nil
}

// damageReason tells a damaged archive (decompression, checksum, read
// error) from a damaged document.
func damageReason(err error) string {
	var ce flate.CorruptInputError
	if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) ||
		errors.As(err, &ce) {
		return metrics.ReasonCorruptArchive
	}
	var re readError
	if errors.As(err, &re) {
		return metrics.ReasonCorruptArchive
	}
	return metrics.ReasonMalformedFile
}

// readError marks an error of the underlying reader (not of the content).
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// errTruncatedDoc is wrapped when a JSON document ends early.
var errTruncatedDoc = errors.New("JSON document truncated")

// markReader wraps read errors other than io.EOF in readError.
type markReader struct{ r io.Reader }

func (m markReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = readError{err}
	}
	return n, err
}

const (
	kindEmpty = iota
	kindJSON
	kindKeyValue
)

// sniff skips a UTF-8 BOM and white space and tells a JSON member from a
// key_value one by the first significant byte.
func sniff(br *bufio.Reader) (int, error) {
	if p, err := br.Peek(3); err == nil && bytes.Equal(p, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return kindEmpty, nil
		}
		if err != nil {
			return 0, readError{err}
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		_ = br.UnreadByte()
		if c == '{' || c == '[' {
			return kindJSON, nil
		}
		return kindKeyValue, nil
	}
}

// readBufferSize is the size of a member's read buffer. It is the line
// scanner's (jsonl.NewScanner), so that the scanner uses this buffer.
const readBufferSize = 64 << 10

// readJSON streams the events of a JSON member (see memberScanner).
func (b *fileBatch) readJSON(ctx context.Context, br *bufio.Reader, typ, file string, fn func(*source.Record) error) (n int, err error) {
	m := newMemberScanner(ctx, br, b.src.cfg.LineBudget)
	defer m.release()
	rec := source.Record{Type: typ}
	emit := func(raw []byte, idx int) error {
		js, info, err := jsonl.NormalizeInfo(b.js[:0], raw, 0)
		if err != nil {
			b.src.skip.Record(metrics.ReasonInvalidJSON, file, 0, raw, fmt.Errorf("event %d: %w", idx, err))
			return nil
		}
		if info.Replaced > 0 {
			b.src.m.InvalidUTF8.WithLabelValues(StreamName).Inc()
		}
		b.js = keepSmall(js)
		rec.JSON = js
		rec.Time = info.Time
		rec.Raw = nil
		if err := ctx.Err(); err != nil {
			return errFn{err}
		}
		if err := fn(&rec); err != nil {
			return errFn{err}
		}
		n++
		return nil
	}
	tooLarge := func(idx int) {
		b.src.skip.Record(metrics.ReasonTooLarge, file, 0, nil,
			fmt.Errorf("event %d: %w: longer than %d bytes", idx, errValueTooLarge, m.longest))
	}
	err = readJSONMember(m, emit, tooLarge)
	var fe errFn
	if err != nil && !errors.As(err, &fe) && ctx.Err() != nil {
		return n, errFn{ctx.Err()} // waiting for the line budget was cancelled
	}
	return n, err
}

// readKeyValue reads one record per line. With more than one core the
// lines are parsed ahead (readKeyValueAhead).
func (b *fileBatch) readKeyValue(ctx context.Context, r *bufio.Reader, typ, file string, fn func(*source.Record) error) (int, error) {
	if readahead.Enabled() {
		return b.readKeyValueAhead(ctx, r, typ, file, fn)
	}
	sc := jsonl.NewBudgetScanner(ctx, r, 0, b.src.cfg.LineBudget)
	defer sc.Close()
	n := 0
	rec := source.Record{Type: typ}
	p := &b.kv
	p.rawOnly = b.src.cfg.RawOnly
	for sc.Scan() {
		line := sc.Bytes()
		if sc.TooLong() {
			b.src.skip.Record(metrics.ReasonBadLine, file, sc.LineNo(), line, tooLong(sc))
			continue
		}
		p.reset()
		if err := p.parse(&rec, line); err != nil {
			if err != errBlank {
				b.src.skip.Record(metrics.ReasonBadLine, file, sc.LineNo(), line, err)
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return n, errFn{err}
		}
		if err := fn(&rec); err != nil {
			return n, errFn{err}
		}
		n++
	}
	if err := sc.Err(); err != nil && ctx.Err() != nil {
		return n, errFn{ctx.Err()} // waiting for the line budget was cancelled
	}
	return n, sc.Err()
}

func tooLong(sc *jsonl.Scanner) error {
	return fmt.Errorf("line of %d bytes is longer than %d bytes", sc.Size(), sc.MaxLine())
}

// errBlank is kvParser.parse's answer for a blank line (not a bad line).
var errBlank = errors.New("blank line")

// kvParser turns key_value lines into records. Its buffers are reused:
// the records it fills alias them until reset.
type kvParser struct {
	rawOnly bool
	pairs   []keyvalue.Pair
	fields  []source.Field // every record's fields since reset
	js      []byte         // every record's JSON since reset
}

// reset empties the buffers for reuse (dropping one grown past 1 MiB).
func (p *kvParser) reset() {
	p.fields = p.fields[:0]
	p.js = keepSmall(p.js)
}

// parse fills rec's Raw, Time and Fields (rawOnly) or JSON from line. It
// returns errBlank for a blank line and the parse error of a bad one.
// The time comes from the pairs (pairsTime) in both modes, so that the
// JSON built is not scanned again.
func (p *kvParser) parse(rec *source.Record, line []byte) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return errBlank
	}
	pairs, err := keyvalue.AppendParse(p.pairs, line)
	if err != nil {
		return err
	}
	p.pairs = pairs
	rec.Raw = line
	rec.Time = pairsTime(pairs)
	if !p.rawOnly {
		start := len(p.js)
		p.js = keyvalue.AppendJSON(p.js, pairs)
		rec.JSON = p.js[start:len(p.js):len(p.js)]
		return nil
	}
	// The body is the line itself: no JSON is built, the severity's
	// fields come straight from the pairs.
	start := len(p.fields)
	p.fields = slices.Grow(p.fields, len(pairs))[:start+len(pairs)]
	fields := p.fields[start:len(p.fields):len(p.fields)]
	for i := range pairs {
		// Field by field: appending a source.Field literal builds it on
		// the stack with 8-byte stores and copies it with 16-byte loads,
		// which stall on store forwarding (a tenth of the raw path's
		// time).
		fields[i].Key = pairs[i].Key
		fields[i].Value = pairs[i].Value
	}
	rec.Fields = fields
	return nil
}

// pairsTime returns the time of a key_value record by jsonl.EventTime's
// rule, as EventTime would read it from the record's JSON form
// (keyvalue.AppendJSON): of a repeated "timestamp" or "datetime" only the
// first keeps that name there, so only the first is offered. Zero when
// the record has no usable time.
func pairsTime(pairs []keyvalue.Pair) time.Time {
	var ts jsonl.TimeScan
	var seenTS, seenDT bool
	for i := range pairs {
		switch key := pairs[i].Key; string(key) {
		case "timestamp":
			if !seenTS {
				seenTS = true
				ts.String(key, pairs[i].Value)
			}
		case "datetime":
			if !seenDT {
				seenDT = true
				ts.String(key, pairs[i].Value)
			}
		}
	}
	t, _ := ts.Result()
	return t
}

// keepSmall returns b emptied for reuse, or nil when it grew past 1 MiB for
// a long record, so that steady-state memory stays small.
func keepSmall(b []byte) []byte {
	if cap(b) > 1<<20 {
		return nil
	}
	return b[:0]
}
