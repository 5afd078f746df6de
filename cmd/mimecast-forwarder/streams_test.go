package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/logs"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// TestRunOnceRefusedStream: with MIMECAST_TYPES=all a stream the
// application may not read (403) is skipped with one WARN naming the
// permission, and --once still succeeds with every other stream
// delivered; named explicitly, the same refusal fails --once.
func TestRunOnceRefusedStream(t *testing.T) {
	sim := newSim(t, simulator.Options{NoCI: true, Logs: simulator.LogOptions{Forbidden: []string{"dlp"}}})
	rcv := newReceiver(t)
	ctx := testCtx(t, 30*time.Second)

	r := runCmd(t, ctx, with(v2Vars(t, sim, rcv.addr()), "MIMECAST_TYPES", "all"), nil, "run", "--once")
	if r.code != 0 {
		t.Fatalf("run --once, all: exit %d\n%s", r.code, r.stderr)
	}
	warn := "level=WARN msg=\"Mimecast refuses this stream; it is skipped and asked again every hour (other streams are not affected)\""
	if n := strings.Count(r.stderr, warn+" api=2.0 stream=dlp permission=\"Monitoring | Data Leak Prevention | Read\""); n != 1 {
		t.Errorf("%d WARN lines for dlp, want 1:\n%s", n, r.stderr)
	}
	for _, ci := range api2.CIStreams() {
		if n := strings.Count(r.stderr, warn+" api=2.0 stream="+ci+" "); n != 1 {
			t.Errorf("%d WARN lines for %s, want 1", n, ci)
		}
	}
	rcv.drain(t)
	got := map[string]int{}
	for k, n := range rcv.snapshot() {
		got[strings.SplitN(k, " ", 2)[0]] += n
	}
	for _, s := range append(simulator.AllTypes(), logs.Streams()...) {
		id := strings.ReplaceAll(s, " ", "-")
		if s == "dlp" {
			if got[id] != 0 {
				t.Errorf("%d dlp events from a refused stream", got[id])
			}
			continue
		}
		if got[id] == 0 {
			t.Errorf("no %s event delivered: %v", s, got)
		}
	}

	r = runCmd(t, ctx, with(v2Vars(t, sim, rcv.addr()), "MIMECAST_TYPES", "audit,dlp"), nil, "run", "--once")
	if r.code != 1 || !strings.Contains(r.stderr, "stream dlp: mimecast refused access to this data (403)") ||
		!strings.Contains(r.stderr, "(the API application needs Monitoring | Data Leak Prevention | Read)") {
		t.Errorf("run --once, dlp named: exit %d, want 1 with the refusal\n%s", r.code, r.stderr)
	}
}
