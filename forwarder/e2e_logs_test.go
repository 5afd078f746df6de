package forwarder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/logs"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// logsHarness runs the seven log streams of package logs against the
// simulator, on API 2.0 or API 1.0.
type logsHarness struct {
	*harness
	v1   bool
	logs *mimecasttest.SyncBuffer
}

// logsStart is 11:30 UTC: with 10-minute slots from the simulator's epoch
// (09:30, two hours of history) and one-hour windows from 08:30 (a 3-hour
// look-back), every window boundary (09:30, 10:30, 11:30) is a slot second
// holding three events.
var logsStart = time.Date(2026, 11, 28, 11, 30, 0, 0, time.UTC)

func newLogsHarness(t *testing.T, v1 bool, lo simulator.LogOptions) *logsHarness {
	t.Helper()
	clk := mimecasttest.NewClock(logsStart)
	// Requests are signed with the real clock, the simulator runs on clk.
	h := newHarness(t, simulator.Options{Now: clk.Now, Logs: lo, History: 2 * time.Hour,
		V1: simulator.V1Options{MaxClockSkew: 100 * 365 * 24 * time.Hour}})
	h.clk = clk
	buf := &mimecasttest.SyncBuffer{}
	h.log = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.replayWindow = 50 * time.Millisecond
	return &logsHarness{harness: h, v1: v1, logs: buf}
}

// poster returns the authenticated POST of the chosen API.
func (h *logsHarness) poster(m *metrics.Metrics) logs.Poster {
	t := h.t
	cc := mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, RetryMax: 5,
		MaxRateLimitRetries: 20, RateLimitWaitMax: time.Second, Timeout: 10 * time.Second, ResponseHeaderTimeout: 10 * time.Second}
	if h.v1 {
		appID, appKey, access, secret := h.sim.V1Credentials()
		cfg := api1.Config{BaseURL: h.sim.URL(), AppID: appID, AppKey: appKey, AccessKey: access, SecretKey: secret}
		client, err := api1.NewClient(cfg, cc, m, h.log)
		if err != nil {
			t.Fatal(err)
		}
		p, err := api1.NewPoster(cfg, client)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	id, secret := h.sim.Credentials()
	a, err := api2.New(api2.Config{BaseURL: h.sim.URL(), ClientID: id, ClientSecret: secret, Now: h.clk.Now, Client: cc}, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// stopAfter is a CursorStore that cancels the run right after the n-th
// cursor of stream was saved: the forwarder stops between two pages.
type stopAfter struct {
	forwarder.CursorStore
	stream string
	n      int
	cancel context.CancelFunc
	mu     sync.Mutex
	saved  int
	last   []byte
}

func (s *stopAfter) Save(stream string, c []byte) error {
	err := s.CursorStore.Save(stream, c)
	if stream == s.stream {
		s.mu.Lock()
		s.saved++
		if s.saved == s.n {
			s.last = append([]byte(nil), c...)
			s.cancel()
		}
		s.mu.Unlock()
	}
	return err
}

// run runs the given streams (all when nil) until every one is caught up
// (or, with stop, until stop cancels), and returns the instance.
func (h *logsHarness) run(streams []string, strict map[string]bool, stop *stopAfter) *instance {
	t := h.t
	t.Helper()
	m, store, formatter, sender := newOutput(t, h.log, h.state, h.rcv.addr(), syslogfmt.BodyJSON, h.replayWindow)
	var eps []logs.Endpoint
	for _, e := range logs.Endpoints() {
		if streams == nil || contains(streams, e.Stream) {
			eps = append(eps, e)
		}
	}
	sources, err := logs.NewSources(logs.Config{Poster: h.poster(m), Window: time.Hour, Lookback: 3 * time.Hour, PageSize: 2,
		Strict: strict, Now: h.clk.Now}, eps, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := forwarder.DefaultConfig()
	pcfg.PollInterval = 20 * time.Millisecond
	pcfg.RetryMin, pcfg.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	var cs forwarder.CursorStore = store
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if stop != nil {
		stop.CursorStore, stop.cancel = store, cancel
		cs = stop
	}
	fwd, err := forwarder.New(pcfg, sources, formatter, sender, cs, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{fwd: fwd, m: m, store: store, sender: sender, formatter: formatter, sources: sources}
	done := make(chan error, 1)
	go func() { done <- fwd.Run(ctx) }()
	if stop == nil {
		eventually(t, "every log stream caught up", 50*time.Second, in.idle)
		cancel()
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Drain: the receiver has the last messages before we look.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if err := sender.Drain(dctx); err != nil {
		t.Fatalf("drain: %v", err)
	}
	in.close()
	return in
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// logsWant returns every message the log streams must have delivered by
// now, except those of skip.
func (h *logsHarness) logsWant(skip ...string) map[string]bool {
	want := map[string]bool{}
	for _, st := range simulator.LogStreams() {
		if contains(skip, st) {
			continue
		}
		for _, ev := range h.sim.LogEvents(st, time.Time{}, h.clk.Now()) {
			want[st+` {"mimecast":{"logType":"`+st+`",`+string(ev[1:])+"}"] = true
		}
	}
	return want
}

// TestLogsEndToEndExactlyOnce: the seven log streams, newest-first pages
// of two, the empty last page with a token, fail[] in 200 answers, on both
// APIs; each stream is stopped once between two pages of a window and
// restarted; then time passes and a new run starts at the last window's
// end, whose second holds three events already delivered. Every event
// arrives exactly once.
func TestLogsEndToEndExactlyOnce(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		name := "api2"
		if v1 {
			name = "api1"
		}
		t.Run(name, func(t *testing.T) {
			h := newLogsHarness(t, v1, simulator.LogOptions{FailEvery: 7})
			// Each stream alone, stopped right after its fifth page: the
			// second page of its second window.
			for _, st := range simulator.LogStreams() {
				stop := &stopAfter{stream: st, n: 5}
				h.run([]string{st}, nil, stop)
				c, err := logs.ParseCursor(stop.last)
				if err != nil {
					t.Fatal(err)
				}
				if c.To == "" || c.PageToken == "" {
					t.Fatalf("%s: stopped at %s, want the middle of a window", st, stop.last)
				}
			}
			// Then every stream resumes until caught up.
			in := h.run(nil, nil, nil)
			want := h.logsWant()
			if len(want) < 7*25 {
				t.Fatalf("only %d events simulated", len(want))
			}
			eventually(t, "every event", 10*time.Second, func() bool { return h.rcv.count() >= len(want) })
			h.checkExactlyOnce(want)
			if got := sumReason(in.m.StreamErrors, metrics.ReasonFetch); got == 0 {
				t.Errorf("stream_errors_total{fetch} = 0: no fail[] answer was seen")
			}
			// Time passes; the next run starts at 11:30, whose three
			// events were delivered already.
			h.clk.Advance(40 * time.Minute)
			h.run(nil, nil, nil)
			want = h.logsWant()
			eventually(t, "every event after the restart", 10*time.Second, func() bool { return h.rcv.count() >= len(want) })
			h.checkExactlyOnce(want)
			if !strings.Contains(h.logs.String(), "Mimecast answered 200 with an error") {
				t.Errorf("no fail[] error logged")
			}
		})
	}
}

// TestLogsForbiddenStream: a stream the application may not read is
// skipped with one warning naming its permission, counted, and does not
// stop the others; named explicitly (Strict) it is an error.
func TestLogsForbiddenStream(t *testing.T) {
	h := newLogsHarness(t, false, simulator.LogOptions{Forbidden: []string{"dlp"}})
	in := h.run(nil, nil, nil)
	want := h.logsWant("dlp")
	eventually(t, "every permitted event", 10*time.Second, func() bool { return h.rcv.count() >= len(want) })
	h.checkExactlyOnce(want)
	for st, s := range in.fwd.Status() {
		if s.Err != nil {
			t.Errorf("stream %s stopped: %v", st, s.Err)
		}
	}
	if got := testutil.ToFloat64(in.m.StreamRefused.WithLabelValues("dlp")); got != 1 {
		t.Errorf("stream_refused{dlp} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(in.m.StreamErrors.WithLabelValues("dlp", metrics.ReasonForbidden)); got != 1 {
		t.Errorf("stream_errors_total{dlp,forbidden} = %v, want 1 (asked once within the hour)", got)
	}
	if n := strings.Count(h.logs.String(), "Mimecast refuses this stream"); n != 1 {
		t.Errorf("%d refusal warnings, want 1:\n%s", n, h.logs)
	}
	if !strings.Contains(h.logs.String(), "Monitoring | Data Leak Prevention | Read") {
		t.Errorf("the warning does not name the permission")
	}

	// Strict: the explicitly named stream fails.
	m, store, formatter, sender := newOutput(t, h.log, t.TempDir(), h.rcv.addr(), syslogfmt.BodyJSON, h.replayWindow)
	defer store.Close()
	defer sender.Close()
	srcs, err := logs.NewSources(logs.Config{Poster: h.poster(m), Strict: map[string]bool{"dlp": true}, Now: h.clk.Now},
		[]logs.Endpoint{logs.DLP}, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := forwarder.DefaultConfig()
	pcfg.Once = true
	fwd, err := forwarder.New(pcfg, srcs, formatter, sender, store, m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	err = fwd.Run(context.Background())
	if !errors.Is(err, mimecast.ErrForbidden) || !strings.Contains(err.Error(), "Monitoring | Data Leak Prevention | Read") {
		t.Fatalf("strict refused stream: err = %v", err)
	}
}

// TestLogsSamplesFormat: the real samples of every log endpoint go through
// the formatter into RFC5424 messages that keep every field.
func TestLogsSamplesFormat(t *testing.T) {
	files := map[string]string{"audit": "audit_events", "dlp": "dlp_logs", "ttp-url": "ttp_url_logs",
		"ttp-attachment": "ttp_ap_logs", "ttp-impersonation": "ttp_ip_logs", "held-release": "message_release_logs",
		"archive-search": "archive_search_logs", "ci-entities": "cloud_integrated_logs"}
	h := newHarness(t, simulator.Options{})
	_, store, formatter, sender := newOutput(t, h.log, h.state, h.rcv.addr(), syslogfmt.BodyJSON, 0)
	defer store.Close()
	defer sender.Close()
	total := 0
	for stream, file := range files {
		for _, line := range mimecasttest.Lines(t, "endpoints/"+file+".ndjson") {
			js, err := jsonl.Normalize(nil, line)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			rec := source.Record{Type: stream, JSON: js}
			msg, _, err := formatter.Append(nil, &rec)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			ep, err := sender.Send(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sender.Confirm(context.Background(), ep); err != nil {
				t.Fatal(err)
			}
			// Every original field is in the body, under mimecast.
			body := msg[bytes.IndexByte(msg, '{'):]
			var got struct{ Mimecast map[string]json.RawMessage }
			var orig map[string]json.RawMessage
			if err := json.Unmarshal(body, &got); err != nil || json.Unmarshal(line, &orig) != nil {
				t.Fatalf("%s: body %s: %v", file, body, err)
			}
			for k, v := range orig {
				var a, b bytes.Buffer
				_ = json.Compact(&a, v)
				_ = json.Compact(&b, got.Mimecast[k])
				if a.String() != b.String() {
					t.Errorf("%s: field %s = %s, want %s", file, k, b.String(), a.String())
				}
			}
			if string(got.Mimecast["logType"]) != `"`+stream+`"` {
				t.Errorf("%s: logType %s", file, got.Mimecast["logType"])
			}
			total++
		}
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if err := sender.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every sample received", 10*time.Second, func() bool {
		h.rcv.mu.Lock()
		defer h.rcv.mu.Unlock()
		return h.rcv.total+len(h.rcv.errs) >= total
	})
	h.rcv.mu.Lock()
	defer h.rcv.mu.Unlock()
	for _, err := range h.rcv.errs {
		t.Error(err) // not valid RFC5424
	}
}

// TestCIEndToEnd: the three Cloud Integrated streams (GET
// /siem/v1/batch/events/ci) arrive exactly once, with logType and MSGID
// ci-<type>; a tenant without Cloud Integrated (403) is skipped without
// stopping.
func TestCIEndToEnd(t *testing.T) {
	for _, noCI := range []bool{false, true} {
		h := newHarness(t, simulator.Options{NoCI: noCI})
		m, store, formatter, sender := newOutput(t, h.log, h.state, h.rcv.addr(), syslogfmt.BodyJSON, 50*time.Millisecond)
		id, secret := h.sim.Credentials()
		a, err := api2.New(api2.Config{BaseURL: h.sim.URL(), ClientID: id, ClientSecret: secret, Lookback: 6 * time.Hour, PageSize: 3, Now: h.clk.Now,
			Client: mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond}}, m, h.log)
		if err != nil {
			t.Fatal(err)
		}
		srcs := a.CISources(nil)
		if len(srcs) != 3 || srcs[0].Stream() != "ci-entities" {
			t.Fatalf("CI sources: %v", srcs)
		}
		pcfg := forwarder.DefaultConfig()
		pcfg.Once = true
		fwd, err := forwarder.New(pcfg, srcs, formatter, sender, store, m, h.log)
		if err != nil {
			t.Fatal(err)
		}
		if err := fwd.Run(context.Background()); err != nil {
			t.Fatalf("noCI=%v: %v", noCI, err)
		}
		want := map[string]bool{}
		if !noCI {
			for _, typ := range simulator.CITypes() {
				for f, n := range h.sim.Records(typ, h.clk.Now()) {
					ev := h.sim.Event(typ, f.Index, n)
					want["ci-"+typ+` {"mimecast":{"logType":"ci-`+typ+`",`+string(ev[1:])+"}"] = true
				}
			}
			if len(want) < 100 {
				t.Fatalf("only %d CI events", len(want))
			}
		} else if got := testutil.ToFloat64(m.StreamRefused.WithLabelValues("ci-entities")); got != 1 {
			t.Errorf("stream_refused{ci-entities} = %v", got)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := sender.Drain(dctx); err != nil {
			t.Fatal(err)
		}
		dcancel()
		eventually(t, "every CI event", 10*time.Second, func() bool { return h.rcv.count() >= len(want) })
		h.checkExactlyOnce(want)
		sender.Close()
		store.Close()
	}
}
