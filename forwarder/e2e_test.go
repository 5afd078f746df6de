package forwarder_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/mimecast-forwarder/mimecast-forwarder/checkpoint"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/transport"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// received is one message as the receiver got it.
type received struct {
	key string // "MSGID MSG"
	ts  string // TIMESTAMP as written
}

// receiver is a syslog receiver on loopback TCP: it splits on LF, parses
// every line with go-syslog's RFC5424 parser and counts every MSG.
type receiver struct {
	t        *testing.T
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]bool
	msgs     map[string]int // "MSGID MSG" → times received
	log      []received     // every message in order of arrival
	total    int
	accepted int
	errs     []error
	dropAt   int // close the connection when total reaches this (0: never)
	wg       sync.WaitGroup
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, ln: ln, conns: map[net.Conn]bool{}, msgs: map[string]int{}}
	r.wg.Go(r.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		r.dropAll()
		r.wg.Wait()
	})
	return r
}

func (r *receiver) addr() string { return "tcp://" + r.ln.Addr().String() }

func (r *receiver) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns[c] = true
		r.accepted++
		r.mu.Unlock()
		r.wg.Go(func() { r.read(c) })
	}
}

func (r *receiver) read(c net.Conn) {
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		_ = c.Close()
	}()
	parser := rfc5424.NewParser()
	br := bufio.NewReaderSize(c, 1<<20)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if line != "" && !errors.Is(err, net.ErrClosed) {
				r.fail(fmt.Errorf("unterminated line at close: %.80q", line))
			}
			return
		}
		msg, perr := parser.Parse([]byte(strings.TrimSuffix(line, "\n")))
		if perr != nil {
			r.fail(fmt.Errorf("RFC5424 parse: %v: %.200q", perr, line))
			continue
		}
		m := msg.(*rfc5424.SyslogMessage)
		if m.Hostname == nil || *m.Hostname != "e2e-host" || m.Appname == nil || *m.Appname != "mimecast" ||
			m.Message == nil || m.MsgID == nil || m.ProcID != nil || m.Timestamp == nil {
			r.fail(fmt.Errorf("bad header in %.200q", line))
			continue
		}
		key := *m.MsgID + " " + *m.Message
		r.mu.Lock()
		r.msgs[key]++
		r.log = append(r.log, received{key: key, ts: strings.SplitN(line, " ", 3)[1]})
		r.total++
		drop := r.dropAt > 0 && r.total == r.dropAt
		r.mu.Unlock()
		if drop {
			_ = c.Close()
			return
		}
	}
}

func (r *receiver) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *receiver) dropAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		_ = c.Close()
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

func (r *receiver) dropAfter(n int) {
	r.mu.Lock()
	r.dropAt = n
	r.mu.Unlock()
}

// expected returns every message the simulator has published by now, as
// "MSGID MSG" with MSG exactly as the forwarder must write it, for events
// that can be delivered.
func expected(sim *simulator.Simulator, now time.Time) map[string]bool {
	want := map[string]bool{}
	for _, typ := range simulator.AllTypes() {
		for f, n := range sim.Records(typ, now) {
			if !f.Deliverable(n) {
				continue
			}
			ev := sim.Event(typ, f.Index, n)
			inner := strings.TrimPrefix(string(ev), "{")
			if inner != "}" {
				inner = "," + inner
			}
			want[syslogfmt.MsgID(typ)+` {"mimecast":{"logType":"`+typ+`"`+inner+"}"] = true
		}
	}
	return want
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type harness struct {
	t     *testing.T
	clk   *mimecasttest.Clock
	sim   *simulator.Simulator
	rcv   *receiver
	state string
	log   *slog.Logger
	// replayWindow is the sender's SYSLOG_REPLAY_WINDOW.
	replayWindow time.Duration
	// wrongSecret, when set, is the client secret the forwarder uses
	// instead of the simulator's.
	wrongSecret string
}

func newHarness(t *testing.T, opts simulator.Options) *harness {
	t.Helper()
	clk := mimecasttest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	if opts.History == 0 {
		opts.History = 2 * time.Hour
	}
	if opts.LiveInterval == 0 {
		opts.LiveInterval = time.Minute
	}
	if opts.RecordsPerFile == 0 {
		opts.RecordsPerFile = 7
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	sim, err := simulator.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return &harness{t: t, clk: clk, sim: sim, rcv: newReceiver(t), state: t.TempDir(), replayWindow: transport.DefaultConfig().ReplayWindow,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// instance is one forwarder process: its own metrics, store and sender.
type instance struct {
	fwd       *forwarder.Forwarder
	m         *metrics.Metrics
	store     *checkpoint.Store
	sender    *transport.Sender
	formatter *syslogfmt.Formatter
	sources   []source.Source
}

// simNow is the simulator's time.
func (h *harness) simNow() time.Time { return h.sim.Options().Now() }

// newOutput creates what every forwarder instance of the tests has: its
// metrics, the cursor store in state, the formatter (HOSTNAME e2e-host) and
// a TCP sender to addr.
func newOutput(t *testing.T, log *slog.Logger, state, addr string, body syslogfmt.BodyMode, replay time.Duration) (*metrics.Metrics, *checkpoint.Store, *syslogfmt.Formatter, *transport.Sender) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	store, err := checkpoint.Open(state, log)
	if err != nil {
		t.Fatal(err)
	}
	fcfg := syslogfmt.DefaultConfig()
	fcfg.Hostname = "e2e-host"
	fcfg.Version = "test"
	fcfg.Body = body
	formatter, err := syslogfmt.New(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	tcfg := transport.DefaultConfig()
	tcfg.Addresses = []string{addr}
	tcfg.BackoffMin, tcfg.BackoffMax = 10*time.Millisecond, 100*time.Millisecond
	tcfg.ReplayWindow = replay
	sender, err := transport.New(tcfg, m, log)
	if err != nil {
		t.Fatal(err)
	}
	return m, store, formatter, sender
}

func (h *harness) start(once bool) *instance {
	t := h.t
	t.Helper()
	m, store, formatter, sender := newOutput(t, h.log, h.state, h.rcv.addr(), syslogfmt.BodyJSON, h.replayWindow)
	id, secret := h.sim.Credentials()
	if h.wrongSecret != "" {
		secret = h.wrongSecret
	}
	sources, err := api2.NewSources(api2.Config{
		BaseURL: h.sim.URL(), ClientID: id, ClientSecret: secret,
		Lookback: 6 * time.Hour, PageSize: 3, Now: h.clk.Now,
		Client: mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, RetryMax: 5,
			MaxRateLimitRetries: 20, RateLimitWaitMax: time.Second, Timeout: 10 * time.Second, ResponseHeaderTimeout: 10 * time.Second},
	}, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := forwarder.DefaultConfig()
	pcfg.PollInterval = 20 * time.Millisecond
	pcfg.RetryMin, pcfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	pcfg.Once = once
	pcfg.FetchErrorReason = func(err error) string {
		if errors.Is(err, mimecast.ErrAuth) {
			return metrics.ReasonAuth
		}
		return ""
	}
	fwd, err := forwarder.New(pcfg, sources, formatter, sender, store, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	return &instance{fwd: fwd, m: m, store: store, sender: sender, formatter: formatter, sources: sources}
}

// receiptSource returns the instance's receipt stream alone.
func (h *harness) receiptSource(in *instance) []source.Source {
	for _, s := range in.sources {
		if s.Stream() == "receipt" {
			return []source.Source{s}
		}
	}
	h.t.Fatal("no receipt stream")
	return nil
}

func (in *instance) close() {
	_ = in.sender.Close()
	_ = in.store.Close()
}

func (in *instance) idle() bool {
	for _, st := range in.fwd.Status() {
		if !st.CaughtUp || st.Err != nil {
			return false
		}
	}
	return true
}

func sum(vec *prometheus.CounterVec) float64 {
	total := 0.0
	ch := make(chan prometheus.Metric, 100)
	go func() { vec.Collect(ch); close(ch) }()
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err == nil {
			total += d.GetCounter().GetValue()
		}
	}
	return total
}

// checkExactlyOnce compares what the receiver got with what the simulator
// published.
func (h *harness) checkExactlyOnce(want map[string]bool) {
	t := h.t
	t.Helper()
	h.rcv.mu.Lock()
	defer h.rcv.mu.Unlock()
	for _, err := range h.rcv.errs {
		t.Error(err)
	}
	for msg := range want {
		if n := h.rcv.msgs[msg]; n != 1 {
			t.Errorf("event received %d times, want once: %.160s", n, msg)
		}
	}
	for msg := range h.rcv.msgs {
		if !want[msg] {
			t.Errorf("unexpected message (not byte-for-byte a simulated event): %.300s", msg)
		}
	}
	if h.rcv.total != len(want) {
		t.Errorf("received %d messages, want %d", h.rcv.total, len(want))
	}
}

// TestEndToEndExactlyOnce: simulator → forwarder → TCP receiver. Every
// event arrives exactly once, byte for byte, across a forced reconnect of
// the receiver and a restart of the forwarder from its cursors.
func TestEndToEndExactlyOnce(t *testing.T) {
	h := newHarness(t, simulator.Options{})
	// A short window, so that an idle connection has nothing to replay
	// when the receiver drops it.
	h.replayWindow = 100 * time.Millisecond

	// Phase 1: backfill the history.
	in1 := h.start(false)
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { done1 <- in1.fwd.Run(ctx1) }()
	want := expected(h.sim, h.clk.Now())
	if len(want) < 500 {
		t.Fatalf("simulator published only %d events", len(want))
	}
	eventually(t, "backfill", 60*time.Second, func() bool { return h.rcv.count() >= len(want) && in1.idle() })

	// Phase 2: the receiver drops the connection while the forwarder is
	// idle; new events are published; they come over a new connection.
	time.Sleep(150 * time.Millisecond) // past the replay window: nothing to replay
	h.rcv.dropAll()
	h.clk.Advance(5 * time.Minute)
	want = expected(h.sim, h.clk.Now())
	eventually(t, "events after the receiver dropped the connection", 30*time.Second, func() bool {
		return h.rcv.count() >= len(want) && in1.idle()
	})
	if got := testutil.ToFloat64(in1.m.ReceiverReconnects.WithLabelValues(h.rcv.addr())); got < 1 {
		t.Errorf("receiver_reconnects_total = %v, want ≥ 1", got)
	}

	// Phase 3: stop the forwarder, publish more, start a new one from the
	// cursors on disk.
	cancel1()
	if err := <-done1; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	forwarded1 := sum(in1.m.RecordsForwarded)
	in1.close()
	h.clk.Advance(5 * time.Minute)
	want = expected(h.sim, h.clk.Now())
	in2 := h.start(true)
	defer in2.close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	if err := in2.fwd.Run(ctx2); err != nil {
		t.Fatalf("second run: %v", err)
	}
	eventually(t, "last events", 10*time.Second, func() bool { return h.rcv.count() >= len(want) })
	h.checkExactlyOnce(want)

	if got := forwarded1 + sum(in2.m.RecordsForwarded); int(got) != len(want) {
		t.Errorf("records_forwarded_total over both runs = %v, want %d", got, len(want))
	}
	if got := sum(in2.m.CursorCommits); got < 10 {
		t.Errorf("cursor_commits_total of the second run = %v, want ≥ 10 (one per stream at least)", got)
	}
	for _, st := range in2.fwd.Status() {
		if st.Newest.IsZero() {
			t.Errorf("a stream forwarded nothing in the second run: %+v", st)
		}
	}
}

// TestEndToEndReceiverDropsMidBatch: the receiver closes the connection in
// the middle of a backfill. Nothing is lost; the interrupted batches are
// sent again (at-least-once), so duplicates are bounded by what was in
// flight.
func TestEndToEndReceiverDropsMidBatch(t *testing.T) {
	h := newHarness(t, simulator.Options{RecordsPerFile: 11})
	want := expected(h.sim, h.clk.Now())
	h.rcv.dropAfter(len(want) / 3)
	in := h.start(true)
	defer in.close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := in.fwd.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Run returned: the receiver's kernel acknowledged every batch, but the
	// receiver may still be parsing (with duplicates, count() reaches
	// len(want) before every event is in). Close the sender and wait until
	// the receiver has read every connection to its end.
	if err := in.sender.Close(); err != nil {
		t.Fatalf("closing the sender: %v", err)
	}
	connects := int(sum(in.m.ReceiverConnects))
	eventually(t, "the receiver to read every connection to its end", 10*time.Second, func() bool {
		h.rcv.mu.Lock()
		defer h.rcv.mu.Unlock()
		return h.rcv.accepted >= connects && len(h.rcv.conns) == 0
	})
	h.rcv.mu.Lock()
	defer h.rcv.mu.Unlock()
	dups := 0
	for msg := range want {
		switch n := h.rcv.msgs[msg]; {
		case n == 0:
			t.Errorf("event lost: %.160s", msg)
		case n > 1:
			dups += n - 1
		}
	}
	// The receiver threw away what it had read ahead but not parsed: only
	// the replay window (default 2 s) brings that back. Duplicates: at
	// most what was sent before the drop (all of it within the window in
	// this short test) plus the pages in flight, one per stream.
	if limit := len(want)/3 + 10*3*11; dups > limit {
		t.Errorf("%d duplicates, want ≤ %d", dups, limit)
	}
	// A drop noticed between two batches needs no batch retry: the replay
	// alone brings the lost messages back.
	if got := sum(in.m.ReceiverReplayed); got < 1 {
		t.Errorf("receiver_replayed_total = %v, want ≥ 1", got)
	}
	if h.rcv.accepted < 2 {
		t.Errorf("receiver accepted %d connections, want a reconnect", h.rcv.accepted)
	}
	t.Logf("dropped the connection after %d of %d messages: %d duplicates, %v batch retries", len(want)/3, len(want), dups, sum(in.m.BatchRetries))
}

// checkJSON makes sure the e2e expectation helper builds valid JSON.
func TestExpectedIsJSON(t *testing.T) {
	h := newHarness(t, simulator.Options{History: 30 * time.Minute})
	for msg := range expected(h.sim, h.clk.Now()) {
		body := msg[strings.IndexByte(msg, ' ')+1:]
		var v map[string]map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil || v["mimecast"]["logType"] == nil {
			t.Fatalf("expected message is not the wrapped JSON: %v: %.200s", err, body)
		}
	}
}

// TestEndToEndFaults: each failure the simulator reproduces leads to the
// documented behaviour (retry, skip, re-authenticate) and metric, and every
// deliverable event still arrives exactly once.
func TestEndToEndFaults(t *testing.T) {
	label := func(vec *prometheus.CounterVec, labels ...string) float64 {
		return testutil.ToFloat64(vec.WithLabelValues(labels...))
	}
	cases := []struct {
		name   string
		opts   simulator.Options
		shrunk bool // long lines come out shrunk, not byte-for-byte
		check  func(t *testing.T, m *metrics.Metrics, st simulator.Stats)
	}{
		{"429 with X-RateLimit-Reset", simulator.Options{RateLimitEvery: 4, FaultReset: 30 * time.Millisecond}, false,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sum(m.APIRateLimited); got < 1 {
					t.Errorf("api_rate_limited_total = %v, want ≥ 1", got)
				}
				if got := testutil.ToFloat64(m.APIRateLimitWait); got < 0.03 {
					t.Errorf("api_rate_limit_wait_seconds_total = %v, want ≥ one X-RateLimit-Reset (0.03 s)", got)
				}
			}},
		{"5xx", simulator.Options{ServerErrorEvery: 3}, false,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sum(m.APIRetries); got < 1 {
					t.Errorf("api_retries_total = %v, want ≥ 1", got)
				}
				if got := label(m.APIRequests, metrics.EndpointBatchList, "500") + label(m.APIRequests, metrics.EndpointBatchList, "503") +
					label(m.APIRequests, metrics.EndpointToken, "500") + label(m.APIRequests, metrics.EndpointToken, "503"); got < 1 {
					t.Errorf("api_requests_total{code=5xx} = %v, want ≥ 1", got)
				}
			}},
		{"expired URL", simulator.Options{ExpiredURLEvery: 3}, false,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sum(m.FilesSkipped); got < 1 || got != sumReason(m.FilesSkipped, metrics.ReasonExpiredURL) {
					t.Errorf("files_skipped_total = %v (expired_url %v), want ≥ 1, all expired_url", got, sumReason(m.FilesSkipped, metrics.ReasonExpiredURL))
				}
			}},
		{"corrupt gzip", simulator.Options{CorruptGzipEvery: 3}, false,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sumReason(m.FilesSkipped, metrics.ReasonCorruptArchive); got < 1 {
					t.Errorf("files_skipped_total{reason=corrupt_archive} = %v, want ≥ 1", got)
				}
			}},
		{"truncated gzip", simulator.Options{TruncatedGzipEvery: 4}, false,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sumReason(m.FilesSkipped, metrics.ReasonCorruptArchive); got < 1 {
					t.Errorf("files_skipped_total{reason=corrupt_archive} = %v, want ≥ 1", got)
				}
			}},
		{"bad JSON line", simulator.Options{BadJSONLineEvery: 2}, false,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sumReason(m.RecordsSkipped, metrics.ReasonInvalidJSON); got < 1 {
					t.Errorf("records_skipped_total{reason=invalid_json} = %v, want ≥ 1", got)
				}
			}},
		{"duplicate URLs", simulator.Options{DuplicateURLEvery: 2}, false, nil},
		{"long line", simulator.Options{LongLineEvery: 4, LongLineBytes: 256 << 10}, true,
			func(t *testing.T, m *metrics.Metrics, st simulator.Stats) {
				if got := sum(m.RecordsShrunk); got < 1 {
					t.Errorf("records_shrunk_total = %v, want ≥ 1", got)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.History, opts.RecordsPerFile, opts.LiveInterval = time.Hour, 6, -1
			h := newHarness(t, opts)
			want := expected(h.sim, h.clk.Now())
			in := h.start(true)
			defer in.close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := in.fwd.Run(ctx); err != nil {
				t.Fatalf("Run: %v", err)
			}
			eventually(t, "all deliverable events", 10*time.Second, func() bool { return h.rcv.count() >= len(want) })
			if tc.shrunk {
				h.checkByID(want)
			} else {
				h.checkExactlyOnce(want)
			}
			if tc.check != nil {
				tc.check(t, in.m, h.sim.Stats())
			}
		})
	}
}

// TestEndToEndTokenExpiry: the simulator's clock jumps past the token's
// lifetime while the forwarder still holds it: the API answers 401
// token_expired, the forwarder authenticates again once and goes on.
func TestEndToEndTokenExpiry(t *testing.T) {
	var skew atomic.Int64
	clk := mimecasttest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	h := newHarness(t, simulator.Options{History: time.Hour, RecordsPerFile: 4,
		Now: func() time.Time { return clk.Now().Add(time.Duration(skew.Load())) }})
	h.clk = clk
	in := h.start(false)
	defer in.close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.fwd.Run(ctx) }()
	want := expected(h.sim, h.simNow())
	eventually(t, "backfill", 30*time.Second, func() bool { return h.rcv.count() >= len(want) && in.idle() })
	// Only the simulator's clock moves: its tokens expire, the forwarder's
	// cache still holds one; new files are published meanwhile.
	skew.Store(int64(31 * time.Minute))
	want = expected(h.sim, h.simNow())
	eventually(t, "events after re-authentication", 30*time.Second, func() bool { return h.rcv.count() >= len(want) && in.idle() })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.checkExactlyOnce(want)
	if got := testutil.ToFloat64(in.m.TokenRefreshes); got != 2 {
		t.Errorf("oauth_tokens_total = %v, want 2 (the first and one after token_expired)", got)
	}
	if got := h.sim.Stats(); got.TokensExpired < 1 {
		t.Errorf("simulator answered token_expired %d times, want ≥ 1", got.TokensExpired)
	}
}

func sumReason(vec *prometheus.CounterVec, reason string) float64 {
	total := 0.0
	ch := make(chan prometheus.Metric, 100)
	go func() { vec.Collect(ch); close(ch) }()
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			continue
		}
		for _, l := range d.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == reason {
				total += d.GetCounter().GetValue()
			}
		}
	}
	return total
}

// checkByID is checkExactlyOnce for runs where some messages are shrunk:
// events are matched by aggregateId; unshrunk ones must also be
// byte-for-byte equal.
func (h *harness) checkByID(want map[string]bool) {
	t := h.t
	t.Helper()
	id := func(msg string) string {
		var v struct {
			Mimecast struct {
				AggregateID string `json:"aggregateId"`
			} `json:"mimecast"`
		}
		if err := json.Unmarshal([]byte(msg[strings.IndexByte(msg, ' ')+1:]), &v); err != nil {
			t.Errorf("message is not JSON: %v: %.200s", err, msg)
		}
		return v.Mimecast.AggregateID
	}
	wantByID := map[string]string{}
	for msg := range want {
		wantByID[id(msg)] = msg
	}
	h.rcv.mu.Lock()
	defer h.rcv.mu.Unlock()
	got := map[string]int{}
	for msg, n := range h.rcv.msgs {
		i := id(msg)
		got[i] += n
		w, ok := wantByID[i]
		switch {
		case !ok:
			t.Errorf("unexpected event %q", i)
		case msg != w && !strings.Contains(msg, "…[truncated "):
			t.Errorf("event %s differs and is not marked as shrunk", i)
		case len(msg) > 65000:
			t.Errorf("event %s is %d bytes, over the maximum", i, len(msg))
		}
	}
	for i := range wantByID {
		if got[i] != 1 {
			t.Errorf("event %s received %d times, want once", i, got[i])
		}
	}
}
