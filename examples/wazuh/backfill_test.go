package wazuh_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/flowcontrol"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// Backfill sizes: WAZUH_BACKFILL_EVENTS (default 20,000 in the test suite;
// the README's figures use 300,000) and, for a measurement at a fixed rate,
// WAZUH_BACKFILL_EPS (sets SYSLOG_MAX_EPS; the "fixed" subtest only).
func backfillSize(t *testing.T) int {
	t.Helper()
	n := 20000
	if s := os.Getenv("WAZUH_BACKFILL_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			t.Fatalf("WAZUH_BACKFILL_EVENTS=%q: want a number ≥ 1000", s)
		}
		n = v
	}
	return n
}

func analysisdStatePath() string {
	return filepath.Join(ossecDir, "var", "run", "wazuh-analysisd.state")
}

// freshState waits for analysisd to rewrite its state file after since
// (it does every 5 s) and returns that snapshot.
func freshState(t *testing.T, since time.Time) flowcontrol.AnalysisdState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := flowcontrol.ReadAnalysisdState(analysisdStatePath())
		if err == nil && st.ModTime.After(since) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("analysisd did not rewrite %s after %s: %v", analysisdStatePath(), since.Format(time.RFC3339), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBackfill pushes a backfill of WAZUH_BACKFILL_EVENTS events (all ten
// API 2.0 types) through `run --once` into the manager over TCP, and checks
// that every event is archived and analysisd's events_dropped does not
// move: with the default output rate limit ("default"), with the adaptive
// rate that reads analysisd's state file ("adaptive"), and, when
// WAZUH_BACKFILL_EPS is set, at that fixed rate ("fixed", a measurement:
// it reports instead of failing). The rates reached are logged (-v).
func TestBackfill(t *testing.T) {
	needManager(t)
	n := backfillSize(t)
	type mode struct {
		name    string
		vars    map[string]string
		measure bool // report drops instead of failing
	}
	modes := []mode{
		{name: "default"},
		{name: "adaptive", vars: map[string]string{"WAZUH_ANALYSISD_STATE": analysisdStatePath(), "LOG_LEVEL": "debug"}},
	}
	if eps := os.Getenv("WAZUH_BACKFILL_EPS"); eps != "" {
		modes = append(modes, mode{name: "fixed", vars: map[string]string{"SYSLOG_MAX_EPS": eps}, measure: true})
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			// 10 types × 20 files (5 h, one every 15 min) × n/200 records.
			sim, err := simulator.NewServer(simulator.Options{History: 5 * time.Hour, LiveInterval: -1, RecordsPerFile: n / 200, RateLimit: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sim.Close)
			want := 0
			for _, typ := range simulator.AllTypes() {
				for f, i := range sim.Records(typ, time.Now()) {
					if f.Deliverable(i) {
						want++
					}
				}
			}
			host := fmt.Sprintf("backfill-%s-%d", m.name, time.Now().UnixNano())
			vars := forwarderVars(t, sim, e2eCase{proto: "tcp", api: "v2"}, host)
			for k, v := range m.vars {
				vars[k] = v
			}
			archives := newTail(t, archivesPath())
			before := freshState(t, time.Now())
			start := time.Now()
			stderr := runForwarder(t, 30*time.Minute, vars, "run", "--once")
			elapsed := time.Since(start)
			if got := forwardedCount(t, stderr); got != want {
				t.Fatalf("forwarder sent %d records, the simulator published %d", got, want)
			}
			got := archives.collect(t, want, 30*time.Second, fromHost(host))
			after := freshState(t, time.Now())
			dropped := after.EventsDropped - before.EventsDropped
			t.Logf("%s: %d events in %.1f s = %.0f events/s sent; %d archived (%.2f %%); events_dropped %d → %d",
				m.name, want, elapsed.Seconds(), float64(want)/elapsed.Seconds(), len(got),
				100*float64(len(got))/float64(want), before.EventsDropped, after.EventsDropped)
			for _, l := range strings.Split(stderr, "\n") {
				if strings.Contains(l, "rate_before=") { // the adaptive rate's decisions
					t.Log(l)
				}
			}
			if m.measure {
				return
			}
			if len(got) != want {
				t.Errorf("Wazuh archived %d of %d events", len(got), want)
			}
			if dropped != 0 {
				t.Errorf("analysisd dropped %d events during the backfill", dropped)
			}
		})
	}
}
