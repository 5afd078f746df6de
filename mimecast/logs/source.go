package logs

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// Poster sends an authenticated JSON POST to the Mimecast API. api2.API
// (bearer token, re-authenticating once on 401) and api1.Poster (HMAC
// signature) implement it.
type Poster interface {
	// PostJSON posts body to path (e.g. "/api/dlp/get-logs") and returns
	// the body of the 200 answer. A 403 is an error wrapping
	// mimecast.ErrForbidden; refused credentials wrap mimecast.ErrAuth;
	// other failures are *mimecast.APIError after the client's retries.
	// endpoint labels the metrics. Errors are scrubbed of the credentials.
	PostJSON(ctx context.Context, path, endpoint string, body []byte) ([]byte, error)
}

// Defaults and limits of Config.
const (
	DefaultWindow   = time.Hour
	MinWindow       = time.Minute
	MaxWindow       = 24 * time.Hour
	DefaultLookback = 24 * time.Hour
	DefaultPageSize = 100
	MaxPageSize     = 500 // what Sentinel and XSOAR use
)

// Config configures the log sources. Zero values take the defaults.
type Config struct {
	// Poster authenticates the calls. Required.
	Poster Poster
	// Window is the longest time window one cursor covers
	// (MIMECAST_LOG_WINDOW). Default DefaultWindow.
	Window time.Duration
	// Lookback is how far back a stream without cursor starts
	// (MIMECAST_LOOKBACK), clamped to each endpoint's MaxLookback.
	Lookback time.Duration
	// PageSize is the records asked per page (MIMECAST_LOG_PAGE_SIZE).
	// Default DefaultPageSize.
	PageSize int
	// Strict names the streams whose 403 is an error rather than a warning
	// and an hourly retry (streams named explicitly, in --once or check).
	Strict map[string]bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every invalid setting, one line each.
func (c Config) Validate() error {
	var errs []error
	if c.Poster == nil {
		errs = append(errs, errors.New("logs: a Poster is required"))
	}
	if c.Window != 0 && (c.Window < MinWindow || c.Window > MaxWindow) {
		errs = append(errs, fmt.Errorf("MIMECAST_LOG_WINDOW must be between %s and %s (got %s)", MinWindow, MaxWindow, c.Window))
	}
	if c.Lookback < 0 {
		errs = append(errs, fmt.Errorf("MIMECAST_LOOKBACK must not be negative (got %s)", c.Lookback))
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		errs = append(errs, fmt.Errorf("MIMECAST_LOG_PAGE_SIZE must be between 1 and %d (got %d)", MaxPageSize, c.PageSize))
	}
	return errors.Join(errs...)
}

// NewSources validates cfg and returns one Source per endpoint, in the
// order given. m and log must not be nil.
func NewSources(cfg Config, endpoints []Endpoint, m *metrics.Metrics, log *slog.Logger) ([]source.Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Lookback == 0 {
		cfg.Lookback = DefaultLookback
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	out := make([]source.Source, 0, len(endpoints))
	for _, ep := range endpoints {
		l := log.With("stream", ep.Stream)
		lookback := cfg.Lookback
		if lookback > ep.MaxLookback {
			l.Warn("MIMECAST_LOOKBACK exceeds what this endpoint serves; clamped", "lookback", lookback, "max", ep.MaxLookback)
			lookback = ep.MaxLookback
		}
		m.InitStream(ep.Stream)
		out = append(out, &Source{
			ep: ep, cfg: cfg, lookback: lookback, m: m, log: l,
			skips:   mimecast.NewSkipReporter(ep.Stream, m, l),
			refusal: mimecast.NewRefusal(ep.Stream, ep.Permission, cfg.Strict[ep.Stream], m, l, cfg.Now),
		})
	}
	return out, nil
}

// Source reads one log endpoint. It implements source.Source.
type Source struct {
	ep       Endpoint
	cfg      Config
	lookback time.Duration
	m        *metrics.Metrics
	log      *slog.Logger
	skips    *mimecast.SkipReporter
	refusal  *mimecast.Refusal
}

// Stream returns the stream name.
func (s *Source) Stream() string { return s.ep.Stream }

// Endpoint returns the endpoint the source reads.
func (s *Source) Endpoint() Endpoint { return s.ep }

// Cursor is the decoded cursor of a log stream.
type Cursor struct {
	V int `json:"v"`
	// From and To bound the window (RFC 3339, UTC, whole seconds, both
	// inclusive). An empty To means the window is not opened yet: the next
	// fetch opens [From, min(From+Window, now)].
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// PageToken is Mimecast's "next" of the last page delivered.
	PageToken string `json:"pageToken,omitempty"`
	// Page counts the pages delivered in this window.
	Page int `json:"page,omitempty"`
	// Skip holds the keys of the records dated From that the previous
	// window delivered (a multiset).
	Skip []string `json:"skip,omitempty"`
	// Edge holds the keys of the records dated To delivered so far.
	Edge []string `json:"edge,omitempty"`
}

// ParseCursor decodes and checks a stored cursor.
func ParseCursor(b []byte) (Cursor, error) {
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return Cursor{}, fmt.Errorf("invalid log cursor %q: %w", mimecast.Preview(b), err)
	}
	if c.V != 1 {
		return Cursor{}, fmt.Errorf("invalid log cursor %q: unsupported version %d", mimecast.Preview(b), c.V)
	}
	if _, err := time.Parse(time.RFC3339, c.From); err != nil {
		return Cursor{}, fmt.Errorf("invalid log cursor %q: bad from: %w", mimecast.Preview(b), err)
	}
	if c.To != "" {
		if _, err := time.Parse(time.RFC3339, c.To); err != nil {
			return Cursor{}, fmt.Errorf("invalid log cursor %q: bad to: %w", mimecast.Preview(b), err)
		}
	}
	return c, nil
}

func (c Cursor) encode() []byte {
	b, _ := json.Marshal(c) // cannot fail
	return b
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func mustTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s) // checked by ParseCursor
	return t
}

// startCursor returns the cursor to fetch from: cursor decoded (moved
// forward when older than the endpoint serves), or the look-back start.
func (s *Source) startCursor(cursor []byte) (Cursor, error) {
	now := s.cfg.Now().UTC().Truncate(time.Second)
	oldest := now.Add(-s.ep.MaxLookback)
	if cursor == nil {
		return Cursor{V: 1, From: stamp(now.Add(-s.lookback))}, nil
	}
	c, err := ParseCursor(cursor)
	if err != nil {
		return Cursor{}, source.Permanent(fmt.Errorf("stream %s: %w", s.ep.Stream, err))
	}
	if mustTime(c.From).Before(oldest) {
		s.log.Warn("stored cursor is older than this endpoint serves; data in between is lost, continuing from the oldest available time",
			"cursor_from", c.From, "new_from", stamp(oldest), "max_lookback", s.ep.MaxLookback)
		c = Cursor{V: 1, From: stamp(oldest)}
	}
	return c, nil
}

// answer is the envelope of every log endpoint's answer.
type answer struct {
	Meta struct {
		Pagination struct {
			Next string `json:"next"`
		} `json:"pagination"`
	} `json:"meta"`
	Data []json.RawMessage `json:"data"`
	Fail []json.RawMessage `json:"fail"`
}

// maxAnswer bounds one page's answer.
const maxAnswer = 64 << 20

// Fetch asks for the page that follows cursor and returns it as a Batch.
func (s *Source) Fetch(ctx context.Context, cursor []byte) (source.Batch, error) {
	cur, err := s.startCursor(cursor)
	if err != nil {
		return nil, err
	}
	if s.refusal.Waiting() {
		return &Batch{cursor: cur.encode(), caughtUp: true, position: mustTime(cur.From)}, nil
	}
	now := s.cfg.Now().UTC().Truncate(time.Second)
	from := mustTime(cur.From)
	if cur.To == "" {
		to := from.Add(s.cfg.Window)
		if to.After(now) {
			to = now
		}
		if !to.After(from) {
			// Nothing can have happened since the last window: caught up.
			return &Batch{cursor: cur.encode(), caughtUp: true, position: from}, nil
		}
		cur.To = stamp(to)
	}
	to := mustTime(cur.To)
	body, err := s.request(cur, from, to)
	if err != nil {
		return nil, err
	}
	raw, err := s.cfg.Poster.PostJSON(ctx, s.ep.Path, s.ep.Metric, body)
	if err != nil {
		if errors.Is(err, mimecast.ErrForbidden) {
			if err := s.refusal.Refused(err); err != nil {
				return nil, err
			}
			// Keep the cursor as it was: nothing was read.
			keep := cursor
			if keep == nil {
				keep = Cursor{V: 1, From: cur.From}.encode()
			}
			return &Batch{cursor: keep, caughtUp: true, position: from}, nil
		}
		return nil, fmt.Errorf("stream %s: window %s..%s page %d: %w", s.ep.Stream, cur.From, cur.To, cur.Page+1, err)
	}
	s.refusal.Granted()
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("stream %s: the answer does not parse: %w", s.ep.Stream, err)
	}
	if len(a.Fail) > 0 {
		code, msg := mimecast.ParseErrorBody(raw, nil)
		return nil, fmt.Errorf("stream %s: Mimecast answered 200 with an error: %w",
			s.ep.Stream, &mimecast.APIError{Endpoint: s.ep.Metric, StatusCode: 200, Code: code, Message: msg, Attempts: 1})
	}
	recs, err := s.records(a.Data)
	if err != nil {
		return nil, err
	}
	return s.batch(cur, from, to, recs, a.Meta.Pagination.Next), nil
}

// request builds the request body for the window and page of cur.
func (s *Source) request(cur Cursor, from, to time.Time) ([]byte, error) {
	pag := map[string]any{"pageSize": s.cfg.PageSize}
	if cur.PageToken != "" {
		pag["pageToken"] = cur.PageToken
	}
	d := map[string]any{s.ep.FromField: formatTime(from), s.ep.ToField: formatTime(to)}
	if s.ep.OldestFirst {
		d["oldestFirst"] = true
	}
	return json.Marshal(map[string]any{"meta": map[string]any{"pagination": pag}, "data": []any{d}})
}

// records returns the records of data: data itself, or data[0].<Records>.
func (s *Source) records(data []json.RawMessage) ([]json.RawMessage, error) {
	if s.ep.Records == "" {
		return data, nil
	}
	if len(data) == 0 {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data[0], &obj); err != nil {
		return nil, fmt.Errorf("stream %s: data[0] is not an object: %w", s.ep.Stream, err)
	}
	v, ok := obj[s.ep.Records]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(v, &recs); err != nil {
		return nil, fmt.Errorf("stream %s: data[0].%s is not an array: %w", s.ep.Stream, s.ep.Records, err)
	}
	return recs, nil
}

// batch filters the page's records (window and boundary) and computes the
// cursor that follows the page.
func (s *Source) batch(cur Cursor, from, to time.Time, recs []json.RawMessage, next string) *Batch {
	skip := make(map[string]int, len(cur.Skip))
	for _, k := range cur.Skip {
		skip[k]++
	}
	edge := append([]string(nil), cur.Edge...)
	b := &Batch{typ: s.ep.Stream, position: from, label: fmt.Sprintf("window %s..%s page %d", cur.From, cur.To, cur.Page+1)}
	outside := 0
	where := fmt.Sprintf("window %s..%s page %d", cur.From, cur.To, cur.Page+1)
	for i, r := range recs {
		js, err := jsonl.Normalize(nil, r)
		if err != nil {
			s.skips.Record(metrics.ReasonInvalidJSON, where, i+1, r, err)
			continue
		}
		t, ok := s.recordTime(js)
		if ok {
			sec := t.Truncate(time.Second)
			if sec.Before(from) || sec.After(to) {
				outside++
				continue
			}
			k := key(js)
			if sec.Equal(from) && skip[k] > 0 {
				skip[k]--
				outside++
				continue
			}
			if sec.Equal(to) {
				edge = append(edge, k)
			}
		}
		b.recs = append(b.recs, js)
		b.times = append(b.times, t)
	}
	if outside > 0 {
		s.log.Debug("records not forwarded: outside the window or already sent at its start", "count", outside, "where", where)
	}
	done := len(recs) == 0 || next == ""
	if !done {
		b.cursor = Cursor{V: 1, From: cur.From, To: cur.To, PageToken: next, Page: cur.Page + 1, Skip: cur.Skip, Edge: edge}.encode()
		return b
	}
	b.cursor = Cursor{V: 1, From: cur.To, Skip: edge}.encode()
	// A window cut short by now is the last one for now.
	b.caughtUp = to.Sub(from) < s.cfg.Window
	return b
}

// recordTime returns the record's own time from its TimeField.
func (s *Source) recordTime(js []byte) (time.Time, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(js, &obj) != nil {
		return time.Time{}, false
	}
	var v string
	if json.Unmarshal(obj[s.ep.TimeField], &v) != nil || v == "" {
		return time.Time{}, false
	}
	t, err := ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// key identifies a record for the boundary dedupe: a hash of its compact
// JSON (ids are not reliable: the samples show one audit id on different
// events, and most endpoints have none).
func key(js []byte) string {
	h := sha256.Sum256(js)
	return base64.RawStdEncoding.EncodeToString(h[:15])
}

// Batch is one page of a log endpoint. It implements source.Batch.
type Batch struct {
	typ      string
	recs     [][]byte
	times    []time.Time
	cursor   []byte
	caughtUp bool
	position time.Time
	label    string
}

// Records streams the page's records to fn, in the order Mimecast sent
// them.
func (b *Batch) Records(ctx context.Context, fn func(*source.Record) error) error {
	rec := source.Record{Type: b.typ}
	for i, js := range b.recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec.JSON, rec.Time = js, b.times[i]
		if err := fn(&rec); err != nil {
			return err
		}
	}
	return nil
}

// Cursor returns the cursor after this page.
func (b *Batch) Cursor() []byte { return b.cursor }

// CaughtUp reports whether the page ended a window cut short by now.
func (b *Batch) CaughtUp() bool { return b.caughtUp }

// Len returns the number of records the page delivers.
func (b *Batch) Len() int { return len(b.recs) }

// Position returns where the stream is: the window and page, and the
// window's start.
func (b *Batch) Position() (string, time.Time) { return b.label, b.position }
