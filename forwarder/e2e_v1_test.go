package forwarder_test

// End-to-end tests of the Mimecast API 1.0 source: simulator (API 1.0
// get-siem-logs, HMAC-signed, zip files chained by mc-siem-token) →
// api1.Source → forwarder → transport → loopback TCP receiver that parses
// every line as RFC 5424. Expected messages are computed from the
// simulator's own description of what it serves (V1Event, V1FileInfo,
// V1MemberName, V1Token, V1Published), independently of the source's
// parsing code.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/checkpoint"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// v1PerFile is the number of records in one API 1.0 file of the tests:
// ten log types (one zip member each) of v1Records records.
const (
	v1Records = 5
	v1PerFile = 10 * v1Records
	v1History = 8 // files published at the start (2 h of 15 min files)
)

// v1Want is what must arrive: "MSGID MSG" → TIMESTAMP.
type v1Want map[string]string

// v1Expect computes the messages of files [from, to) as the simulator
// serves them in format and the forwarder must write them with body. A
// corrupt file gives nothing; a truncated json member gives nothing; a
// truncated key_value member gives its whole lines and its cut last line
// (which cannot be told from a short line), only checkable in raw mode.
func v1Expect(t *testing.T, sim *simulator.Simulator, from, to int, format string, body syslogfmt.BodyMode) v1Want {
	t.Helper()
	want := v1Want{}
	for k := from; k < to; k++ {
		info := sim.V1FileInfo(k, format)
		if info.Corrupt {
			continue
		}
		for _, typ := range simulator.AllTypes() {
			truncated := sim.V1MemberName(typ, k, format) == info.TruncatedMember
			if truncated && format == api1.FormatJSON {
				continue
			}
			msgID := strings.ReplaceAll(typ, " ", "-")
			for n := range v1Records {
				js := sim.V1Event(typ, k, n, api1.FormatJSON)
				ts := v1Timestamp(t, js)
				var msg string
				switch {
				case format == api1.FormatKeyValue && body == syslogfmt.BodyRaw:
					line := string(sim.V1Event(typ, k, n, format))
					if truncated && n == v1Records-1 {
						line = line[:len(line)-len(line)/2]
					}
					msg = line
				case truncated:
					t.Fatal("v1Expect: a truncated key_value member can only be checked with the raw body")
				case format == api1.FormatKeyValue:
					msg = wrapJSON(typ, allStrings(t, js))
				default:
					msg = wrapJSON(typ, string(js))
				}
				want[msgID+" "+msg] = ts
			}
		}
	}
	return want
}

// wrapJSON is the JSON body: {"mimecast":{"logType":typ,<fields of obj>}}.
func wrapJSON(typ, obj string) string {
	return `{"mimecast":{"logType":"` + typ + `",` + obj[1:] + "}"
}

// allStrings returns the JSON object js with every value turned into a
// string holding its JSON text, as a key_value line carries it.
func allStrings(t *testing.T, js []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(js))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("simulator event is not an object: %s", js)
	}
	var b strings.Builder
	b.WriteByte('{')
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k.(string))
		b.Write(kb)
		b.WriteByte(':')
		if v[0] == '"' {
			b.Write(v)
		} else {
			b.WriteString(`"` + string(v) + `"`)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// v1Timestamp is the RFC 5424 TIMESTAMP of an event: its "datetime"
// (+hhmm offset) in UTC with milliseconds.
func v1Timestamp(t *testing.T, js []byte) string {
	t.Helper()
	var ev struct {
		Datetime string `json:"datetime"`
	}
	if err := json.Unmarshal(js, &ev); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse("2006-01-02T15:04:05-0700", ev.Datetime)
	if err != nil {
		t.Fatalf("simulator datetime %q: %v", ev.Datetime, err)
	}
	return at.UTC().Format("2006-01-02T15:04:05.000Z")
}

// v1Harness runs forwarders against the simulator's API 1.0.
type v1Harness struct {
	t     *testing.T
	clk   *mimecasttest.Clock
	sim   *simulator.Simulator
	rcv   *receiver
	state string
	spool string
	log   *slog.Logger
}

func newV1Harness(t *testing.T, opts simulator.Options) *v1Harness {
	t.Helper()
	clk := mimecasttest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	opts.History = v1History * 15 * time.Minute
	opts.LiveInterval = time.Minute
	opts.RecordsPerFile = v1Records
	opts.Now = clk.Now
	// Requests are signed with the real clock, the simulator runs on clk.
	opts.V1.MaxClockSkew = 100 * 365 * 24 * time.Hour
	sim, err := simulator.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return &v1Harness{t: t, clk: clk, sim: sim, rcv: newReceiver(t), state: t.TempDir(), spool: t.TempDir(),
		log: slog.New(slog.DiscardHandler)}
}

// v1Run configures one forwarder instance.
type v1Run struct {
	format         string
	body           syslogfmt.BodyMode
	once           bool
	restart        bool
	startTokenFile string
	retryMax       int // of the HTTP client: 0 → 3, negative: none
	// wrap, if set, wraps the sender; store is the instance's cursor store.
	wrap func(next forwarder.Sender, store *checkpoint.Store) forwarder.Sender
}

func (h *v1Harness) start(o v1Run) *instance {
	t := h.t
	t.Helper()
	m, store, formatter, sender := newOutput(t, h.log, h.state, h.rcv.addr(), o.body, 100*time.Millisecond)
	appID, appKey, access, secret := h.sim.V1Credentials()
	cfg := api1.Config{BaseURL: h.sim.URL(), AppID: appID, AppKey: appKey, AccessKey: access, SecretKey: secret,
		FileFormat: o.format, StartTokenFile: o.startTokenFile, RestartOnInvalidToken: o.restart, TempDir: h.spool}
	retryMax := o.retryMax
	if retryMax == 0 {
		retryMax = 3
	}
	client, err := api1.NewClient(cfg, mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond,
		RetryMax: retryMax, MaxRateLimitRetries: 5, RateLimitWaitMax: time.Second, Timeout: 10 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second}, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	src, err := api1.NewSource(cfg, client, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := forwarder.DefaultConfig()
	pcfg.PollInterval = 20 * time.Millisecond
	pcfg.RetryMin, pcfg.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	pcfg.Once = o.once
	var s forwarder.Sender = sender
	if o.wrap != nil {
		s = o.wrap(sender, store)
	}
	fwd, err := forwarder.New(pcfg, []source.Source{src}, formatter, s, store, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	return &instance{fwd: fwd, m: m, store: store, sender: sender}
}

// token returns the API 1.0 token held by the stored cursor ("" if none).
// Call it from the test goroutine only; hooks use loadCursor.
func (h *v1Harness) token(store *checkpoint.Store) string {
	h.t.Helper()
	return h.decode(loadCursor(store))
}

// loadedCursor is what Store.Load returned, for checking later.
type loadedCursor struct {
	raw []byte
	err error
}

// loadCursor reads the stored cursor without failing the test, so that
// hooks running on the forwarder's goroutines can use it.
func loadCursor(store *checkpoint.Store) loadedCursor {
	raw, err := store.Load(api1.StreamName)
	return loadedCursor{raw, err}
}

// decode returns the token of a loaded cursor ("" if none).
func (h *v1Harness) decode(c loadedCursor) string {
	h.t.Helper()
	if c.err != nil {
		h.t.Fatalf("load cursor: %v", c.err)
	}
	if c.raw == nil {
		return ""
	}
	tok, err := api1.DecodeCursor(c.raw)
	if err != nil {
		h.t.Fatalf("stored cursor %s: %v", c.raw, err)
	}
	return tok
}

// storedToken opens the state directory (no forwarder running) and returns
// the stored token.
func (h *v1Harness) storedToken() string {
	h.t.Helper()
	store, err := checkpoint.Open(h.state, h.log)
	if err != nil {
		h.t.Fatal(err)
	}
	defer store.Close()
	return h.token(store)
}

// tokenIndex names a token for messages: "token(k)" or the raw token.
func (h *v1Harness) tokenIndex(tok string) string {
	for k := range 64 {
		if h.sim.V1Token(k) == tok {
			return fmt.Sprintf("token(%d)", k)
		}
	}
	return fmt.Sprintf("%q", tok)
}

func (h *v1Harness) wantToken(got string, k int, when string) {
	h.t.Helper()
	if got != h.sim.V1Token(k) {
		h.t.Errorf("%s: stored cursor is %s, want token(%d)", when, h.tokenIndex(got), k)
	}
}

// runOnce runs a Once-mode instance to its end.
func (h *v1Harness) runOnce(in *instance) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return in.fwd.Run(ctx)
}

// check compares what was received with want: each wanted message with its
// TIMESTAMP, nothing else; dups lists the messages allowed (and required)
// to arrive more than once, with their count.
func (h *v1Harness) check(want v1Want, dups map[string]int) {
	t := h.t
	t.Helper()
	h.rcv.mu.Lock()
	defer h.rcv.mu.Unlock()
	for _, err := range h.rcv.errs {
		t.Error(err)
	}
	bad := 0
	for msg := range want {
		wantN := 1
		if d, ok := dups[msg]; ok {
			wantN = d
		}
		if n := h.rcv.msgs[msg]; n != wantN {
			if bad++; bad <= 5 {
				t.Errorf("event received %d times, want %d: %.200s", n, wantN, msg)
			}
		}
	}
	for _, m := range h.rcv.log {
		ts, ok := want[m.key]
		if !ok {
			if bad++; bad <= 10 {
				t.Errorf("unexpected message (not byte for byte a served event): %.300s", m.key)
			}
			continue
		}
		if m.ts != ts {
			if bad++; bad <= 10 {
				t.Errorf("TIMESTAMP %s, want %s (the event's datetime in UTC): %.200s", m.ts, ts, m.key)
			}
		}
	}
	wantTotal := len(want)
	for _, d := range dups {
		wantTotal += d - 1
	}
	if len(h.rcv.log) != wantTotal {
		t.Errorf("received %d messages, want %d", len(h.rcv.log), wantTotal)
	}
}

// spoolEmpty fails if a downloaded zip was left in the spool directory.
func (h *v1Harness) spoolEmpty() {
	h.t.Helper()
	left, err := filepath.Glob(filepath.Join(h.spool, "*"))
	if err != nil {
		h.t.Fatal(err)
	}
	if len(left) > 0 {
		h.t.Errorf("spooled files left behind: %q", left)
	}
}

// hookSender calls hook before handing each message (numbered from 1) to
// next; a hook error is returned instead of sending.
type hookSender struct {
	next forwarder.Sender
	n    atomic.Int64
	hook func(n int, msg []byte) error
}

func (s *hookSender) Send(ctx context.Context, msg []byte) (uint64, error) {
	if err := s.hook(int(s.n.Add(1)), msg); err != nil {
		return 0, err
	}
	return s.next.Send(ctx, msg)
}

func (s *hookSender) Confirm(ctx context.Context, epoch uint64) error {
	return s.next.Confirm(ctx, epoch)
}

// v1Count returns the value of a per-stream counter of the siem-v1 stream.
func v1Count(vec *prometheus.CounterVec, labels ...string) float64 {
	return testutil.ToFloat64(vec.WithLabelValues(append([]string{api1.StreamName}, labels...)...))
}

// TestV1EndToEndExactlyOnce: API 1.0 in both file formats, through a hard
// stop in the middle of the backfill, a restart from the cursor file, live
// files, injected API failures (fail[] answers, retried) and a second
// restart. Every event arrives exactly once, byte for byte, typed by its
// zip member prefix, with its datetime in UTC as TIMESTAMP.
func TestV1EndToEndExactlyOnce(t *testing.T) {
	for _, format := range []string{api1.FormatJSON, api1.FormatKeyValue} {
		t.Run(format, func(t *testing.T) {
			h := newV1Harness(t, simulator.Options{V1: simulator.V1Options{FailEvery: 5}})
			offsets := map[string]int{}
			for k := range v1History {
				for _, typ := range simulator.AllTypes() {
					for n := range v1Records {
						var ev struct{ Datetime string }
						_ = json.Unmarshal(h.sim.V1Event(typ, k, n, "json"), &ev)
						offsets[ev.Datetime[len(ev.Datetime)-5:]]++
					}
				}
			}
			if offsets["-0400"] == 0 || offsets["+0530"] == 0 || offsets["+0000"] == 0 {
				t.Fatalf("the simulated datetimes do not exercise -0400, +0530 and +0000: %v", offsets)
			}

			// Phase 1: the process is stopped just before the first record
			// of file 3 is sent: files 0-2 are committed.
			const stopFile = 3
			ctx1, cancel1 := context.WithCancel(context.Background())
			defer cancel1()
			var atStop loadedCursor
			in1 := h.start(v1Run{format: format, wrap: func(next forwarder.Sender, store *checkpoint.Store) forwarder.Sender {
				return &hookSender{next: next, hook: func(n int, _ []byte) error {
					if n == stopFile*v1PerFile+1 {
						atStop = loadCursor(store)
						cancel1()
						return ctx1.Err()
					}
					return nil
				}}
			}})
			if err := in1.fwd.Run(ctx1); err != nil {
				t.Fatalf("first run: %v", err)
			}
			in1.close()
			h.wantToken(h.decode(atStop), stopFile, "when the first record of file 3 was sent")
			h.wantToken(h.storedToken(), stopFile, "after the stop")
			eventually(t, "files 0-2", 5*time.Second, func() bool { return h.rcv.count() >= stopFile*v1PerFile })

			// Phase 2: restart from the cursor file; backfill, then live
			// files published while it runs.
			in2 := h.start(v1Run{format: format})
			ctx2, cancel2 := context.WithCancel(context.Background())
			done2 := make(chan error, 1)
			go func() { done2 <- in2.fwd.Run(ctx2) }()
			eventually(t, "backfill", 20*time.Second, func() bool {
				return h.rcv.count() >= v1History*v1PerFile && in2.idle()
			})
			h.clk.Advance(4 * time.Minute)
			published := h.sim.V1Published(h.clk.Now())
			if published != v1History+4 {
				t.Fatalf("simulator published %d files, want %d", published, v1History+4)
			}
			eventually(t, "live files", 20*time.Second, func() bool {
				return h.rcv.count() >= published*v1PerFile && in2.fwd.Status()[api1.StreamName].Records >= uint64((published-stopFile)*v1PerFile)
			})
			eventually(t, "caught up", 10*time.Second, in2.idle)
			cancel2()
			if err := <-done2; err != nil {
				t.Fatalf("second run: %v", err)
			}
			forwarded2 := v1Count(in2.m.RecordsForwarded)
			if got := v1Count(in2.m.FilesSkipped, metrics.ReasonCorruptArchive) + v1Count(in2.m.FilesSkipped, metrics.ReasonMalformedFile); got != 0 {
				t.Errorf("files_skipped_total = %v without damaged files", got)
			}
			if got := v1Count(in2.m.StreamErrors, metrics.ReasonFetch); got < 1 {
				t.Errorf("stream_errors_total{fetch} = %v: the injected fail[] answers were not seen", got)
			}
			in2.close()
			h.wantToken(h.storedToken(), published, "after the second run")

			// Phase 3: more files while stopped; a Once run delivers them.
			h.clk.Advance(3 * time.Minute)
			last := h.sim.V1Published(h.clk.Now())
			in3 := h.start(v1Run{format: format, once: true})
			err := h.runOnce(in3)
			for i := 0; i < 5 && err != nil && strings.Contains(err.Error(), simulator.DefaultV1FailCode); i++ {
				// Once mode ends at the first failure: an injected fail[].
				// Nothing may have been committed past the failure.
				in3.close()
				in3 = h.start(v1Run{format: format, once: true})
				err = h.runOnce(in3)
			}
			if err != nil {
				t.Fatalf("third run: %v", err)
			}
			in3.close()
			h.wantToken(h.storedToken(), last, "after the third run")

			eventually(t, "all events", 5*time.Second, func() bool { return h.rcv.count() >= last*v1PerFile })
			h.check(v1Expect(t, h.sim, 0, last, format, syslogfmt.BodyJSON), nil)
			if want := float64((published - stopFile) * v1PerFile); forwarded2 != want {
				t.Errorf("records_forwarded_total of the second run = %v, want %v", forwarded2, want)
			}
			if st := h.sim.V1Stats(); st.InjectedFails < 2 {
				t.Errorf("only %d injected fail[] answers", st.InjectedFails)
			}
			h.spoolEmpty()
		})
	}
}

// keyOf returns "MSGID MSG" of a formatted message.
func keyOf(t *testing.T, msg []byte) string {
	t.Helper()
	m, err := rfc5424.NewParser().Parse(msg)
	if err != nil {
		t.Fatalf("formatted message does not parse: %v", err)
	}
	sm := m.(*rfc5424.SyslogMessage)
	return *sm.MsgID + " " + *sm.Message
}

// TestV1DeliveryFailureResendsBatch: the receiver is lost in the middle of
// a file. The cursor at that moment names the file in flight (never a
// later one) and the file is sent again from its start.
func TestV1DeliveryFailureResendsBatch(t *testing.T) {
	t.Run("injected", func(t *testing.T) {
		// The sender fails on record 23 of file 2: the 22 records of file
		// 2 already sent arrive twice, everything else once.
		h := newV1Harness(t, simulator.Options{})
		const failAt = 2*v1PerFile + 23
		var (
			atFail loadedCursor
			sent   [][]byte
			failed bool
		)
		in := h.start(v1Run{format: api1.FormatJSON, once: true, wrap: func(next forwarder.Sender, store *checkpoint.Store) forwarder.Sender {
			return &hookSender{next: next, hook: func(n int, msg []byte) error {
				switch {
				case n > 2*v1PerFile && n < failAt:
					sent = append(sent, append([]byte(nil), msg...))
				case n == failAt:
					atFail = loadCursor(store)
					failed = true
					return errors.New("injected: connection reset by peer")
				}
				return nil
			}}
		}})
		if err := h.runOnce(in); err != nil {
			t.Fatalf("Run: %v", err)
		}
		defer in.close()
		if !failed {
			t.Fatal("the failure was not injected")
		}
		h.wantToken(h.decode(atFail), 2, "when the delivery failed in file 2")
		h.wantToken(h.token(in.store), v1History, "at the end")
		dups := map[string]int{}
		for _, msg := range sent {
			dups[keyOf(t, msg)] = 2
		}
		if len(dups) != 22 {
			t.Fatalf("%d distinct messages before the failure, want 22", len(dups))
		}
		want := v1Expect(t, h.sim, 0, v1History, api1.FormatJSON, syslogfmt.BodyJSON)
		eventually(t, "all events", 5*time.Second, func() bool { return h.rcv.count() >= len(want)+22 })
		h.check(want, dups)
		if got := v1Count(in.m.BatchRetries); got != 1 {
			t.Errorf("batch_retries_total = %v, want 1", got)
		}
		if got := v1Count(in.m.StreamErrors, metrics.ReasonDelivery); got != 1 {
			t.Errorf("stream_errors_total{delivery} = %v, want 1", got)
		}
		if got := v1Count(in.m.RecordsForwarded); int(got) != len(want) {
			t.Errorf("records_forwarded_total = %v, want %d (committed records, not sends)", got, len(want))
		}
	})
	t.Run("receiver-drops", func(t *testing.T) {
		// A real receiver closes the connection in the middle of file 3.
		h := newV1Harness(t, simulator.Options{})
		h.rcv.mu.Lock()
		h.rcv.dropAt = 3*v1PerFile + 25
		h.rcv.mu.Unlock()
		in := h.start(v1Run{format: api1.FormatKeyValue, once: true})
		defer in.close()
		if err := h.runOnce(in); err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := v1Expect(t, h.sim, 0, v1History, api1.FormatKeyValue, syslogfmt.BodyJSON)
		eventually(t, "all events", 5*time.Second, func() bool {
			h.rcv.mu.Lock()
			defer h.rcv.mu.Unlock()
			for k := range want {
				if h.rcv.msgs[k] == 0 {
					return false
				}
			}
			return true
		})
		h.wantToken(h.token(in.store), v1History, "at the end")
		h.rcv.mu.Lock()
		defer h.rcv.mu.Unlock()
		dups := 0
		for _, m := range h.rcv.log {
			ts, ok := want[m.key]
			if !ok {
				t.Errorf("unexpected message: %.200s", m.key)
			} else if ts != m.ts {
				t.Errorf("TIMESTAMP %s, want %s", m.ts, ts)
			}
		}
		for k := range want {
			dups += h.rcv.msgs[k] - 1
		}
		if h.rcv.accepted < 2 {
			t.Errorf("receiver accepted %d connections, want a reconnect", h.rcv.accepted)
		}
		// Sent again at most: the replay window's messages (in this fast
		// test, about everything sent in the last 100 ms) and the file in
		// flight.
		replayed := testutil.ToFloat64(in.m.ReceiverReplayed.WithLabelValues(h.rcv.addr()))
		if limit := int(replayed) + v1PerFile; dups > limit {
			t.Errorf("%d duplicates, want ≤ %d", dups, limit)
		}
		t.Logf("connection dropped after %d of %d messages: %d duplicates, %v batch retries, %v replayed",
			3*v1PerFile+25, len(want), dups, v1Count(in.m.BatchRetries), replayed)
	})
}

// TestV1APIFailureKeepsCursor: an API failure (a fail[] answer, a 5xx
// without retries) ends a Once run with an error and leaves the cursor on
// the file that was asked for; the next run goes on from there.
func TestV1APIFailureKeepsCursor(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts simulator.Options
	}{
		{"fail", simulator.Options{V1: simulator.V1Options{FailEvery: 4}}},
		{"5xx", simulator.Options{ServerErrorEvery: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newV1Harness(t, tc.opts)
			failures := 0
			for run := 0; ; run++ {
				if run > 5 {
					t.Fatal("not done after 5 runs")
				}
				in := h.start(v1Run{format: api1.FormatJSON, once: true, retryMax: -1})
				err := h.runOnce(in)
				fetchErrs := v1Count(in.m.StreamErrors, metrics.ReasonFetch)
				in.close()
				if err == nil {
					break
				}
				failures++
				served := int(h.sim.V1Stats().Files)
				if fetchErrs != 1 {
					t.Errorf("run %d: stream_errors_total{fetch} = %v, want 1", run, fetchErrs)
				}
				h.wantToken(h.storedToken(), served, fmt.Sprintf("after failed run %d (%v)", run, err))
				eventually(t, "files served", 5*time.Second, func() bool { return h.rcv.count() >= served*v1PerFile })
				if got := h.rcv.count(); got != served*v1PerFile {
					t.Errorf("run %d: %d messages received, want %d (files 0-%d)", run, got, served*v1PerFile, served-1)
				}
			}
			if failures != 2 {
				t.Errorf("%d failed runs, want 2 (requests 4 and 8)", failures)
			}
			h.wantToken(h.storedToken(), v1History, "at the end")
			h.check(v1Expect(t, h.sim, 0, v1History, api1.FormatJSON, syslogfmt.BodyJSON), nil)
		})
	}
}

// TestV1DamagedFiles: corrupt zips and truncated members. The good records
// are delivered, the cursor moves past the damage, files_skipped_total
// counts it. key_value runs with the raw body: MSG is the line as served.
func TestV1DamagedFiles(t *testing.T) {
	for _, tc := range []struct {
		format        string
		body          syslogfmt.BodyMode
		wantMalformed float64
	}{
		{api1.FormatJSON, syslogfmt.BodyJSON, 2},    // files 3 and 7: the av member is `{ "type" : "MTA", "data" : `
		{api1.FormatKeyValue, syslogfmt.BodyRaw, 0}, // a cut last line is just a shorter line
	} {
		t.Run(tc.format, func(t *testing.T) {
			h := newV1Harness(t, simulator.Options{V1: simulator.V1Options{CorruptZipEvery: 3, TruncatedMemberEvery: 4}})
			in := h.start(v1Run{format: tc.format, body: tc.body, once: true})
			defer in.close()
			if err := h.runOnce(in); err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := v1Expect(t, h.sim, 0, v1History, tc.format, tc.body)
			if len(want) > (v1History-2)*v1PerFile {
				t.Fatalf("%d expected records: the faults are not in the data", len(want))
			}
			eventually(t, "all events", 5*time.Second, func() bool { return h.rcv.count() >= len(want) })
			h.check(want, nil)
			h.wantToken(h.token(in.store), v1History, "at the end")
			if got := v1Count(in.m.FilesSkipped, metrics.ReasonCorruptArchive); got != 2 {
				t.Errorf("files_skipped_total{corrupt_archive} = %v, want 2 (files 2 and 5)", got)
			}
			if got := v1Count(in.m.FilesSkipped, metrics.ReasonMalformedFile); got != tc.wantMalformed {
				t.Errorf("files_skipped_total{malformed_file} = %v, want %v", got, tc.wantMalformed)
			}
			if got := v1Count(in.m.RecordsForwarded); int(got) != len(want) {
				t.Errorf("records_forwarded_total = %v, want %d", got, len(want))
			}
			if got := v1Count(in.m.Batches); got != v1History+1 {
				t.Errorf("batches_total = %v, want %d (every file committed, and the caught-up answer)", got, v1History+1)
			}
			if st := h.sim.V1Stats(); st.CorruptZips != 2 || st.TruncatedMembers != 2 {
				t.Errorf("simulator served %d corrupt zips and %d truncated members, want 2 and 2", st.CorruptZips, st.TruncatedMembers)
			}
			h.spoolEmpty()
		})
	}
}

// TestV1InvalidToken: Mimecast refuses the stored token. By default the
// stream stops with an error that names MIMECAST_RESTART_ON_INVALID_TOKEN
// and the cursor is kept; with RestartOnInvalidToken the stream starts
// again from the oldest log.
func TestV1InvalidToken(t *testing.T) {
	h := newV1Harness(t, simulator.Options{})
	good := h.sim.V1Token(5)
	bad := good[:len(good)-2] + "AA" // tampered signature
	if bad == good {
		bad = good[:len(good)-2] + "BB"
	}
	store, err := checkpoint.Open(h.state, h.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(api1.StreamName, api1.EncodeCursor(bad)); err != nil {
		t.Fatal(err)
	}
	store.Close()

	in := h.start(v1Run{format: api1.FormatJSON}) // not Once: the daemon stops the stream by itself
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = in.fwd.Run(ctx)
	ctxErr := ctx.Err()
	cancel()
	if err == nil || ctxErr != nil {
		t.Fatalf("Run = %v (context: %v), want the stream to stop with an error by itself", err, ctxErr)
	}
	if !errors.Is(err, api1.ErrInvalidToken) || !strings.Contains(err.Error(), "MIMECAST_RESTART_ON_INVALID_TOKEN") {
		t.Errorf("error does not say what to do: %v", err)
	}
	if got := v1Count(in.m.StreamErrors, metrics.ReasonInvalidToken); got != 1 {
		t.Errorf("stream_errors_total{invalid_token} = %v, want 1", got)
	}
	if st := in.fwd.Status()[api1.StreamName]; st.Err == nil {
		t.Error("Status does not report the stopped stream")
	}
	in.close()
	if got := h.storedToken(); got != bad {
		t.Errorf("the refused cursor was replaced by %s", h.tokenIndex(got))
	}
	if n := h.rcv.count(); n != 0 {
		t.Errorf("%d messages sent with a refused token", n)
	}

	in = h.start(v1Run{format: api1.FormatJSON, once: true, restart: true})
	defer in.close()
	if err := h.runOnce(in); err != nil {
		t.Fatalf("Run with RestartOnInvalidToken: %v", err)
	}
	if got := v1Count(in.m.StreamErrors, metrics.ReasonInvalidToken); got != 1 {
		t.Errorf("stream_errors_total{invalid_token} = %v, want 1", got)
	}
	want := v1Expect(t, h.sim, 0, v1History, api1.FormatJSON, syslogfmt.BodyJSON)
	eventually(t, "all events", 5*time.Second, func() bool { return h.rcv.count() >= len(want) })
	h.check(want, nil)
	h.wantToken(h.token(in.store), v1History, "after the restart from the oldest log")
}

// TestV1InvalidStartToken: an imported token that Mimecast refuses (older
// than its 7 days, another account) stops the stream before anything is
// sent, with an error naming the setting to change; no cursor is written.
func TestV1InvalidStartToken(t *testing.T) {
	h := newV1Harness(t, simulator.Options{})
	good := h.sim.V1Token(2)
	file := filepath.Join(t.TempDir(), "get_mta_siem_logs_checkpoint")
	if err := os.WriteFile(file, []byte(good[:len(good)-2]+"xx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := h.start(v1Run{format: api1.FormatJSON, once: true, startTokenFile: file})
	err := h.runOnce(in)
	in.close()
	if !errors.Is(err, api1.ErrInvalidToken) || !strings.Contains(err.Error(), "MIMECAST_START_TOKEN_FILE") ||
		!strings.Contains(err.Error(), "MIMECAST_RESTART_ON_INVALID_TOKEN") {
		t.Errorf("Run = %v, want the invalid token error naming MIMECAST_START_TOKEN_FILE and MIMECAST_RESTART_ON_INVALID_TOKEN", err)
	}
	if got := h.storedToken(); got != "" {
		t.Errorf("a cursor was written: %s", h.tokenIndex(got))
	}
	if n := h.rcv.count(); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

// TestV1MigrationFromBlogScript: the Wazuh blog script's checkpoint file
// (the raw token and a newline) holds a token from the middle of the
// chain. The forwarder, with key_value and the raw body as the blog's
// decoders need, delivers exactly the records after that token; once it
// has its own cursor the file is no longer read.
func TestV1MigrationFromBlogScript(t *testing.T) {
	h := newV1Harness(t, simulator.Options{})
	const from = 3 // the script last fetched file 2 and saved the token of file 3
	checkpointFile := filepath.Join(t.TempDir(), "get_mta_siem_logs_checkpoint")
	if err := os.WriteFile(checkpointFile, []byte(h.sim.V1Token(from)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := v1Run{format: api1.FormatKeyValue, body: syslogfmt.BodyRaw, once: true, startTokenFile: checkpointFile}
	in := h.start(run)
	if err := h.runOnce(in); err != nil {
		t.Fatalf("first run: %v", err)
	}
	in.close()
	want := v1Expect(t, h.sim, from, v1History, api1.FormatKeyValue, syslogfmt.BodyRaw)
	eventually(t, "events after the token", 5*time.Second, func() bool { return h.rcv.count() >= len(want) })
	h.check(want, nil)
	h.wantToken(h.storedToken(), v1History, "after the first run")

	// The script's file now names an older file: it must be ignored.
	if err := os.WriteFile(checkpointFile, []byte(h.sim.V1Token(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(2 * time.Minute)
	last := h.sim.V1Published(h.clk.Now())
	in = h.start(run)
	defer in.close()
	if err := h.runOnce(in); err != nil {
		t.Fatalf("second run: %v", err)
	}
	want = v1Expect(t, h.sim, from, last, api1.FormatKeyValue, syslogfmt.BodyRaw)
	eventually(t, "live events", 5*time.Second, func() bool { return h.rcv.count() >= len(want) })
	h.check(want, nil)
	h.wantToken(h.token(in.store), last, "after the second run")
	// Raw means the served line itself, not a re-rendering.
	line := string(h.sim.V1Event("url protect", from, 0, api1.FormatKeyValue))
	if !strings.Contains(line, "|Subject=\\") || want["url-protect "+line] == "" {
		t.Errorf("the raw expectation does not hold the served key_value line %q", line)
	}
}
