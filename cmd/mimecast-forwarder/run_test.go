package main

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/logs"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// TestDemoOnce runs `demo --once` twice: to standard output, then to a
// loopback TCP receiver; both carry the same number of valid RFC5424 lines.
func TestDemoOnce(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	vars := map[string]string{"METRICS_ADDRESS": "127.0.0.1:0", "SYSLOG_HOSTNAME": "demo-host"}
	r := runCmd(t, ctx, vars, nil, "demo", "--once")
	if r.code != 0 {
		t.Fatalf("demo --once: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("demo printed nothing; stderr:\n%s", r.stderr)
	}
	types := map[string]int{}
	for _, l := range lines {
		m, err := parseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		lt, err := logType(*m.Message)
		if err != nil {
			t.Fatal(err)
		}
		if *m.MsgID != syslogfmt.MsgID(lt) || *m.Hostname != "demo-host" {
			t.Fatalf("MSGID %q / HOSTNAME %q do not match logType %q: %.200q", *m.MsgID, *m.Hostname, lt, l)
		}
		types[lt]++
	}
	// Every stream the API 2.0 demo reads: the ten SIEM types, the Cloud
	// Integrated ones and the log streams, each its own logType.
	want := append(append(simulator.AllTypes(), api2.CIStreams()...), logs.Streams()...)
	for _, lt := range want {
		if types[lt] == 0 {
			t.Errorf("demo forwarded no %s event", lt)
		}
	}
	if len(types) != len(want) || len(want) != 20 {
		t.Errorf("demo forwarded %d types, want all %d: %v", len(types), len(want), types)
	}

	rcv := newReceiver(t)
	r2 := runCmd(t, ctx, with(vars, "SYSLOG_ADDRESS", rcv.addr()), nil, "demo", "--once")
	if r2.code != 0 {
		t.Fatalf("demo --once to TCP: exit %d\n%s", r2.code, r2.stderr)
	}
	if r2.stdout != "" {
		t.Errorf("demo to TCP also wrote to stdout: %.200q", r2.stdout)
	}
	// Each demo has its own simulator, which publishes a live file per
	// batch type every minute (5 events each) and a log event every few
	// minutes: a boundary between the two runs adds at most 5 events per
	// stream. Each run must deliver exactly what it reports forwarding.
	if n := forwardedRecords(t, r.stderr); n != len(lines) {
		t.Errorf("stdout demo printed %d lines, reported %d records", len(lines), n)
	}
	rcv.drain(t)
	if n := forwardedRecords(t, r2.stderr); rcv.count() != n {
		t.Errorf("TCP receiver got %d lines, demo reported %d records", rcv.count(), n)
	}
	if d := rcv.count() - len(lines); d < 0 || d > len(want)*5 {
		t.Errorf("TCP demo delivered %d lines, stdout demo %d", rcv.count(), len(lines))
	}
}

var forwardedRE = regexp.MustCompile(`msg=forwarded records=(\d+) streams=`)

// forwardedRecords returns N of the final "forwarded records=N" log line.
func forwardedRecords(t *testing.T, stderr string) int {
	t.Helper()
	m := forwardedRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no forwarded summary line in:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestRunOnceV2 forwards every simulated event exactly once, then a second
// run on the same STATE_DIR sends nothing again.
func TestRunOnceV2(t *testing.T) {
	sim := newSim(t, simulator.Options{})
	rcv := newReceiver(t)
	ctx := testCtx(t, 30*time.Second)
	vars := v2Vars(t, sim, rcv.addr())

	r := runCmd(t, ctx, vars, nil, "run", "--once")
	if r.code != 0 {
		t.Fatalf("run --once: exit %d\n%s", r.code, r.stderr)
	}
	rcv.drain(t)
	want := expected(sim, time.Now())
	if len(want) != 10*4*5 {
		t.Fatalf("simulator published %d events, want 200", len(want))
	}
	got := rcv.snapshot()
	for k := range want {
		if got[k] != 1 {
			t.Errorf("event received %d times, want once: %.160s", got[k], k)
		}
	}
	if rcv.count() != len(want) {
		t.Errorf("received %d lines, want %d", rcv.count(), len(want))
	}
	if !strings.Contains(r.stderr, "msg=forwarded records=200 streams=10") {
		t.Errorf("no summary line with 200 records:\n%s", r.stderr)
	}

	r = runCmd(t, ctx, vars, nil, "run", "--once")
	if r.code != 0 {
		t.Fatalf("second run --once: exit %d\n%s", r.code, r.stderr)
	}
	rcv.drain(t)
	if n := rcv.count(); n != len(want) {
		t.Errorf("second run on the same STATE_DIR re-sent %d lines", n-len(want))
	}
	if !strings.Contains(r.stderr, "msg=forwarded records=0 streams=10") {
		t.Errorf("second run summary does not say 0 records:\n%s", r.stderr)
	}
}

// v1Vars is the environment of `run` against sim's API 1.0 endpoint.
func v1Vars(t *testing.T, sim *simulator.Simulator, syslogAddr string) map[string]string {
	appID, appKey, accessKey, secretKey := sim.V1Credentials()
	return with(v2Vars(t, sim, syslogAddr), "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", "",
		"MIMECAST_API", "v1", "MIMECAST_APP_ID", appID, "MIMECAST_APP_KEY", appKey,
		"MIMECAST_ACCESS_KEY", accessKey, "MIMECAST_SECRET_KEY", secretKey)
}

// v1Expected returns every API 1.0 event published by at, in format.
func v1Expected(sim *simulator.Simulator, at time.Time, format string) map[string]bool {
	want := map[string]bool{}
	for k := range sim.V1Published(at) {
		for _, typ := range simulator.AllTypes() {
			for n := 0; ; n++ {
				ev := sim.V1Event(typ, k, n, format)
				if ev == nil {
					break
				}
				want[syslogfmt.MsgID(typ)+" "+string(ev)] = true
			}
		}
	}
	return want
}

// TestRunOnceV1 forwards API 1.0 events (JSON, then key_value sent raw).
func TestRunOnceV1(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	sim := newSim(t, simulator.Options{})

	t.Run("json", func(t *testing.T) {
		rcv := newReceiver(t)
		r := runCmd(t, ctx, v1Vars(t, sim, rcv.addr()), nil, "run", "--once")
		if r.code != 0 {
			t.Fatalf("run --once (API 1.0): exit %d\n%s", r.code, r.stderr)
		}
		rcv.drain(t)
		want := v1Expected(sim, time.Now(), "json")
		if len(want) == 0 || rcv.count() != len(want) {
			t.Fatalf("received %d lines, want %d", rcv.count(), len(want))
		}
		types := map[string]bool{}
		for k, n := range rcv.snapshot() {
			msgID, msg, _ := strings.Cut(k, " ")
			lt, err := logType(msg)
			if err != nil {
				t.Fatal(err)
			}
			if msgID != syslogfmt.MsgID(lt) || n != 1 {
				t.Errorf("MSGID %s, logType %s, received %d times", msgID, lt, n)
			}
			types[lt] = true
		}
		if len(types) != len(simulator.AllTypes()) {
			t.Errorf("got %d log types, want %d", len(types), len(simulator.AllTypes()))
		}
	})

	t.Run("key_value raw", func(t *testing.T) {
		rcv := newReceiver(t)
		vars := with(v1Vars(t, sim, rcv.addr()), "MIMECAST_FILE_FORMAT", "key_value", "SYSLOG_BODY", "raw")
		r := runCmd(t, ctx, vars, nil, "run", "--once")
		if r.code != 0 {
			t.Fatalf("run --once (API 1.0 key_value raw): exit %d\n%s", r.code, r.stderr)
		}
		rcv.drain(t)
		want := v1Expected(sim, time.Now(), "key_value")
		got := rcv.snapshot()
		if len(want) == 0 || rcv.count() != len(want) {
			t.Fatalf("received %d lines, want %d", rcv.count(), len(want))
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("key_value line received %d times, want once as MSG: %.160s", got[k], k)
			}
		}
	})
}

// daemon is the built binary running `run` in the background.
type daemon struct {
	cmd    *exec.Cmd
	stderr *mimecasttest.SyncBuffer
	done   chan error
}

var metricsAddrRE = regexp.MustCompile(`msg="serving metrics" address=(127\.0\.0\.1:\d+)`)

func startDaemon(t *testing.T, vars map[string]string) *daemon {
	t.Helper()
	d := &daemon{stderr: &mimecasttest.SyncBuffer{}, done: make(chan error, 1)}
	d.cmd = binCmd(context.Background(), vars, "run")
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// stop sends SIGTERM and waits up to 10 s for a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon still running 10 s after SIGTERM\n%s", d.stderr.String())
	}
}

func (d *daemon) metricsAddr(t *testing.T) string {
	t.Helper()
	var addr string
	eventually(t, "the metrics address in the log", 10*time.Second, func() bool {
		if m := metricsAddrRE.FindStringSubmatch(d.stderr.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	})
	return addr
}

// TestDaemonLockHealthAndGracefulStop runs the built binary as a daemon
// against a simulator publishing new files every 300 ms, then checks: a
// second instance on the same STATE_DIR fails at once naming the PID;
// healthcheck answers; SIGTERM stops it within 10 s with status 0; a
// restart with --once delivers everything published, re-sending at most
// one in-flight batch per stream.
func TestDaemonLockHealthAndGracefulStop(t *testing.T) {
	const perFile = 5
	// Cadence 1 s: the live schedule starts at the last whole second (with
	// the default 15 min, up to 15 min of 300 ms files would be "live" at
	// once).
	sim := newSim(t, simulator.Options{History: 4 * time.Second, Cadence: time.Second,
		LiveInterval: 300 * time.Millisecond, RecordsPerFile: perFile})
	rcv := newReceiver(t)
	vars := with(v2Vars(t, sim, rcv.addr()), "LOG_LEVEL", "debug") // printed if an event is lost
	start := time.Now()
	d := startDaemon(t, vars)
	history := len(expected(sim, start))
	eventually(t, "the history and some live events", 20*time.Second, func() bool { return rcv.count() > history })
	addr := d.metricsAddr(t)
	ctx := testCtx(t, 30*time.Second)

	t.Run("healthcheck", func(t *testing.T) {
		r := runCmd(t, ctx, nil, nil, "healthcheck", "--metrics-address", addr)
		if r.code != 0 || r.stdout == "" {
			t.Errorf("healthcheck: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = runCmd(t, ctx, map[string]string{"METRICS_ADDRESS": addr}, nil, "healthcheck", "--ready")
		if r.code != 0 {
			t.Errorf("healthcheck --ready from METRICS_ADDRESS: exit %d, stderr %q", r.code, r.stderr)
		}
		// The built binary, as Docker's HEALTHCHECK runs it.
		cmd := binCmd(ctx, map[string]string{"METRICS_ADDRESS": addr}, "healthcheck")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("binary healthcheck: %v: %s", err, out)
		}
	})

	t.Run("second instance", func(t *testing.T) {
		began := time.Now()
		r := runCmd(t, ctx, with(vars, "METRICS_ADDRESS", "127.0.0.1:0"), nil, "run", "--once")
		if r.code == 0 {
			t.Fatalf("second instance on the same STATE_DIR succeeded:\n%s", r.stderr)
		}
		if el := time.Since(began); el > 5*time.Second {
			t.Errorf("second instance took %s to fail", el)
		}
		want := "state directory is locked: STATE_DIR " + vars["STATE_DIR"] + " is in use by PID " + strconv.Itoa(d.cmd.Process.Pid)
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, r.stderr)
		}
	})

	before := rcv.count()
	eventually(t, "more live events", 10*time.Second, func() bool { return rcv.count() > before })
	d.stop(t)
	if !strings.Contains(d.stderr.String(), "stopped on signal; every committed cursor is on disk") {
		t.Errorf("no stop line in the log:\n%s", d.stderr.String())
	}
	rcv.drain(t)
	first := rcv.snapshot()

	t0 := time.Now()
	r := runCmd(t, ctx, vars, nil, "run", "--once")
	if r.code != 0 {
		t.Fatalf("restart --once: exit %d\n%s", r.code, r.stderr)
	}
	rcv.drain(t)
	union := rcv.snapshot()
	want := expected(sim, t0)              // must all have arrived
	published := expected(sim, time.Now()) // may have arrived
	lost := 0
	for k := range want {
		if union[k] == 0 {
			lost++
			t.Errorf("event lost across the restart: %.160s", k)
		}
	}
	dups := 0
	for k, n := range union {
		if !published[k] {
			t.Errorf("received a message the simulator never published (altered?): %.300s", k)
			continue
		}
		dups += n - 1
	}
	if lost > 0 {
		t.Logf("daemon log:\n%s\nrestart log:\n%s", d.stderr.String(), r.stderr)
	}
	if maxDups := len(simulator.AllTypes()) * perFile; dups > maxDups {
		t.Errorf("%d duplicates after the restart, want ≤ %d (one in-flight batch per stream)", dups, maxDups)
	}
	t.Logf("first run %d lines, restart %d lines, %d duplicates", len(first), rcv.count()-sum(first), dups)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestHealthcheckNothingListening: healthcheck fails (exit 1) when no
// instance answers.
func TestHealthcheckNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := runCmd(t, testCtx(t, 10*time.Second), nil, nil, "healthcheck", "--metrics-address", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "healthcheck") || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("exit %d, stderr %q; want 1 and connection refused", r.code, r.stderr)
	}
	cmd := binCmd(context.Background(), map[string]string{"METRICS_ADDRESS": addr}, "healthcheck")
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("binary healthcheck with nothing listening: %v, want exit status 1", err)
	}
}

// TestHealthcheckInProcess runs `run` in-process with a metrics address
// and checks healthcheck against it.
func TestHealthcheckInProcess(t *testing.T) {
	sim := newSim(t, simulator.Options{})
	rcv := newReceiver(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := with(v2Vars(t, sim, rcv.addr()), "METRICS_ADDRESS", addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- runCmd(t, ctx, vars, nil, "run") }()
	eventually(t, "every event", 20*time.Second, func() bool { return rcv.count() == 200 })
	r := runCmd(t, testCtx(t, 10*time.Second), nil, nil, "healthcheck", "--metrics-address", addr, "--ready")
	if r.code != 0 {
		t.Errorf("healthcheck --ready: exit %d: %s", r.code, r.stderr)
	}
	cancel()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("run after cancel: exit %d\n%s", r.code, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop within 10 s of cancellation")
	}
}

// TestVersionAndUsage covers version, help, no command and an unknown one.
func TestVersionAndUsage(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	r := runCmd(t, ctx, nil, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "mimecast-forwarder "+version+" (revision "+revision+", go") {
		t.Errorf("version: exit %d, stdout %q", r.code, r.stdout)
	}
	out, err := binCmd(ctx, nil, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "mimecast-forwarder dev (revision unknown, go") {
		t.Errorf("binary --version: %v %q", err, out)
	}
	r = runCmd(t, ctx, nil, nil, "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "usage: mimecast-forwarder <command>") {
		t.Errorf("unknown command: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCmd(t, ctx, nil, nil)
	if r.code != 2 || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("no command: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCmd(t, ctx, nil, nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "usage:") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, c := range []string{"run", "demo", "simulate", "check", "bench", "version", "healthcheck"} {
		if !strings.Contains(r.stdout, "\n  "+c+" ") {
			t.Errorf("usage does not list %s", c)
		}
	}
}

// TestDaemonStopsWhileReceiverDown: SIGTERM while every batch is waiting
// for a receiver that is down still exits 0 within 10 s, committing
// nothing.
func TestDaemonStopsWhileReceiverDown(t *testing.T) {
	sim := newSim(t, simulator.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "tcp://" + ln.Addr().String()
	ln.Close()
	vars := v2Vars(t, sim, down)
	d := startDaemon(t, vars)
	eventually(t, "the streams to start", 10*time.Second, func() bool {
		return strings.Count(d.stderr.String(), `msg="stream started"`) == len(simulator.AllTypes())
	})
	time.Sleep(300 * time.Millisecond) // let the batches reach the sender
	d.stop(t)
	if !strings.Contains(d.stderr.String(), "msg=forwarded records=0 streams=10") {
		t.Errorf("records were counted as forwarded with the receiver down:\n%s", d.stderr.String())
	}
	// Nothing was committed: a run with a receiver delivers everything.
	rcv := newReceiver(t)
	r := runCmd(t, testCtx(t, 20*time.Second), with(vars, "SYSLOG_ADDRESS", rcv.addr()), nil, "run", "--once")
	rcv.drain(t)
	if r.code != 0 || rcv.count() != len(expected(sim, time.Now())) {
		t.Errorf("restart: exit %d, %d lines, want %d\n%s", r.code, rcv.count(), len(expected(sim, time.Now())), r.stderr)
	}
}
