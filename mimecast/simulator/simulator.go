// Package simulator is a built-in simulator of the Mimecast API 2.0 SIEM
// batch API (OAuth2 client credentials, GET /siem/v1/batch/events/cg and the
// pre-signed gzip NDJSON batch files it links to).
//
// It is usable like net/http/httptest from tests (NewServer) and is served by
// the `mimecast-forwarder simulate` command (ListenAndServe). Everything it
// serves is a pure function of (Seed, type, file index, record index) and of
// the publication schedule, so tests can compute exactly which events exist
// (Published, File, Event) and check exactly-once delivery.
//
// Publication schedule, per log type: History/Cadence historical files are
// published at Epoch+Cadence, Epoch+2*Cadence, … where Epoch is the creation
// time truncated to Cadence minus History. After that, one live file per
// LiveInterval of wall-clock (Options.Now) time. A file's events have
// timestamps inside the window that ends at its publication time.
//
// Fault injection options reproduce documented real failures (429, 5xx,
// token expiry, expired URLs, corrupt or truncated gzip, bad JSON lines,
// duplicate URLs, very long lines); Stats counts what happened.
package simulator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Default credentials accepted by the simulator when Options.ClientID and
// Options.ClientSecret are empty. They are documented constants for demos,
// not secrets.
const (
	DefaultClientID     = "simulator-client"
	DefaultClientSecret = "simulator-secret"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultTokenTTL       = 1799 * time.Second
	DefaultHistory        = 48 * time.Hour
	DefaultCadence        = 15 * time.Minute
	DefaultLiveInterval   = 10 * time.Second
	DefaultRecordsPerFile = 20
	DefaultURLTTL         = 15 * time.Minute
	DefaultRateLimit      = 600
	DefaultRateWindow     = time.Minute
	DefaultFaultReset     = 1000 * time.Millisecond
	DefaultLongLineBytes  = 4 << 20
	DefaultPageSize       = 100
	// MaxPageSize is the largest pageSize the listing accepts.
	MaxPageSize = 100
)

// Endpoint names used as keys of Stats.Requests.
const (
	EndpointToken   = "token"
	EndpointBatch   = "batch"
	EndpointStorage = "storage"
	EndpointOther   = "other"
)

// Types lists the canonical Mimecast CG log types (API 2.0 spelling), the
// default value of Options.Types.
var allTypes = []string{
	"receipt", "process", "delivery", "av", "spam", "internal email protect",
	"impersonation protect", "url protect", "attachment protect", "journal",
}

// AllTypes returns the ten canonical Mimecast CG log types.
func AllTypes() []string { return append([]string(nil), allTypes...) }

// Options configures a Simulator. The zero value is valid: every zero field
// takes the documented default. Durations and counts that can be disabled
// say so (negative or zero).
type Options struct {
	// ClientID and ClientSecret are the accepted OAuth2 client credentials.
	// Default DefaultClientID / DefaultClientSecret.
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of issued access tokens (expires_in).
	// Default DefaultTokenTTL (1799 s). Set it short to provoke token_expired.
	TokenTTL time.Duration

	// Seed makes the generated data (and the signing keys) deterministic.
	// Two simulators with the same Seed, ClientSecret and Now serve the same
	// files, URLs and tokens. Default 0 (a valid seed).
	Seed uint64
	// Types restricts the published log types. Default: all ten (AllTypes).
	Types []string
	// History is how much simulated history exists at creation time.
	// Default DefaultHistory (48h). Negative: no history.
	History time.Duration
	// Cadence is the publication interval of historical files. Default
	// DefaultCadence (15 min, as Mimecast).
	Cadence time.Duration
	// LiveInterval publishes one new file per type each interval after
	// creation. Default DefaultLiveInterval (10 s). Negative: no live files.
	LiveInterval time.Duration
	// RecordsPerFile is the number of events per batch file. Default 20.
	RecordsPerFile int
	// URLTTL is the validity of pre-signed batch file URLs. Default 15 min.
	URLTTL time.Duration
	// BaseURL, if set (http(s)://host[:port], e.g. "http://simulator:8080"),
	// is used to build batch file URLs instead of the scheme and Host of the
	// listing request.
	BaseURL string

	// RateLimit is the number of API requests (token and listing, not
	// storage) allowed per RateWindow, refilled continuously (token bucket).
	// Default DefaultRateLimit (600). Negative: unlimited (headers still sent).
	RateLimit  int
	RateWindow time.Duration // default DefaultRateWindow (1 min)

	// Fault injection. Every "…Every N" field is 0 (off) or N ≥ 1.
	//
	// RateLimitEvery: every Nth API request is answered 429
	// rate_limit_exceeded with X-RateLimit-Remaining 0 and X-RateLimit-Reset
	// FaultReset (ms).
	RateLimitEvery int
	// FaultReset is the X-RateLimit-Reset of injected 429s. Default 1000 ms.
	FaultReset time.Duration
	// ServerErrorEvery: every Nth API request is answered 500 (odd
	// occurrences) or 503 (even occurrences). RateLimitEvery wins on ties.
	ServerErrorEvery int
	// ExpiredURLEvery: files whose index%N == N-1 are listed with an already
	// expired URL, so downloading them answers 403 AccessDenied.
	ExpiredURLEvery int
	// CorruptGzipEvery: files whose index%N == N-1 are served as a valid gzip
	// prefix (the first half of the records) followed by garbage.
	CorruptGzipEvery int
	// TruncatedGzipEvery: files whose index%N == N-1 are served as a gzip
	// stream cut after the first half of the records (no trailer).
	TruncatedGzipEvery int
	// BadJSONLineEvery: in files whose index%N == N-1 the record at index
	// RecordsPerFile/2 is an invalid JSON line.
	BadJSONLineEvery int
	// DuplicateURLEvery: files whose index%N == N-1 are listed twice in a row
	// in the same page (when the page has room for the copy).
	DuplicateURLEvery int
	// LongLineEvery: in files whose index%N == N-1 the last record carries a
	// "headers" field of LongLineBytes bytes (valid JSON, one very long line).
	LongLineEvery int
	// LongLineBytes is the padding of long lines. Default 4 MiB.
	LongLineBytes int

	// Now is the clock. Default time.Now. Tests inject a controllable clock.
	Now func() time.Time
	// Logger receives one line per request (never credentials or tokens).
	// Default: discard.
	Logger *slog.Logger

	// V1 configures the API 1.0 endpoint POST /api/audit/get-siem-logs
	// (see v1.go).
	V1 V1Options

	// NoCI makes GET /siem/v1/batch/events/ci answer 403, as for an
	// account without Email Security Cloud Integrated. Default: the three
	// CI types (CITypes) are published on the same schedule as CG.
	NoCI bool

	// Logs configures the log endpoints (audit, DLP, TTP, held release,
	// archive search; see logs.go).
	Logs LogOptions

	// CacheBytes, when > 0, keeps the bytes of served API 2.0 batch files
	// (those without content faults) and API 1.0 zips in memory up to this
	// budget, so that serving a file again (or listing its size) costs no
	// compression; Prepare fills it ahead. Default 0: every file is
	// generated per request, in bounded memory.
	CacheBytes int64
}

// Simulator is the Mimecast API simulator. It is safe for concurrent use.
type Simulator struct {
	opts    Options
	now     func() time.Time
	log     *slog.Logger
	types   map[string]int // canonical type -> position in opts.Types
	epoch   time.Time      // publication time of "file -1" (history start)
	histN   int            // number of historical files
	liveAt  time.Time      // start of the live schedule (epoch+histN*cadence)
	macKey  []byte
	pools   pools
	limiter *limiter
	stats   statsCounter
	sizes   sizeCache
	cache   fileCache

	mu       sync.Mutex
	apiSeq   int64 // API requests seen (for every-Nth faults)
	errSeq   int64 // injected 5xx count
	tokenSeq int64 // tokens issued (token nonce)
	logSeq   int64 // log endpoint requests seen (for FailEvery)

	srvMu    sync.Mutex
	listener net.Listener
	server   *http.Server

	v1 v1State // API 1.0 state (v1.go)
}

// New validates opts, applies defaults and returns a Simulator. The
// publication schedule is anchored at opts.Now() at this moment.
func New(opts Options) (*Simulator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	s := &Simulator{opts: o, now: o.Now, log: o.Logger, types: make(map[string]int)}
	for i, t := range o.Types {
		s.types[t] = i
	}
	if !o.NoCI {
		for i, t := range ciTypes {
			s.types[t] = len(o.Types) + i
		}
	}
	t0 := s.now().UTC()
	base := t0.Truncate(o.Cadence)
	if o.History > 0 {
		s.histN = int(o.History / o.Cadence)
	}
	s.epoch = base.Add(-time.Duration(s.histN) * o.Cadence)
	s.liveAt = base
	h := hmac.New(sha256.New, []byte("mimecast-simulator/keys/v1"))
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], o.Seed)
	h.Write(seed[:])
	h.Write([]byte(o.ClientSecret))
	s.macKey = h.Sum(nil)
	s.limiter = newLimiter(o.RateLimit, o.RateWindow, t0)
	s.stats.init()
	s.sizes.m = make(map[sizeKey]int64)
	s.cache.max = o.CacheBytes
	return s, nil
}

// Validate reports every problem of o (joined, one line each). New calls it.
func (o Options) Validate() error {
	var errs []error
	neg := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("simulator: %s must be >= 0, got %d", name, v))
		}
	}
	neg("RecordsPerFile", o.RecordsPerFile)
	neg("RateLimitEvery", o.RateLimitEvery)
	neg("ServerErrorEvery", o.ServerErrorEvery)
	neg("ExpiredURLEvery", o.ExpiredURLEvery)
	neg("CorruptGzipEvery", o.CorruptGzipEvery)
	neg("TruncatedGzipEvery", o.TruncatedGzipEvery)
	neg("BadJSONLineEvery", o.BadJSONLineEvery)
	neg("DuplicateURLEvery", o.DuplicateURLEvery)
	neg("LongLineEvery", o.LongLineEvery)
	neg("LongLineBytes", o.LongLineBytes)
	if o.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("simulator: CacheBytes must be >= 0, got %d", o.CacheBytes))
	}
	if o.TokenTTL < 0 {
		errs = append(errs, fmt.Errorf("simulator: TokenTTL must be >= 0, got %s", o.TokenTTL))
	}
	if o.Cadence < 0 {
		errs = append(errs, fmt.Errorf("simulator: Cadence must be >= 0, got %s", o.Cadence))
	}
	if o.URLTTL < 0 {
		errs = append(errs, fmt.Errorf("simulator: URLTTL must be >= 0, got %s", o.URLTTL))
	}
	if o.RateWindow < 0 {
		errs = append(errs, fmt.Errorf("simulator: RateWindow must be >= 0, got %s", o.RateWindow))
	}
	if o.FaultReset < 0 {
		errs = append(errs, fmt.Errorf("simulator: FaultReset must be >= 0, got %s", o.FaultReset))
	}
	if o.Cadence > 0 && o.History > 0 && o.History/o.Cadence > 1_000_000 {
		errs = append(errs, fmt.Errorf("simulator: History/Cadence must be at most 1000000 files, got %d", o.History/o.Cadence))
	}
	seen := map[string]bool{}
	for _, t := range o.Types {
		if !isKnownType(t) {
			errs = append(errs, fmt.Errorf("simulator: unknown log type %q in Types (want one of %s)", t, strings.Join(allTypes, ", ")))
		} else if seen[t] {
			errs = append(errs, fmt.Errorf("simulator: duplicate log type %q in Types", t))
		}
		seen[t] = true
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("simulator: BaseURL %q must be http(s)://host[:port] without path or query", o.BaseURL))
		}
	}
	if err := o.V1.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.Logs.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isKnownType(t string) bool {
	for _, a := range allTypes {
		if a == t {
			return true
		}
	}
	return false
}

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if len(o.Types) == 0 {
		o.Types = AllTypes()
	} else {
		o.Types = append([]string(nil), o.Types...)
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.Cadence == 0 {
		o.Cadence = DefaultCadence
	}
	if o.LiveInterval == 0 {
		o.LiveInterval = DefaultLiveInterval
	}
	if o.RecordsPerFile == 0 {
		o.RecordsPerFile = DefaultRecordsPerFile
	}
	if o.URLTTL == 0 {
		o.URLTTL = DefaultURLTTL
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateWindow == 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.FaultReset == 0 {
		o.FaultReset = DefaultFaultReset
	}
	if o.LongLineBytes == 0 {
		o.LongLineBytes = DefaultLongLineBytes
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Options returns the effective options (defaults applied).
func (s *Simulator) Options() Options { return s.opts }

// Credentials returns the accepted client ID and client secret.
func (s *Simulator) Credentials() (clientID, clientSecret string) {
	return s.opts.ClientID, s.opts.ClientSecret
}

// Handler returns the HTTP handler serving the whole simulated API.
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.logRequests(mux)
}

// routes registers every endpoint: API 2.0 (token, batch listing), the
// pre-signed storage, and API 1.0 (POST /api/audit/get-siem-logs, v1.go).
// API endpoints go through s.api (rate limit + injected faults), others
// through s.endpoint (Stats only).
func (s *Simulator) routes(mux *http.ServeMux) {
	mux.Handle("POST /oauth/token", s.api(EndpointToken, s.handleToken))
	mux.Handle("GET /siem/v1/batch/events/cg", s.api(EndpointBatch, s.handleBatch))
	mux.Handle("GET /siem/v1/batch/events/ci", s.api(EndpointBatch, s.handleCIBatch))
	mux.Handle("GET /storage/", s.endpoint(EndpointStorage, http.HandlerFunc(s.handleStorage)))
	mux.Handle("POST "+V1Path, s.api(EndpointSIEMv1, s.handleSIEMv1))
	for _, ep := range logEndpoints {
		mux.Handle("POST "+ep.path, s.api(EndpointLogs, s.handleLogs(ep)))
	}
	mux.Handle("/", s.endpoint(EndpointOther, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeFail(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})))
}

// NewServer creates a Simulator and serves it on a fresh 127.0.0.1 port, like
// httptest.NewServer. Call Close when done.
func NewServer(opts Options) (*Simulator, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: listen on 127.0.0.1:0: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.srvMu.Lock()
	s.listener, s.server = ln, srv
	s.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// URL returns the base URL ("http://127.0.0.1:PORT") of a simulator started
// by NewServer, or "" otherwise.
func (s *Simulator) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// Close stops a server started by NewServer, closing all connections. It is
// safe to call more than once and on a Simulator not started by NewServer.
func (s *Simulator) Close() {
	s.srvMu.Lock()
	srv := s.server
	s.server = nil
	s.srvMu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// ListenAndServe serves the simulator on addr until ctx is cancelled, then
// shuts down gracefully (up to 5 s for in-flight requests). It returns nil
// after a shutdown caused by ctx.
func (s *Simulator) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves the simulator on ln until ctx is cancelled (graceful shutdown).
func (s *Simulator) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("mimecast simulator listening", "addr", ln.Addr().String(),
		"client_id", s.opts.ClientID, "types", len(s.opts.Types),
		"history_files_per_type", s.histN, "live_interval", s.opts.LiveInterval.String(),
		"records_per_file", s.opts.RecordsPerFile)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("simulator: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("simulator: shutdown: %w", err)
	}
	s.log.Info("mimecast simulator stopped")
	return nil
}

// statusWriter records the status code and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type endpointKey struct{}

// endpoint tags the request with its endpoint name for Stats.
func (s *Simulator) endpoint(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(endpointKey{}).(*string); ok {
			*p = name
		}
		h.ServeHTTP(w, r)
	})
}

// logRequests counts every request per endpoint and status and logs it. Only
// method, path (never the query: it holds signatures and page tokens),
// status, size and duration are logged.
func (s *Simulator) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ep := EndpointOther
		r = r.WithContext(context.WithValue(r.Context(), endpointKey{}, &ep))
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.stats.request(ep, sw.status)
		s.log.Info("simulator request", "method", r.Method, "path", r.URL.Path,
			"endpoint", ep, "status", sw.status, "bytes", sw.bytes,
			"duration_ms", time.Since(start).Milliseconds())
	})
}
