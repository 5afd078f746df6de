package simulator

import (
	"crypto/hmac"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// File describes one published batch file of a log type.
type File struct {
	Type        string    // canonical log type, e.g. "url protect"
	Index       int       // 0-based file index within the type
	WindowStart time.Time // event timestamps are in [WindowStart, Published)
	Published   time.Time // publication time (listing filters on it)
	Records     int       // number of lines in the file (RecordsPerFile)
	Faults      FileFaults
}

// FileFaults tells which injected faults affect a file (all false when no
// fault option is set).
type FileFaults struct {
	ExpiredURL    bool // listed with an expired URL: download answers 403
	DuplicateURL  bool // listed twice in a row when the page has room
	CorruptGzip   bool // valid gzip of the first ValidRecords lines, then garbage
	TruncatedGzip bool // gzip of the first ValidRecords lines, no trailer
	// ValidRecords is how many lines a client can read before a corrupt or
	// truncated stream fails (Records when the stream is intact).
	ValidRecords int
	// BadJSONLine is the record index of the invalid JSON line, or -1.
	BadJSONLine int
	// LongLine is the record index of the very long line, or -1.
	LongLine int
}

func every(n, idx int) bool { return n > 0 && idx%n == n-1 }

// Published returns how many files of typ are published at time at: files
// 0 … n-1 exist. It is 0 for a type not in Options.Types.
func (s *Simulator) Published(typ string, at time.Time) int {
	if _, ok := s.types[typ]; !ok {
		return 0
	}
	return s.countAt(at)
}

// countAt is the number of files (of any type) whose publication time ≤ at.
func (s *Simulator) countAt(at time.Time) int {
	if at.Before(s.epoch) {
		return 0
	}
	k := int(at.Sub(s.epoch) / s.opts.Cadence)
	if k < s.histN {
		return k
	}
	k = s.histN
	if s.opts.LiveInterval > 0 && !at.Before(s.liveAt) {
		k += int(at.Sub(s.liveAt) / s.opts.LiveInterval)
	}
	return k
}

func (s *Simulator) window(idx int) (start, pub time.Time) {
	if idx < s.histN {
		start = s.epoch.Add(time.Duration(idx) * s.opts.Cadence)
		return start, start.Add(s.opts.Cadence)
	}
	start = s.liveAt.Add(time.Duration(idx-s.histN) * s.opts.LiveInterval)
	return start, start.Add(s.opts.LiveInterval)
}

// File describes file idx of typ, whether or not it is published yet. It
// fails for an unknown type, a negative index, or an index that will never
// be published (beyond the history when live publication is off).
func (s *Simulator) File(typ string, idx int) (File, error) {
	if _, ok := s.types[typ]; !ok {
		return File{}, fmt.Errorf("simulator: log type %q is not simulated", typ)
	}
	if idx < 0 || (s.opts.LiveInterval < 0 && idx >= s.histN) {
		return File{}, fmt.Errorf("simulator: file index %d of %q does not exist", idx, typ)
	}
	return s.file(typ, idx), nil
}

func (s *Simulator) file(typ string, idx int) File {
	ws, pub := s.window(idx)
	o := &s.opts
	f := File{Type: typ, Index: idx, WindowStart: ws, Published: pub, Records: o.RecordsPerFile}
	f.Faults = FileFaults{
		ExpiredURL:    every(o.ExpiredURLEvery, idx),
		DuplicateURL:  every(o.DuplicateURLEvery, idx),
		CorruptGzip:   every(o.CorruptGzipEvery, idx),
		TruncatedGzip: every(o.TruncatedGzipEvery, idx) && !every(o.CorruptGzipEvery, idx),
		ValidRecords:  o.RecordsPerFile,
		BadJSONLine:   -1,
		LongLine:      -1,
	}
	if f.Faults.CorruptGzip || f.Faults.TruncatedGzip {
		f.Faults.ValidRecords = o.RecordsPerFile / 2
	}
	if every(o.BadJSONLineEvery, idx) {
		f.Faults.BadJSONLine = o.RecordsPerFile / 2
	}
	if every(o.LongLineEvery, idx) {
		f.Faults.LongLine = o.RecordsPerFile - 1
	}
	return f
}

// Files returns every file of typ published at time at, in order.
func (s *Simulator) Files(typ string, at time.Time) []File {
	n := s.Published(typ, at)
	out := make([]File, n)
	for i := range n {
		out[i] = s.file(typ, i)
	}
	return out
}

// batchItem is one entry of the listing.
type batchItem struct {
	URL    string `json:"url"`
	Expiry string `json:"expiry"`
	Size   int64  `json:"size"`
}

type batchResponse struct {
	Value      []batchItem `json:"value"`
	NextPage   string      `json:"@nextPage"`
	IsCaughtUp bool        `json:"isCaughtUp"`
}

const dayLayout = "2006-01-02"

// pageToken is the decoded nextPage: the next file index to consider, the
// type and the date range of the request that produced it.
type pageToken struct {
	typ        string
	pos        int64
	start, end int32 // days since Unix epoch, inclusive
}

func (s *Simulator) encodePage(t pageToken) string {
	p := make([]byte, 0, 18+len(t.typ))
	p = append(p, 1)
	p = binary.BigEndian.AppendUint64(p, uint64(t.pos))
	p = binary.BigEndian.AppendUint32(p, uint32(t.start))
	p = binary.BigEndian.AppendUint32(p, uint32(t.end))
	p = append(p, t.typ...)
	return b64.EncodeToString(p) + "." + b64.EncodeToString(s.mac("page", p)[:16])
}

func (s *Simulator) decodePage(tok string) (pageToken, error) {
	ps, ms, ok := strings.Cut(tok, ".")
	if !ok {
		return pageToken{}, errors.New("malformed")
	}
	p, err1 := b64.DecodeString(ps)
	m, err2 := b64.DecodeString(ms)
	if err1 != nil || err2 != nil || len(p) < 18 || p[0] != 1 {
		return pageToken{}, errors.New("malformed")
	}
	if !hmac.Equal(m, s.mac("page", p)[:16]) {
		return pageToken{}, errors.New("signature mismatch")
	}
	t := pageToken{
		pos:   int64(binary.BigEndian.Uint64(p[1:9])),
		start: int32(binary.BigEndian.Uint32(p[9:13])),
		end:   int32(binary.BigEndian.Uint32(p[13:17])),
		typ:   string(p[17:]),
	}
	if t.pos < 0 || (!isKnownType(t.typ) && !isCIType(t.typ)) {
		return pageToken{}, errors.New("malformed")
	}
	return t, nil
}

func dayNum(t time.Time) int32 { return int32(t.Unix() / 86400) }

func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (s *Simulator) handleBatch(w http.ResponseWriter, r *http.Request) {
	s.serveBatch(w, r, isKnownType, allTypes)
}

// handleCIBatch serves GET /siem/v1/batch/events/ci (Cloud Integrated):
// the same mechanism, the types of CITypes; 403 with Options.NoCI.
func (s *Simulator) handleCIBatch(w http.ResponseWriter, r *http.Request) {
	if !s.checkToken(w, r) {
		return
	}
	if s.opts.NoCI {
		writeFail(w, http.StatusForbidden, "forbidden", "Email Security Cloud Integrated is not enabled for this account")
		return
	}
	s.serveBatch(w, r, isCIType, ciTypes)
}

func (s *Simulator) serveBatch(w http.ResponseWriter, r *http.Request, known func(string) bool, valid []string) {
	if !s.checkToken(w, r) {
		return
	}
	q := r.URL.Query()
	invalid := func(msg string) {
		s.stats.add(func(st *Stats) { st.ValidationErrors++ })
		writeFail(w, http.StatusBadRequest, "validation_error", msg)
	}
	var tok pageToken
	hasTok := q.Get("nextPage") != ""
	if hasTok {
		t, err := s.decodePage(q.Get("nextPage"))
		if err != nil {
			s.stats.add(func(st *Stats) { st.InvalidNextPage++ })
			writeFail(w, http.StatusBadRequest, "invalid_next_page", "nextPage token is invalid: "+err.Error())
			return
		}
		tok = t
	}
	typ := q.Get("type")
	switch {
	case typ == "" && !hasTok:
		invalid("type is required")
		return
	case typ == "":
		typ = tok.typ
	case strings.Contains(typ, ","):
		invalid("type must be a single log type, got " + strconv.Quote(typ))
		return
	case !known(typ):
		invalid("type must be one of " + strings.Join(valid, ", ") + "; got " + strconv.Quote(typ))
		return
	case hasTok && !known(tok.typ):
		s.stats.add(func(st *Stats) { st.InvalidNextPage++ })
		writeFail(w, http.StatusBadRequest, "invalid_next_page", "nextPage token was issued for another product")
		return
	case hasTok && typ != tok.typ:
		s.stats.add(func(st *Stats) { st.InvalidNextPage++ })
		writeFail(w, http.StatusBadRequest, "invalid_next_page", "nextPage token was issued for another type")
		return
	}
	startS, endS := q.Get("dateRangeStartsAt"), q.Get("dateRangeEndsAt")
	startD, endD := tok.start, tok.end
	if !hasTok || startS != "" || endS != "" {
		if startS == "" || endS == "" {
			invalid("dateRangeStartsAt and dateRangeEndsAt are required (YYYY-MM-DD)")
			return
		}
		st, err := time.Parse(dayLayout, startS)
		if err != nil {
			invalid("dateRangeStartsAt must be a date YYYY-MM-DD, got " + strconv.Quote(startS))
			return
		}
		en, err := time.Parse(dayLayout, endS)
		if err != nil {
			invalid("dateRangeEndsAt must be a date YYYY-MM-DD, got " + strconv.Quote(endS))
			return
		}
		if en.Before(st) {
			invalid("dateRangeEndsAt must not be before dateRangeStartsAt")
			return
		}
		startD, endD = dayNum(st), dayNum(en)
	}
	pageSize := DefaultPageSize
	if ps := q.Get("pageSize"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > MaxPageSize {
			invalid(fmt.Sprintf("pageSize must be an integer from 1 to %d, got %q", MaxPageSize, ps))
			return
		}
		pageSize = n
	}

	now := s.now()
	pos := int(tok.pos)
	resp := batchResponse{Value: []batchItem{}, IsCaughtUp: true}
	if _, ok := s.types[typ]; ok {
		lo := s.countAt(dayTime(startD).Add(-1))
		hi := min(s.countAt(dayTime(endD+1).Add(-1)), s.countAt(now))
		next := max(pos, lo)
		base := s.opts.BaseURL
		if base == "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			base = scheme + "://" + r.Host
		}
		var listed, dups, expired int64
		for next < hi && len(resp.Value) < pageSize {
			f := s.file(typ, next)
			item := s.presign(base, f, now)
			resp.Value = append(resp.Value, item)
			listed++
			if f.Faults.ExpiredURL {
				expired++
			}
			if f.Faults.DuplicateURL && len(resp.Value) < pageSize {
				resp.Value = append(resp.Value, item)
				listed++
				dups++
			}
			next++
			pos = next
		}
		resp.IsCaughtUp = next >= hi
		s.stats.add(func(st *Stats) { st.FilesListed += listed; st.DuplicateURLs += dups; st.ExpiredURLs += expired })
	}
	resp.NextPage = s.encodePage(pageToken{typ: typ, pos: int64(pos), start: startD, end: endD})
	s.stats.add(func(st *Stats) {
		st.Pages++
		if resp.IsCaughtUp {
			st.CaughtUpPages++
		}
	})
	writeJSON(w, http.StatusOK, resp)
}

// objectPath is the storage path of a file: /storage/cg/<stream>/<index>.ndjson.gz
func objectPath(typ string, idx int) string {
	return "/storage/cg/" + strings.ReplaceAll(typ, " ", "-") + "/" + strconv.Itoa(idx) + ".ndjson.gz"
}

func parseObjectPath(p string) (typ string, idx int, ok bool) {
	rest, ok := strings.CutPrefix(p, "/storage/cg/")
	if !ok {
		return "", 0, false
	}
	stream, name, ok := strings.Cut(rest, "/")
	if !ok {
		return "", 0, false
	}
	num, ok := strings.CutSuffix(name, ".ndjson.gz")
	if !ok {
		return "", 0, false
	}
	idx, err := strconv.Atoi(num)
	if err != nil || idx < 0 || strconv.Itoa(idx) != num {
		return "", 0, false
	}
	typ = strings.ReplaceAll(stream, "-", " ")
	return typ, idx, isKnownType(typ) || isCIType(typ)
}

const amzDate = "20060102T150405Z"

func (s *Simulator) urlSignature(path, date, expires string) string {
	return hex.EncodeToString(s.mac("url", []byte(path), []byte(date), []byte(expires)))
}

// presign builds the listing entry of f: a pre-signed URL valid URLTTL from
// now (or already expired for ExpiredURL faults).
func (s *Simulator) presign(base string, f File, now time.Time) batchItem {
	signedAt := now.UTC().Truncate(time.Second)
	if f.Faults.ExpiredURL {
		signedAt = signedAt.Add(-s.opts.URLTTL - time.Minute)
	}
	ttl := int64(s.opts.URLTTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	path := objectPath(f.Type, f.Index)
	date := signedAt.Format(amzDate)
	exp := strconv.FormatInt(ttl, 10)
	u := base + path + "?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
		"&X-Amz-Credential=SIMULATOR%2F" + signedAt.Format("20060102") + "%2Fus-east-1%2Fs3%2Faws4_request" +
		"&X-Amz-Date=" + date + "&X-Amz-Expires=" + exp + "&X-Amz-SignedHeaders=host" +
		"&X-Amz-Signature=" + s.urlSignature(path, date, exp)
	return batchItem{
		URL:    u,
		Expiry: signedAt.Add(time.Duration(ttl) * time.Second).Format(time.RFC3339),
		Size:   s.size(f),
	}
}

// Deliverable reports whether record n of f can reach a client: its URL is
// not listed expired, it lies before the cut of a corrupt or truncated
// stream, and it is not the invalid JSON line. (A client that discards a
// whole file on a gzip error delivers none of a corrupt file's records.)
func (f File) Deliverable(n int) bool {
	return n >= 0 && n < f.Records && !f.Faults.ExpiredURL &&
		n < f.Faults.ValidRecords && n != f.Faults.BadJSONLine
}

// Records iterates over every record of every file of typ published at time
// at, in publication order, yielding the file and the record index. Use
// Event for the line and File.Deliverable to account for injected faults.
func (s *Simulator) Records(typ string, at time.Time) iter.Seq2[File, int] {
	return func(yield func(File, int) bool) {
		for i := range s.Published(typ, at) {
			f := s.file(typ, i)
			for n := range f.Records {
				if !yield(f, n) {
					return
				}
			}
		}
	}
}

// Expected returns how many records of typ are published at time at
// (Published × RecordsPerFile), faults not deducted.
func (s *Simulator) Expected(typ string, at time.Time) int {
	return s.Published(typ, at) * s.opts.RecordsPerFile
}
