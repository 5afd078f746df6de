package api2

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/readahead"
)

const (
	tokenPath  = "/oauth/token"
	cgListPath = "/siem/v1/batch/events/cg"
	ciListPath = "/siem/v1/batch/events/ci"
	dayLayout  = "2006-01-02"
	// maxListBody bounds a listing answer (100 URLs are a few tens of KiB).
	maxListBody = 16 << 20
)

// api is what every Source of one Config shares: the clients and the token.
type api struct {
	base     string
	cfg      Config
	client   *mimecast.Client // API calls: budget applied, no redirect followed
	files    *mimecast.Client // presigned downloads: no budget, no credentials, redirects followed
	tokens   *tokenSource
	secrets  *mimecast.Secrets
	m        *metrics.Metrics
	log      *slog.Logger
	now      func() time.Time
	lookback time.Duration
}

// API is one API 2.0 application: the clients, the token cache and the
// request budget every stream of it shares. Create it with New.
type API struct{ a *api }

// NewSources validates cfg and returns one source.Source per configured type
// (every type when cfg.Types is empty), in the order of mimecast.Types. The
// sources share one API client (and so cfg.Client.Budget), one token cache
// and one download client. m and log must not be nil.
func NewSources(cfg Config, m *metrics.Metrics, log *slog.Logger) ([]source.Source, error) {
	a, err := New(cfg, m, log)
	if err != nil {
		return nil, err
	}
	return a.Sources(), nil
}

// New validates cfg and returns the API whose Sources, CISources and
// PostJSON share one API client, token cache and download client.
func New(cfg Config, m *metrics.Metrics, log *slog.Logger) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid Mimecast API 2.0 configuration:\n%w", err)
	}
	base, _ := ResolveBaseURL(cfg.BaseURL)
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.DayGrace == 0 {
		cfg.DayGrace = DefaultDayGrace
	}
	lookback := cfg.Lookback
	if lookback == 0 {
		lookback = DefaultLookback
	}
	if lookback > MaxLookback {
		log.Warn("MIMECAST_LOOKBACK exceeds the 7 days Mimecast keeps batch logs; using 7 days for the batch streams", "lookback", lookback)
		lookback = MaxLookback
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	secrets := NewSecrets(cfg)
	apiCfg := cfg.Client
	apiCfg.Secrets, apiCfg.FollowRedirects = secrets, false
	filesCfg := cfg.Client
	filesCfg.Budget, filesCfg.Secrets, filesCfg.FollowRedirects = nil, secrets, true
	a := &api{
		base:     base,
		cfg:      cfg,
		client:   mimecast.NewClient(apiCfg, m, log),
		files:    mimecast.NewClient(filesCfg, m, log),
		secrets:  secrets,
		m:        m,
		log:      log,
		now:      now,
		lookback: lookback,
	}
	a.tokens = &tokenSource{
		url: base + tokenPath, clientID: cfg.ClientID, clientSecret: cfg.ClientSecret,
		client: a.client, secrets: secrets, m: m, now: now,
	}
	return &API{a: a}, nil
}

// Sources returns one Cloud Gateway SIEM source per configured type
// (cfg.Types; every type when empty), in the order of mimecast.Types.
func (x *API) Sources() []source.Source {
	types := x.a.cfg.Types
	if len(types) == 0 {
		types = mimecast.Types
	}
	var out []source.Source
	for _, t := range mimecast.Types { // canonical order
		for _, want := range types {
			if want == t {
				out = append(out, newSource(x.a, cgProduct, t))
			}
		}
	}
	return out
}

// NewSecrets returns the mimecast.Secrets of cfg's client secret: the
// secret itself and the client_secret_basic spellings (base64 of
// "id:secret", raw and form-encoded), should a server echo them. The client
// id is no secret and stays readable. NewSources adds the access tokens it
// obtains to its own Secrets.
func NewSecrets(cfg Config) *mimecast.Secrets {
	return mimecast.NewSecrets(cfg.ClientSecret,
		base64.StdEncoding.EncodeToString([]byte(cfg.ClientID+":"+cfg.ClientSecret)),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cfg.ClientID)+":"+url.QueryEscape(cfg.ClientSecret))))
}

var (
	_ source.Source        = (*Source)(nil)
	_ source.CursorChecker = (*Source)(nil)
	_ source.Batch         = (*Batch)(nil)
)

// product is one batch SIEM product: Cloud Gateway or Cloud Integrated.
type product struct {
	listPath   string
	prefix     string // of the stream name and record type ("" or "ci-")
	permission string
}

var (
	cgProduct = product{listPath: cgListPath, permission: "Security Events and Data Retrieval | Threat and Security Events (SIEM) | Read"}
	ciProduct = product{listPath: ciListPath, prefix: "ci-", permission: "Security Events and Data Retrieval | Threat and Security Events (SIEM) | Read, with the Email Security Cloud Integrated product"}
)

// CITypes lists the Cloud Integrated batch types
// (GET /siem/v1/batch/events/ci), whose streams are "ci-" + type.
var CITypes = []string{"entities", "mailflow", "urlclick"}

// CIStreams returns the stream names of CITypes, in order.
func CIStreams() []string {
	out := make([]string, len(CITypes))
	for i, t := range CITypes {
		out[i] = ciProduct.prefix + t
	}
	return out
}

// CISources returns one Cloud Integrated source per stream of streams
// (names of CIStreams, in their order; every one when streams is nil).
func (x *API) CISources(streams []string) []source.Source {
	var out []source.Source
	for i, name := range CIStreams() {
		for _, want := range streams {
			if want == name {
				out = append(out, newSource(x.a, ciProduct, CITypes[i]))
			}
		}
		if streams == nil {
			out = append(out, newSource(x.a, ciProduct, CITypes[i]))
		}
	}
	return out
}

// Source reads one log type. It implements source.Source.
type Source struct {
	api     *api
	prod    product
	typ     string // as the API names it (type=…)
	recType string // source.Record.Type: the canonical type, or the stream name for CI
	stream  string
	skips   *mimecast.SkipReporter
	refusal *mimecast.Refusal
	log     *slog.Logger

	// The listing page of the day being read, counted since this process
	// started reading the day (the cursor keeps only Mimecast's token).
	pageMu  sync.Mutex
	pageDay string
	page    int
}

// countPage counts a listing page of day and returns its number.
func (s *Source) countPage(day string) int {
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	if s.pageDay != day {
		s.pageDay, s.page = day, 0
	}
	s.page++
	return s.page
}

func newSource(a *api, p product, typ string) *Source {
	stream := p.prefix + mimecast.StreamName(typ)
	recType := typ
	if p.prefix != "" {
		recType = stream
	}
	log := a.log.With("stream", stream)
	return &Source{api: a, prod: p, typ: typ, recType: recType, stream: stream,
		skips:   mimecast.NewSkipReporter(stream, a.m, a.log),
		refusal: mimecast.NewRefusal(stream, p.permission, a.cfg.Strict[stream], a.m, log, a.now),
		log:     log}
}

// Stream returns the stream name: the type with spaces replaced by '-'
// (Cloud Integrated: "ci-" + type).
func (s *Source) Stream() string { return s.stream }

// Type returns the log type as the API names it.
func (s *Source) Type() string { return s.typ }

// Cursor is the decoded form of an API 2.0 cursor:
// {"v":1,"day":"YYYY-MM-DD","nextPage":"…"}.
type Cursor struct {
	V        int    `json:"v"`
	Day      string `json:"day"`
	NextPage string `json:"nextPage,omitempty"`
}

// ParseCursor decodes and checks a stored cursor: one JSON object with
// exactly the fields of Cursor, version 1, a calendar day YYYY-MM-DD and a
// nextPage token without control characters. It knows no clock: a day in
// the future is refused by Source.CheckCursor.
func ParseCursor(b []byte) (Cursor, error) {
	bad := func(format string, a ...any) (Cursor, error) {
		return Cursor{}, fmt.Errorf("invalid API 2.0 cursor %q: %s", mimecast.Preview(b), fmt.Sprintf(format, a...))
	}
	var c Cursor
	if err := mimecast.DecodeStrict(b, &c); err != nil {
		return Cursor{}, fmt.Errorf("invalid API 2.0 cursor %q: %w", mimecast.Preview(b), err)
	}
	if c.V != 1 {
		return bad("unsupported version %d (want 1)", c.V)
	}
	if _, err := time.Parse(dayLayout, c.Day); err != nil {
		return bad("day is not a date YYYY-MM-DD: %v", err)
	}
	if i := mimecast.IndexControl(c.NextPage); i >= 0 {
		return bad("nextPage holds a control character at byte %d", i)
	}
	return c, nil
}

// maxCursorAhead is how far after today (UTC) a stored cursor's day may be:
// one day of clock difference with the host that wrote it. A later day is
// a damaged cursor (or a wrong clock): the stream would wait for it in
// silence.
const maxCursorAhead = 24 * time.Hour

// CheckCursor reports whether a stored cursor is usable, without any API
// call (source.CursorChecker): well-formed (ParseCursor) and its day not
// after tomorrow.
func (s *Source) CheckCursor(cursor []byte) error {
	_, err := s.parseStored(cursor)
	return err
}

// parseStored is ParseCursor plus the check against the clock.
func (s *Source) parseStored(cursor []byte) (Cursor, error) {
	c, err := ParseCursor(cursor)
	if err != nil {
		return Cursor{}, err
	}
	if latest := s.api.now().UTC().Add(maxCursorAhead).Format(dayLayout); c.Day > latest {
		return Cursor{}, fmt.Errorf("invalid API 2.0 cursor %q: day %s is in the future (today is %s UTC): damaged cursor or wrong clock",
			mimecast.Preview(cursor), c.Day, s.api.now().UTC().Format(dayLayout))
	}
	return c, nil
}

func (c Cursor) encode() []byte {
	b, _ := json.Marshal(c) // cannot fail
	return b
}

// startCursor returns the cursor to list from: cursor decoded, or the
// look-back start for nil, moved forward when older than 7 days.
func (s *Source) startCursor(cursor []byte) (Cursor, error) {
	now := s.api.now().UTC()
	oldest := now.Add(-MaxLookback).Format(dayLayout)
	if cursor == nil {
		c := Cursor{V: 1, Day: now.Add(-s.api.lookback).Format(dayLayout)}
		if c.Day < oldest {
			c.Day = oldest
		}
		return c, nil
	}
	c, err := s.parseStored(cursor)
	if err != nil {
		// Retrying cannot repair a stored cursor: stop the stream.
		return Cursor{}, source.Permanent(err)
	}
	if c.Day < oldest {
		s.log.Warn("stored cursor is older than the 7 days Mimecast keeps batch logs; data in between is lost, continuing from the oldest available day",
			"cursor_day", c.Day, "new_day", oldest)
		c = Cursor{V: 1, Day: oldest}
	}
	return c, nil
}

// nextCursor computes the cursor after a page listed with cur.
func nextCursor(cur Cursor, nextPage string, caughtUp bool, now time.Time, grace time.Duration) Cursor {
	next := cur
	if nextPage != "" {
		next.NextPage = nextPage
	}
	if !caughtUp {
		return next
	}
	day, err := time.Parse(dayLayout, cur.Day)
	if err != nil {
		return next
	}
	if !now.Before(day.Add(24*time.Hour + grace)) {
		return Cursor{V: 1, Day: day.AddDate(0, 0, 1).Format(dayLayout)}
	}
	return next
}

// listing is one page of the batch listing.
type listing struct {
	Value []struct {
		URL    string `json:"url"`
		Expiry string `json:"expiry"`
		Size   int64  `json:"size"`
	} `json:"value"`
	NextPage   string `json:"@nextPage"`
	IsCaughtUp bool   `json:"isCaughtUp"`
}

// Fetch lists one page of batch files after cursor and returns it as a
// Batch. Errors: an invalid cursor, a listing that failed after retries
// (an *mimecast.APIError inside), a redirect (*mimecast.RedirectError), or
// refused credentials (errors.Is mimecast.ErrAuth). Error texts are
// scrubbed of the credentials.
func (s *Source) Fetch(ctx context.Context, cursor []byte) (source.Batch, error) {
	cur, err := s.startCursor(cursor)
	if err != nil {
		return nil, err
	}
	if s.refusal.Waiting() {
		return &Batch{src: s, cursor: cur.encode(), caughtUp: true, day: cur.Day}, nil
	}
	page, err := s.list(ctx, cur)
	if err != nil {
		err = s.api.secrets.ScrubError(err)
		if errors.Is(err, mimecast.ErrForbidden) {
			if err := s.refusal.Refused(err); err != nil {
				return nil, err
			}
			return &Batch{src: s, cursor: cur.encode(), caughtUp: true, day: cur.Day}, nil
		}
		return nil, err
	}
	s.refusal.Granted()
	pageNo := s.countPage(cur.Day)
	next := nextCursor(cur, page.NextPage, page.IsCaughtUp, s.api.now().UTC(), s.api.cfg.DayGrace)
	// Caught up only when the API said so for the day we stay on: moving
	// to the next day means there is more to fetch at once.
	b := &Batch{src: s, cursor: next.encode(), caughtUp: page.IsCaughtUp && next.Day == cur.Day, day: cur.Day, page: pageNo, listed: s.api.now()}
	seen := make(map[string]bool, len(page.Value))
	for _, v := range page.Value {
		if v.URL == "" || seen[v.URL] {
			continue
		}
		seen[v.URL] = true
		b.urls = append(b.urls, v.URL)
		exp, _ := time.Parse(time.RFC3339Nano, v.Expiry) // zero when absent or odd
		b.expiry = append(b.expiry, exp)
	}
	s.log.Debug("listed batch files", "day", cur.Day, "files", len(b.urls), "listed", len(page.Value),
		"caught_up", page.IsCaughtUp, "next_day", next.Day)
	return b, nil
}

func (s *Source) list(ctx context.Context, cur Cursor) (*listing, error) {
	q := url.Values{}
	q.Set("type", s.typ)
	q.Set("dateRangeStartsAt", cur.Day)
	q.Set("dateRangeEndsAt", cur.Day)
	q.Set("pageSize", strconv.Itoa(s.api.cfg.PageSize))
	if cur.NextPage != "" {
		q.Set("nextPage", cur.NextPage)
	}
	u := s.api.base + s.prod.listPath + "?" + q.Encode()
	for attempt := 0; ; attempt++ {
		tok, err := s.api.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("listing %s batch files: %w", s.typ, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := s.api.client.Do(req, metrics.EndpointBatchList)
		if err != nil {
			return nil, fmt.Errorf("listing %s batch files for %s: %w", s.typ, cur.Day, err)
		}
		if resp.StatusCode == http.StatusOK {
			defer resp.Body.Close()
			var page listing
			if err := json.NewDecoder(io.LimitReader(resp.Body, maxListBody)).Decode(&page); err != nil {
				return nil, fmt.Errorf("listing %s batch files for %s: decoding the answer: %w", s.typ, cur.Day, err)
			}
			return &page, nil
		}
		apiErr := mimecast.ResponseError(resp, metrics.EndpointBatchList, s.api.secrets)
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			// Whatever the reason (token expired or revoked, secret
			// rotated, another instance's token swap), a new token may
			// help: drop this one and authenticate again, once.
			if attempt == 0 {
				s.log.Info("Mimecast refused the access token, authenticating again", "code", apiErr.Code)
				s.api.tokens.Invalidate(tok)
				continue
			}
			return nil, fmt.Errorf("%w: listing %s batch files: %w", mimecast.ErrAuth, s.typ, apiErr)
		case http.StatusForbidden:
			return nil, fmt.Errorf("%w: %w: listing %s batch files (does the API application have %s?): %w",
				mimecast.ErrAuth, mimecast.ErrForbidden, s.typ, s.prod.permission, apiErr)
		}
		return nil, fmt.Errorf("listing %s batch files for %s: %w", s.typ, cur.Day, apiErr)
	}
}

// Batch is one listing page. It implements source.Batch.
type Batch struct {
	src      *Source
	urls     []string
	expiry   []time.Time // of each URL, as listed (zero if unknown)
	listed   time.Time   // when the page was listed
	cursor   []byte
	caughtUp bool
	day      string
	page     int // listing page of the day, counted since the process began reading it (0: none listed)
}

// Position returns where the stream is: the UTC day listed and the page
// (counted since this process began reading that day), and the day's
// start. It implements source.Positioner.
func (b *Batch) Position() (string, time.Time) {
	at, _ := time.Parse(time.DateOnly, b.day)
	if b.page == 0 {
		return "day " + b.day, at
	}
	return fmt.Sprintf("day %s page %d", b.day, b.page), at
}

// ErrURLExpiredMeanwhile is returned by Records when a batch file URL that
// was valid when listed has expired before its download: the batch took
// too long (the receiver was slow or down). The file is not skipped: the
// pipeline fetches the page again and gets fresh URLs.
var ErrURLExpiredMeanwhile = errors.New("batch file URL expired while the batch was being sent")

// Cursor returns the cursor after this page.
func (b *Batch) Cursor() []byte { return b.cursor }

// CaughtUp reports whether the page said isCaughtUp for a day the stream
// stays on (today, or a day still within its grace): a caught-up page of a
// past day moves the cursor to the next day and is not "caught up".
func (b *Batch) CaughtUp() bool { return b.caughtUp }

// Files returns the number of distinct batch files of the page.
func (b *Batch) Files() int { return len(b.urls) }

// Records downloads the page's batch files in order (each distinct URL
// once) and streams their events to fn. A file answering 403 or 404
// (expired URL) is skipped and counted (files_skipped_total{expired_url});
// a corrupt gzip delivers the records read before the damage and the rest of
// the file is skipped (corrupt_archive); an invalid JSON line is skipped
// (records_skipped_total{invalid_json}) and a line longer than
// MaxLineBytes too (too_large); invalid UTF-8 inside JSON strings is
// replaced by \ufffd and the record counted in records_invalid_utf8_total.
// A line longer than 1 MiB waits for its share of Config.LineBudget. Any
// other download failure (5xx after retries, network error, interrupted
// body) stops Records with an error: the pipeline then fetches the same
// cursor again, so the page is read again from its first file. An error
// returned by fn is returned unchanged.
func (b *Batch) Records(ctx context.Context, fn func(*source.Record) error) error {
	var rec source.Record
	rec.Type = b.src.recType
	for i, u := range b.urls {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.file(ctx, i, u, &rec, fn); err != nil {
			return err
		}
	}
	return nil
}

// bodyError marks an error from reading the HTTP body (not from gunzip).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

type bodyReader struct{ r io.Reader }

func (r bodyReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = &bodyError{err}
	}
	return n, err
}

func (b *Batch) file(ctx context.Context, idx int, rawURL string, rec *source.Record, fn func(*source.Record) error) error {
	s := b.src
	where := fmt.Sprintf("file %d of %d", idx+1, len(b.urls))
	if u, err := url.Parse(rawURL); err == nil {
		where += " (" + mimecast.RedactURL(u) + ")"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		s.skips.File(metrics.ReasonExpiredURL, where, 0, fmt.Errorf("invalid batch file URL: %w", mimecast.RedactError(err)))
		return nil
	}
	// Ask for the bytes as stored: we gunzip ourselves.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := s.api.files.Do(req, metrics.EndpointBatchFile)
	if err != nil {
		return fmt.Errorf("downloading %s batch %s of day %s: %w", s.typ, where, b.day, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		apiErr := mimecast.ResponseError(resp, metrics.EndpointBatchFile, s.api.secrets)
		if exp := b.expiry[idx]; !exp.IsZero() && exp.After(b.listed) && !s.api.now().Before(exp) {
			// Valid when listed, expired by our own delay: skipping it
			// would lose its events. List the page again instead.
			return fmt.Errorf("%s %s of day %s (valid until %s): %w: %w", s.typ, where, b.day,
				exp.UTC().Format(time.RFC3339), ErrURLExpiredMeanwhile, apiErr)
		}
		// Already expired when Mimecast listed it, or gone: Mimecast's
		// stale entry, which no new listing brings back.
		s.skips.File(metrics.ReasonExpiredURL, where, 0, apiErr)
		return nil
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("downloading %s batch %s of day %s: %w", s.typ, where, b.day, mimecast.ResponseError(resp, metrics.EndpointBatchFile, s.api.secrets))
	}
	s.api.m.FilesFetched.WithLabelValues(s.stream).Inc()

	br := bufio.NewReaderSize(bodyReader{resp.Body}, 32<<10)
	var r io.Reader = br
	magic, perr := br.Peek(2)
	switch {
	case len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return b.readFailure(where, 0, err)
		}
		defer zr.Close()
		ra := readahead.New(zr, resp.Body) // inflated ahead with GOMAXPROCS > 1; Close closes the body, then ends the goroutine
		defer ra.Close()
		r = ra
	case perr != nil && len(magic) == 0:
		var be *bodyError
		if errors.As(perr, &be) {
			return fmt.Errorf("downloading %s batch %s of day %s: %w", s.typ, where, b.day, mimecast.RedactError(be.err))
		}
		return nil // empty file
	case magic[0] == '{' || magic[0] == ' ' || magic[0] == '\n' || magic[0] == '\r' || magic[0] == 0xEF:
		s.log.Debug("batch file is not gzip-compressed; reading it as plain NDJSON", "file", where)
	default:
		return b.readFailure(where, 0, errors.New("not a gzip file (bad magic bytes)"))
	}

	sc := jsonl.NewBudgetScanner(ctx, r, s.api.cfg.MaxLineBytes, s.api.cfg.LineBudget)
	defer sc.Close()
	for sc.Scan() {
		line := sc.Bytes()
		if sc.TooLong() {
			s.skips.Record(metrics.ReasonTooLarge, where, sc.LineNo(), line,
				fmt.Errorf("line of %d bytes exceeds the limit of %d", sc.Size(), sc.MaxLine()))
			continue
		}
		if isBlank(line) {
			continue
		}
		out, info, err := sc.Normalize()
		if err != nil {
			reason := metrics.ReasonInvalidJSON
			if errors.Is(err, jsonl.ErrTooLarge) {
				reason = metrics.ReasonTooLarge
			}
			s.skips.Record(reason, where, sc.LineNo(), line, err)
			continue
		}
		if info.Replaced > 0 {
			s.api.m.InvalidUTF8.WithLabelValues(s.stream).Inc()
		}
		rec.JSON = out
		rec.Time = info.Time
		rec.Fields = appendFields(rec.Fields[:0], out, info.Members)
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return err
		}
		return b.readFailure(where, sc.LineNo(), err)
	}
	return nil
}

// readFailure classifies a read error: an error of the HTTP body fails the
// batch, anything else (gzip header, checksum, truncated or corrupt deflate
// stream) skips the rest of the file as corrupt_archive.
func (b *Batch) readFailure(where string, lineNo int, err error) error {
	s := b.src
	var be *bodyError
	if errors.As(err, &be) {
		return fmt.Errorf("downloading %s batch %s of day %s (after line %d): %w", s.typ, where, b.day, lineNo, mimecast.RedactError(be.err))
	}
	s.skips.File(metrics.ReasonCorruptArchive, where, lineNo, err)
	return nil
}

// appendFields appends the members located in out as source.Record.Fields
// (with JSON) has them. None located (an object with too many) gives an
// empty Fields: the formatter then reads the JSON.
func appendFields(fields []source.Field, out []byte, members []jsonl.Member) []source.Field {
	n := len(fields)
	fields = slices.Grow(fields, len(members))[:n+len(members)]
	for i, m := range members {
		f := &fields[n+i]
		f.Key = out[m.Key:m.KeyEnd]
		f.Value = out[m.Value:m.ValueEnd]
		if f.Value[0] == '"' {
			f.Value = f.Value[1 : len(f.Value)-1]
		}
	}
	return fields
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
