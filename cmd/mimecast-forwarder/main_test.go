package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"go.uber.org/goleak"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// binPath is the command built once by TestMain for the tests that need a
// real process (signals, a second PID holding the lock, the Dockerfile build).
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mimecast-forwarder-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "mimecast-forwarder")
	// Static and -trimpath as in the Dockerfile, so that the Dockerfile
	// test's build finds every package in the build cache.
	cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// Every in-process command stops all it started.
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop")); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// result is the outcome of one in-process command.
type result struct {
	code           int
	stdout, stderr string
}

// fakeEnv builds an env from a map of environment variables and a map of
// files (name → content) served by readFile; files not in the map are read
// from disk.
func fakeEnv(vars map[string]string, files map[string]string, stdout, stderr *mimecasttest.SyncBuffer) env {
	return env{
		stdout: stdout,
		stderr: stderr,
		getenv: func(k string) string { return vars[k] },
		readFile: func(name string) ([]byte, error) {
			if c, ok := files[name]; ok {
				return []byte(c), nil
			}
			return os.ReadFile(name)
		},
	}
}

// runCmd runs runMain in-process with vars as the environment.
func runCmd(t *testing.T, ctx context.Context, vars map[string]string, files map[string]string, args ...string) result {
	t.Helper()
	var out, errb mimecasttest.SyncBuffer
	code := runMain(ctx, args, fakeEnv(vars, files, &out, &errb))
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// testCtx bounds a test's commands.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newSim starts an API simulator on loopback with a small, fixed history
// (4 files of 5 records per type) and no live files unless opts says so.
func newSim(t *testing.T, opts simulator.Options) *simulator.Simulator {
	t.Helper()
	if opts.History == 0 {
		opts.History = time.Hour
	}
	if opts.LiveInterval == 0 {
		opts.LiveInterval = -1
	}
	if opts.RecordsPerFile == 0 {
		opts.RecordsPerFile = 5
	}
	opts.RateLimit = -1
	sim, err := simulator.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// v2Vars is the environment of `run` against sim (API 2.0) and a receiver.
func v2Vars(t *testing.T, sim *simulator.Simulator, syslogAddr string) map[string]string {
	id, secret := sim.Credentials()
	return map[string]string{
		"MIMECAST_BASE_URL":            sim.URL(),
		"MIMECAST_CLIENT_ID":           id,
		"MIMECAST_CLIENT_SECRET":       secret,
		"MIMECAST_REQUESTS_PER_MINUTE": "0",
		"SYSLOG_ADDRESS":               syslogAddr,
		"SYSLOG_HOSTNAME":              "test-host",
		"STATE_DIR":                    t.TempDir(),
		"METRICS_ADDRESS":              "127.0.0.1:0",
		"POLL_INTERVAL":                "200ms",
		// The tests expect every file published up to now: without this,
		// between 00:00 and 01:00 UTC a caught-up stream would stay on
		// yesterday for the default hour of grace.
		"MIMECAST_DAY_GRACE": "0",
		// The SIEM feed only: the log streams have their own tests.
		"MIMECAST_TYPES": strings.Join(mimecast.Types, ","),
	}
}

// receiver is a syslog receiver on loopback TCP: it splits on LF, parses
// every line with go-syslog's RFC5424 parser and counts each "MSGID MSG".
type receiver struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	msgs  map[string]int
	lines []string
	errs  []error
	wg    sync.WaitGroup
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{ln: ln, conns: map[net.Conn]bool{}, msgs: map[string]int{}}
	r.wg.Go(r.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		r.mu.Lock()
		for c := range r.conns {
			_ = c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
		if errs := r.errors(); len(errs) > 0 {
			t.Errorf("receiver: %v", errors.Join(errs...))
		}
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
	br := bufio.NewReaderSize(c, 1<<20)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if line != "" && !errors.Is(err, net.ErrClosed) {
				r.fail(fmt.Errorf("unterminated line at close: %.80q", line))
			}
			return
		}
		line = strings.TrimSuffix(line, "\n")
		m, err := parseLine(line)
		if err != nil {
			r.fail(err)
			continue
		}
		r.mu.Lock()
		r.msgs[*m.MsgID+" "+*m.Message]++
		r.lines = append(r.lines, line)
		r.mu.Unlock()
	}
}

func (r *receiver) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *receiver) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// drain waits until every connection the forwarder opened is closed and
// read to its end, so that counts are final after a run returned.
func (r *receiver) drain(t *testing.T) {
	t.Helper()
	open := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.conns) > 0
	}
	for range 2 { // again after a pause: a connection may wait in the accept queue
		eventually(t, "the receiver to read every connection to its end", 10*time.Second, func() bool { return !open() })
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

// snapshot returns a copy of the received "MSGID MSG" counts.
func (r *receiver) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.msgs))
	for k, v := range r.msgs {
		m[k] = v
	}
	return m
}

// parseLine parses one RFC5424 line strictly and checks the fields every
// forwarded message has.
func parseLine(line string) (*rfc5424.SyslogMessage, error) {
	msg, err := rfc5424.NewParser().Parse([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("RFC5424 parse: %v: %.200q", err, line)
	}
	m := msg.(*rfc5424.SyslogMessage)
	if m.Appname == nil || *m.Appname != "mimecast" || m.MsgID == nil || m.Message == nil || m.Timestamp == nil || m.Hostname == nil {
		return nil, fmt.Errorf("missing header field in %.200q", line)
	}
	return m, nil
}

// logType returns mimecast.logType of a JSON MSG.
func logType(msg string) (string, error) {
	var body struct {
		Mimecast map[string]any `json:"mimecast"`
	}
	if err := json.Unmarshal([]byte(msg), &body); err != nil {
		return "", fmt.Errorf("MSG is not JSON: %v: %.200q", err, msg)
	}
	lt, ok := body.Mimecast["logType"].(string)
	if !ok || lt == "" {
		return "", fmt.Errorf("MSG has no mimecast.logType: %.200q", msg)
	}
	return lt, nil
}

// expected returns every "MSGID MSG" the simulator has published by at,
// exactly as the forwarder must write it (JSON body).
func expected(sim *simulator.Simulator, at time.Time) map[string]bool {
	want := map[string]bool{}
	for _, typ := range simulator.AllTypes() {
		for f, n := range sim.Records(typ, at) {
			if !f.Deliverable(n) {
				continue
			}
			inner := strings.TrimPrefix(string(sim.Event(typ, f.Index, n)), "{")
			if inner != "}" {
				inner = "," + inner
			}
			want[syslogfmt.MsgID(typ)+` {"mimecast":{"logType":"`+typ+`"`+inner+"}"] = true
		}
	}
	return want
}

// eventually polls cond every 10 ms until it holds or timeout passes.
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

// configLines returns the "  - " lines of an invalid-configuration report.
func configLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if s, ok := strings.CutPrefix(l, "  - "); ok {
			out = append(out, s)
		}
	}
	return out
}

// binCmd prepares the built binary with exactly vars as its environment
// (plus PATH and HOME).
func binCmd(ctx context.Context, vars map[string]string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}
