package main

import (
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// wazuhState returns a wazuh-analysisd.state as Wazuh 4.7.4 writes it, with
// events_dropped and event_queue_usage replaced.
func wazuhState(t *testing.T, dropped int, usage string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "forwarder", "flowcontrol", "testdata", "wazuh-analysisd-4.7.4.state"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "events_dropped='0'", "events_dropped='"+strconv.Itoa(dropped)+"'", 1)
	return strings.Replace(s, "event_queue_usage='0.00'", "event_queue_usage='"+usage+"'", 1)
}

// writeWazuhState writes the state file the way analysisd does: a temporary
// file renamed over the old one.
func writeWazuhState(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".temp"
	if err := os.WriteFile(tmp, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// scrape returns the value of an unlabelled metric from /metrics at addr.
func scrape(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("%s not in /metrics", name)
	return 0
}

func TestOutputRateSettings(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{nil, `limit="1000 events/s"`},
		{map[string]string{"SYSLOG_MAX_EPS": "0"}, "limit=unlimited"},
		{map[string]string{"SYSLOG_MAX_EPS": "250"}, `limit="250 events/s"`},
		{map[string]string{"WAZUH_ANALYSISD_STATE": "/nonexistent/wazuh-analysisd.state"}, `limit="adaptive, from 1000 up to 50000 events/s, following /nonexistent/wazuh-analysisd.state"`},
		{map[string]string{"WAZUH_ANALYSISD_STATE": "/nonexistent/s", "SYSLOG_MAX_EPS": "0"}, `limit="adaptive, from 1000 events/s without a ceiling, following /nonexistent/s"`},
	} {
		sim := newSim(t, simulator.Options{})
		rcv := newReceiver(t)
		vars := v2Vars(t, sim, rcv.addr())
		for k, v := range tc.vars {
			vars[k] = v
		}
		r := runCmd(t, ctx, vars, nil, "run", "--once")
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.vars, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, `msg="output rate limit" `+tc.want) {
			t.Errorf("%v: no output rate line with %s:\n%s", tc.vars, tc.want, r.stderr)
		}
		rcv.drain(t)
		if want := len(expected(sim, time.Now())); rcv.count() != want {
			t.Errorf("%v: received %d, want %d", tc.vars, rcv.count(), want)
		}
		// An unreadable state file does not stop the forwarder: a warning,
		// then the safe rate.
		if tc.vars["WAZUH_ANALYSISD_STATE"] != "" && !strings.Contains(r.stderr, `level=WARN msg="cannot use Wazuh analysisd state: sending at the safe rate until it can be read"`) {
			t.Errorf("%v: no warning about the missing state file:\n%s", tc.vars, r.stderr)
		}
	}
	// demo printing to standard output has no limit.
	r := runCmd(t, ctx, map[string]string{"METRICS_ADDRESS": ""}, nil, "demo", "--once")
	if r.code != 0 || strings.Contains(r.stderr, "output rate limit") {
		t.Errorf("demo to stdout: exit %d, rate limited:\n%s", r.code, r.stderr)
	}
}

// TestDaemonFollowsWazuhState runs the daemon beside a fake
// wazuh-analysisd.state and checks what it reads, how it reacts to drops
// and to the file going away, and that it still stops on SIGTERM.
func TestDaemonFollowsWazuhState(t *testing.T) {
	sim := newSim(t, simulator.Options{History: 4 * time.Second, Cadence: time.Second,
		LiveInterval: 300 * time.Millisecond, RecordsPerFile: 5})
	rcv := newReceiver(t)
	state := filepath.Join(t.TempDir(), "wazuh-analysisd.state")
	writeWazuhState(t, state, wazuhState(t, 7, "0.00"))
	d := startDaemon(t, with(v2Vars(t, sim, rcv.addr()), "WAZUH_ANALYSISD_STATE", state, "SYSLOG_MAX_EPS", "20000"))
	addr := d.metricsAddr(t)
	eventually(t, "the state file read", 10*time.Second, func() bool {
		return scrape(t, addr, "mimecast_forwarder_wazuh_analysisd_events_dropped") == 7
	})
	if v := scrape(t, addr, "mimecast_forwarder_send_rate_limit_events_per_second"); v != 1000 {
		t.Errorf("rate limit %v, want the start rate 1000", v)
	}
	if v := scrape(t, addr, "mimecast_forwarder_wazuh_analysisd_event_queue_usage_ratio"); v != 0 {
		t.Errorf("queue usage %v, want 0", v)
	}
	eventually(t, "live events", 20*time.Second, func() bool { return rcv.count() > len(expected(sim, time.Now()))/2 })

	// analysisd drops events and its queue is high: the rate is cut.
	writeWazuhState(t, state, wazuhState(t, 507, "0.60"))
	eventually(t, "a lower rate", 10*time.Second, func() bool {
		return scrape(t, addr, "mimecast_forwarder_send_rate_limit_events_per_second") < 1000
	})
	if v := scrape(t, addr, "mimecast_forwarder_wazuh_analysisd_event_queue_usage_ratio"); v != 0.6 {
		t.Errorf("queue usage %v, want 0.6", v)
	}
	if !strings.Contains(d.stderr.String(), "Wazuh analysisd dropped events") || !strings.Contains(d.stderr.String(), "dropped=500") {
		t.Errorf("the drops are not logged:\n%s", d.stderr.String())
	}

	// The file goes away (manager restarting): the safe rate, errors counted.
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the safe rate", 10*time.Second, func() bool {
		return scrape(t, addr, "mimecast_forwarder_send_rate_limit_events_per_second") == 1000
	})
	if v := scrape(t, addr, "mimecast_forwarder_wazuh_analysisd_state_read_errors_total"); v < 1 {
		t.Errorf("read errors %v, want ≥ 1", v)
	}
	if v := scrape(t, addr, "mimecast_forwarder_wazuh_analysisd_events_dropped"); !math.IsNaN(v) {
		t.Errorf("events_dropped %v while the file is missing, want NaN (unknown)", v)
	}

	d.stop(t)
}
