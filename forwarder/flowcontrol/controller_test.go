package flowcontrol

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// controllerTest drives a Controller with real state files and a fake
// clock.
type controllerTest struct {
	t    *testing.T
	path string
	t0   time.Time
	m    *metrics.Metrics
	lim  *Limiter
	c    *Controller
	logs *mimecasttest.SyncBuffer
}

func newControllerTest(t *testing.T) *controllerTest {
	m := newMetrics(t)
	log, logs := newLogger()
	pol := DefaultPolicy()
	lim := NewLimiter(pol.Safe(), m)
	path := filepath.Join(t.TempDir(), "wazuh-analysisd.state")
	return &controllerTest{t: t, path: path, t0: time.Now().Truncate(time.Second), m: m, lim: lim,
		c: NewController(path, lim, pol, m, log), logs: logs}
}

// write makes analysisd's snapshot at t0+at.
func (ct *controllerTest) write(at time.Duration, kv ...string) {
	ct.t.Helper()
	writeState(ct.t, ct.path, stateWith(ct.t, kv...), ct.t0.Add(at))
}

// poll runs the Controller at t0+at.
func (ct *controllerTest) poll(at time.Duration) { ct.c.Poll(ct.t0.Add(at)) }

// send takes n tokens, as n sent events would.
func (ct *controllerTest) send(n int) {
	for range n {
		ct.lim.reserve(time.Now())
	}
}

func (ct *controllerTest) wantRate(when string, want float64) {
	ct.t.Helper()
	if got := ct.lim.Rate(); math.Round(got) != want {
		ct.t.Errorf("%s: rate %v, want %v", when, got, want)
	}
	if got := testutil.ToFloat64(ct.m.SendRateLimit); math.Round(got) != want {
		ct.t.Errorf("%s: send_rate_limit_events_per_second %v, want %v", when, got, want)
	}
}

// wantSeen checks the Wazuh gauges; NaN for unknown.
func (ct *controllerTest) wantSeen(when string, dropped, usage float64) {
	ct.t.Helper()
	for _, g := range []struct {
		name      string
		got, want float64
	}{
		{"wazuh_analysisd_events_dropped", testutil.ToFloat64(ct.m.WazuhEventsDropped), dropped},
		{"wazuh_analysisd_event_queue_usage_ratio", testutil.ToFloat64(ct.m.WazuhEventQueueUsage), usage},
	} {
		if g.got != g.want && !(math.IsNaN(g.got) && math.IsNaN(g.want)) {
			ct.t.Errorf("%s: %s = %v, want %v", when, g.name, g.got, g.want)
		}
	}
}

func (ct *controllerTest) logCount(substr string) int { return strings.Count(ct.logs.String(), substr) }

func TestControllerAdapts(t *testing.T) {
	ct := newControllerTest(t)
	ct.wantSeen("before the first read", math.NaN(), math.NaN())

	ct.write(0, "events_received", "100")
	ct.poll(500 * time.Millisecond)
	ct.wantRate("first snapshot", 1000)
	ct.wantSeen("first snapshot", 0, 0)
	if ct.logCount("adapting the output rate to Wazuh analysisd's queue") != 1 {
		t.Errorf("no start line:\n%s", ct.logs)
	}

	// Every token of 1000/s used for 5 s, queue empty: ×1.5.
	ct.send(5000)
	ct.write(5*time.Second, "events_received", "5100", "event_queue_usage", "0.01")
	ct.poll(5500 * time.Millisecond)
	ct.wantRate("queue low, rate used", 1500)
	ct.wantSeen("second snapshot", 0, 0.01)

	// The same snapshot polled again changes nothing.
	ct.send(3000)
	ct.poll(6500 * time.Millisecond)
	ct.wantRate("unchanged snapshot", 1500)

	// Drops while we sent: cut to half of what was sent, warn with the
	// numbers.
	ct.send(4500) // 7500 in 5 s = 1500/s
	ct.write(10*time.Second, "events_received", "12600", "events_dropped", "40", "event_queue_usage", "0.30")
	ct.poll(10500 * time.Millisecond)
	ct.wantRate("drops", 750)
	ct.wantSeen("drops", 40, 0.3)
	logs := ct.logs.String()
	if !strings.Contains(logs, "level=WARN msg=\"Wazuh analysisd dropped events while we were sending: lowering the rate\" dropped=40") ||
		!strings.Contains(logs, "rate_before=1500 rate=750 event_queue_usage=0.3 rule_matching_queue_usage=0 events_dropped=40 sent=7500") {
		t.Errorf("no warning with the numbers:\n%s", logs)
	}

	// Drops while we sent nothing: the rate is cut, no warning.
	ct.write(15*time.Second, "events_received", "12600", "events_dropped", "90", "event_queue_usage", "0.10")
	ct.poll(15500 * time.Millisecond)
	ct.wantRate("drops of others", Floor)
	if n := ct.logCount("level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1 (drops while we sent nothing are not ours):\n%s", n, ct.logs)
	}
	if ct.logCount("not ours: nothing sent since the last snapshot") != 1 {
		t.Errorf("drops of others not logged:\n%s", ct.logs)
	}
	if got := testutil.ToFloat64(ct.m.WazuhStateReadErrors); got != 0 {
		t.Errorf("read errors = %v, want 0", got)
	}
}

func TestControllerFallbackAndRecovery(t *testing.T) {
	ct := newControllerTest(t)
	ct.write(0)
	ct.poll(time.Second)
	ct.send(5000)
	ct.write(5 * time.Second)
	ct.poll(6 * time.Second)
	ct.wantRate("ramp", 1500)

	// The manager restarts: the file is gone for a while.
	if err := os.Remove(ct.path); err != nil {
		t.Fatal(err)
	}
	ct.poll(7 * time.Second)
	ct.poll(8 * time.Second)
	ct.wantRate("file missing", 1000)
	ct.wantSeen("file missing", math.NaN(), math.NaN())
	if got := testutil.ToFloat64(ct.m.WazuhStateReadErrors); got != 2 {
		t.Errorf("read errors = %v, want 2", got)
	}
	if n := ct.logCount("cannot use Wazuh analysisd state: sending at the safe rate until it can be read"); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%s", n, ct.logs)
	}
	if !strings.Contains(ct.logs.String(), "no such file or directory") {
		t.Errorf("the warning does not say why:\n%s", ct.logs)
	}

	// Back: adapt again from the safe rate, from a fresh baseline.
	ct.write(10 * time.Second)
	ct.poll(10500 * time.Millisecond)
	ct.wantRate("readable again", 1000)
	ct.wantSeen("readable again", 0, 0)
	if ct.logCount("Wazuh analysisd state readable again") != 1 {
		t.Errorf("recovery not logged:\n%s", ct.logs)
	}
	ct.send(5000)
	ct.write(15 * time.Second)
	ct.poll(15500 * time.Millisecond)
	ct.wantRate("adapting after recovery", 1500)

	// analysisd stops rewriting it: stale after 30 s.
	ct.poll(44 * time.Second)
	ct.wantRate("29 s old", 1500)
	ct.poll(46 * time.Second)
	ct.wantRate("stale", 1000)
	ct.wantSeen("stale", math.NaN(), math.NaN())
	if !strings.Contains(ct.logs.String(), "was last written 31s ago: is wazuh-analysisd running? (in Docker mount the directory, not the file)") {
		t.Errorf("staleness not explained:\n%s", ct.logs)
	}
	ct.poll(47 * time.Second)
	if n := ct.logCount("cannot use Wazuh analysisd state"); n != 2 {
		t.Errorf("%d fallback warnings, want 2 (missing, then stale)", n)
	}
	ct.write(50 * time.Second)
	ct.poll(50500 * time.Millisecond)
	if n := ct.logCount("Wazuh analysisd state readable again"); n != 2 {
		t.Errorf("%d recoveries logged, want 2:\n%s", n, ct.logs)
	}
}

func TestControllerUnreadableAtStart(t *testing.T) {
	ct := newControllerTest(t)
	ct.poll(0)
	ct.wantRate("no file yet", 1000)
	if ct.logCount("level=WARN msg=\"cannot use Wazuh analysisd state") != 1 {
		t.Errorf("no warning at start:\n%s", ct.logs)
	}
	// Garbage is unreadable too.
	writeState(t, ct.path, "garbage\n", ct.t0)
	ct.poll(time.Second)
	if got := testutil.ToFloat64(ct.m.WazuhStateReadErrors); got != 2 {
		t.Errorf("read errors = %v, want 2", got)
	}
	ct.write(2 * time.Second)
	ct.poll(3 * time.Second)
	if ct.logCount("Wazuh analysisd state readable again") != 1 {
		t.Errorf("recovery not logged:\n%s", ct.logs)
	}
}

func TestControllerRunStops(t *testing.T) {
	ct := newControllerTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		ct.c.Run(ctx)
		close(done)
	}()
	for testutil.ToFloat64(ct.m.WazuhStateReadErrors) < 1 { // the first poll is at once
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}
