package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// TestSimulateThenCheck serves `simulate` in-process and points `check`
// (API 2.0 and 1.0, with the documented simulator credentials) at it; then
// cancelling the context stops the simulator with exit 0.
func TestSimulateThenCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		done <- runCmd(t, ctx, nil, nil, "simulate", "--listen", addr, "--history", "1h", "--live-interval", "-1s")
	}()
	eventually(t, "the simulator to listen", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	rcv := newReceiver(t)
	base := map[string]string{"MIMECAST_BASE_URL": "http://" + addr, "SYSLOG_ADDRESS": rcv.addr(), "STATE_DIR": t.TempDir()}
	cctx := testCtx(t, 20*time.Second)
	r := runCmd(t, cctx, with(base, "MIMECAST_CLIENT_ID", simulator.DefaultClientID, "MIMECAST_CLIENT_SECRET", simulator.DefaultClientSecret), nil, "check")
	// MIMECAST_TYPES defaults to all: the simulator grants all 20 streams.
	if r.code != 0 || !strings.Contains(r.stdout, "ok   Mimecast API 2.0 at http://"+addr+": authenticated, 20 of 20 streams readable\n") {
		t.Errorf("check v2 against simulate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("check at LOG_LEVEL=info logged to stderr:\n%s", r.stderr)
	}
	r = runCmd(t, cctx, with(base, "MIMECAST_APP_ID", simulator.DefaultV1AppID, "MIMECAST_APP_KEY", simulator.DefaultV1AppKey,
		"MIMECAST_ACCESS_KEY", simulator.DefaultV1AccessKey, "MIMECAST_SECRET_KEY", simulator.DefaultV1SecretKey, "LOG_LEVEL", "DEBUG"), nil, "check")
	if r.code != 0 || !strings.Contains(r.stdout, "ok   Mimecast API 1.0 at http://"+addr+": authenticated, 8 of 8 streams readable\nok   stream siem-v1: readable\n") {
		t.Errorf("check v1 against simulate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "level=DEBUG") {
		t.Errorf("check at LOG_LEVEL=DEBUG logged no debug line:\n%s", r.stderr)
	}
	cancel()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("simulate after cancel: exit %d\n%s", r.code, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("simulate did not stop within 10 s")
	}
}

// TestBenchSmall runs a small `bench` with the built binary (it starts the
// simulator and the forwarder as child processes of itself).
func TestBenchSmall(t *testing.T) {
	out, err := binCmd(testCtx(t, 30*time.Second), nil, "bench", "--records", "2000", "--records-per-file", "100").CombinedOutput()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"records received:        2000\n", "records/s (wall):", "forwarder peak RSS:",
		"forwarder cores in use:", "simulator CPU time:", "sink CPU time:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	// API 1.0: only the SIEM stream is measured (no audit or other log
	// records), so exactly the zip's events arrive.
	out, err = binCmd(testCtx(t, 60*time.Second), nil, "bench", "--api", "v1", "--types", "2", "--records", "400",
		"--records-per-file", "100", "--baseline=false", "--prepare=false", "--seed", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("bench --api v1: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "records received:        400\n") {
		t.Errorf("bench --api v1 did not receive exactly 400 records:\n%s", out)
	}
	r := runCmd(t, testCtx(t, 5*time.Second), nil, nil, "bench", "--records", "0")
	if r.code != 2 {
		t.Errorf("bench --records 0: exit %d, want 2: %s", r.code, r.stderr)
	}
}
