package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const rsyslogd = "/usr/sbin/rsyslogd"

// rsyslogOpts configures a test rsyslog instance.
type rsyslogOpts struct {
	tls      *pki   // imtcp with a TLS stream driver when set
	driver   string // gtls or ossl
	mutual   bool   // require a client certificate
	template string // output template string
}

// rsyslog is a real rsyslogd with its own configuration in a temp dir.
type rsyslog struct {
	t                           testing.TB
	dir, conf, out, pid, stderr string
	addr                        string
	cmd                         *exec.Cmd
}

// needRsyslog skips (or, when CI=true, fails) without rsyslogd.
func needRsyslog(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(rsyslogd); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("rsyslogd not found at %s (CI installs rsyslog rsyslog-gnutls rsyslog-openssl): %v", rsyslogd, err)
		}
		t.Skipf("rsyslogd not found at %s: install rsyslog, rsyslog-gnutls and rsyslog-openssl to run the integration tests", rsyslogd)
	}
}

func startRsyslog(t testing.TB, o rsyslogOpts) *rsyslog {
	t.Helper()
	needRsyslog(t)
	dir := t.TempDir()
	r := &rsyslog{t: t, dir: dir, conf: filepath.Join(dir, "rsyslog.conf"), out: filepath.Join(dir, "out.log"),
		pid: filepath.Join(dir, "rsyslogd.pid"), stderr: filepath.Join(dir, "stderr.log"), addr: freePort(t)}
	_, port, _ := net.SplitHostPort(r.addr)
	if o.template == "" {
		o.template = `%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\n`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "$MaxMessageSize 128k\n")
	fmt.Fprintf(&b, "global(workDirectory=%q)\n", dir)
	mod := `module(load="imtcp" maxSessions="100"`
	if o.tls != nil {
		fmt.Fprintf(&b, "global(defaultNetstreamDriverCAFile=%q defaultNetstreamDriverCertFile=%q defaultNetstreamDriverKeyFile=%q)\n",
			o.tls.caFile, o.tls.serverCert, o.tls.serverKey)
		auth := "anon"
		if o.mutual {
			auth = "x509/certvalid"
		}
		mod += fmt.Sprintf(` streamDriver.name=%q streamDriver.mode="1" streamDriver.authMode=%q`, o.driver, auth)
	}
	b.WriteString(mod + ")\n")
	fmt.Fprintf(&b, "template(name=\"out\" type=\"string\" string=%q)\n", o.template)
	fmt.Fprintf(&b, "ruleset(name=\"in\") {\n  action(type=\"omfile\" file=%q template=\"out\")\n}\n", r.out)
	fmt.Fprintf(&b, "input(type=\"imtcp\" address=\"127.0.0.1\" port=%q ruleset=\"in\")\n", port)
	// The template string is Go-quoted above; rsyslog wants its own escapes.
	conf := strings.ReplaceAll(b.String(), `\\n`, `\n`)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// start runs rsyslogd in the foreground and waits for its port. The pid
// file is the instance's own (-i): with the default, /run/rsyslogd.pid,
// rsyslogd refuses to start while another instance (such as the machine's
// system logger) runs.
func (r *rsyslog) start() error {
	os.Remove(r.pid)
	errf, err := os.OpenFile(r.stderr, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer errf.Close()
	r.cmd = exec.Command(rsyslogd, "-n", "-f", r.conf, "-i", r.pid)
	r.cmd.Stdout, r.cmd.Stderr = errf, errf
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("starting rsyslogd: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			r.kill() // reap it, whether it exited or hangs
			log, _ := os.ReadFile(r.stderr)
			return fmt.Errorf("rsyslogd did not listen on %s: %w\n%s", r.addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and reaps the process.
func (r *rsyslog) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	r.cmd.Wait()
	r.cmd = nil
}

// stop terminates rsyslogd gracefully (it writes what it has queued).
func (r *rsyslog) stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// lines waits until the output has n lines and returns them.
func (r *rsyslog) lines(n int) []string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(r.out)
		// Only complete lines: rsyslog may be half way through writing a
		// large one.
		var lines []string
		if i := strings.LastIndexByte(string(data), '\n'); i >= 0 {
			lines = strings.Split(string(data[:i]), "\n")
		}
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(r.stderr)
			r.t.Fatalf("rsyslog wrote %d of %d lines; stderr:\n%s", len(lines), n, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rsyslogCases are the messages every rsyslog test sends.
func rsyslogCases() (msgs []string, want []string) {
	type tc struct{ host, app, msgid, sd, msg string }
	cases := []tc{
		{"mail-gw-1", "mimecast", "receipt", `[origin software="mimecast-forwarder" swVersion="1.2.3"]`,
			`{"mimecast":{"logType":"receipt","Subject":"He said \"hi\" \\ C:\\path ] done","Act":"Acc"}}`},
		{"mail-gw-1", "mimecast", "url-protect", `[origin software="mimecast-forwarder" swVersion="v \"q\" \] \\"]`,
			`{"mimecast":{"logType":"url protect","url":"https://exämple.de/ü?q=[1]","who":"Ωμέγα 日本語 😀"}}`},
		{"h2", "mimecast", "internal-email-protect", "-",
			`{"mimecast":{"logType":"internal email protect","body":"` + strings.Repeat("0123456789abcdeé", 3750) + `"}}`},
	}
	for _, c := range cases {
		msgs = append(msgs, rfcLine(c.host, c.app, c.msgid, c.sd, c.msg))
		want = append(want, strings.Join([]string{c.host, c.app, c.msgid, c.sd, c.msg}, "|"))
	}
	return msgs, want
}

func sendAndCheck(t *testing.T, r *rsyslog, c Config) {
	t.Helper()
	env := newEnv(t)
	s := newSender(t, env, c)
	msgs, want := rsyslogCases()
	ep := s.Epoch()
	for _, m := range msgs {
		if _, err := s.Send(t.Context(), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	got := r.lines(len(want))
	if len(got) != len(want) {
		t.Fatalf("rsyslog wrote %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %.300q (%d bytes)\nwant %.300q (%d bytes)", i, got[i], len(got[i]), want[i], len(want[i]))
		}
	}
	if len(want[2]) < 60000 {
		t.Fatalf("large case only %d bytes", len(want[2]))
	}
}

func TestRsyslogTCP(t *testing.T) {
	for _, f := range []Framing{FramingLF, FramingOctetCounting} {
		t.Run(string(f), func(t *testing.T) {
			r := startRsyslog(t, rsyslogOpts{})
			c := testConfig(ProfileRFC, "tcp://"+r.addr)
			c.Framing = f
			sendAndCheck(t, r, c)
		})
	}
	t.Run("wazuh-profile", func(t *testing.T) {
		r := startRsyslog(t, rsyslogOpts{})
		sendAndCheck(t, r, testConfig(ProfileWazuh, "tcp://"+r.addr))
	})
}

// TestRsyslogInstancesIndependent runs two test rsyslogds at once. Each has
// its own pid file, port, configuration and work directory, so a test never
// needs another rsyslogd stopped first: not another test's, nor the
// machine's own system logger (with rsyslogd's default pid file,
// /run/rsyslogd.pid, the second instance would refuse to start).
func TestRsyslogInstancesIndependent(t *testing.T) {
	a := startRsyslog(t, rsyslogOpts{})
	b := startRsyslog(t, rsyslogOpts{})
	if a.addr == b.addr || a.pid == b.pid || a.dir == b.dir {
		t.Fatalf("instances share a port, pid file or directory: %s %s, %s %s", a.addr, b.addr, a.pid, b.pid)
	}
	sendAndCheck(t, a, testConfig(ProfileRFC, "tcp://"+a.addr))
	if data, err := os.ReadFile(b.out); len(data) != 0 || (err != nil && !errors.Is(err, os.ErrNotExist)) {
		t.Errorf("the other instance wrote %.200q (%v)", data, err)
	}
	sendAndCheck(t, b, testConfig(ProfileRFC, "tcp://"+b.addr))
}

func TestRsyslogTLS(t *testing.T) {
	needRsyslog(t)
	p := newPKI(t, "rsyslog")
	for _, driver := range []string{"gtls", "ossl"} {
		for _, mutual := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/mutual=%v", driver, mutual), func(t *testing.T) {
				if _, err := os.Stat(fmt.Sprintf("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_%s.so", driver)); err != nil && os.Getenv("CI") != "true" {
					t.Skipf("rsyslog %s driver not installed", driver)
				}
				r := startRsyslog(t, rsyslogOpts{tls: p, driver: driver, mutual: mutual})
				c := testConfig(ProfileRFC, "tls://"+r.addr)
				c.TLSCAFile = p.caFile
				c.TLSServerName = "syslog.test"
				if mutual {
					c.TLSCertFile, c.TLSKeyFile = p.clientCert, p.clientKey
				}
				sendAndCheck(t, r, c)
			})
		}
		t.Run(driver+"/mutual-without-client-cert", func(t *testing.T) {
			if _, err := os.Stat(fmt.Sprintf("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_%s.so", driver)); err != nil && os.Getenv("CI") != "true" {
				t.Skipf("rsyslog %s driver not installed", driver)
			}
			r := startRsyslog(t, rsyslogOpts{tls: p, driver: driver, mutual: true})
			c := testConfig(ProfileRFC, "tls://"+r.addr)
			c.TLSCAFile = p.caFile
			c.AckTimeout = time.Second
			c.StopOnConfigError = true
			s := newSender(t, newEnv(t), c)
			msgs, _ := rsyslogCases()
			// The refusal shows as a failed handshake (a configuration
			// error) or, with TLS 1.3, at some later Send or Confirm as a
			// lost connection: when is up to rsyslog.
			err := refusedBatch(t, s, []byte(msgs[0]))
			if !errors.Is(err, ErrConfig) && !errors.Is(err, ErrConnectionLost) {
				t.Fatalf("rsyslog requiring a client certificate: %v, want ErrConfig or ErrConnectionLost", err)
			}
			if data, _ := os.ReadFile(r.out); len(data) != 0 {
				t.Errorf("rsyslog wrote %q", data)
			}
		})
	}
}

// countSeqs counts every complete `{"seq":N,"pad":"<pad>"}` in data (a
// line cut by a kill is not counted; what follows it on the same line is).
func countSeqs(data []byte, pad string, counts []int) {
	const head = `{"seq":`
	tail := []byte(`,"pad":"` + pad + `"}`)
	for {
		i := bytes.Index(data, []byte(head))
		if i < 0 {
			return
		}
		data = data[i+len(head):]
		j := 0
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(string(data[:j]))
		if err == nil && bytes.HasPrefix(data[j:], tail) && n >= 0 && n < len(counts) {
			counts[n]++
		}
	}
}

// TestRsyslogKill sends 200,000 numbered messages while rsyslogd is SIGKILLed
// and restarted 10 times. The sender loop works like the pipeline: Confirm
// every batch, send the batch again after ErrConnectionLost. It runs with
// and without the acknowledgement wait and the replay window, logs lost and
// duplicated messages, and asserts no loss with both mechanisms on. It takes
// about 5-10 s per variant, so it is skipped with -short.
func TestRsyslogKill(t *testing.T) {
	needRsyslog(t)
	if testing.Short() {
		t.Skip("kill test skipped with -short")
	}
	for _, v := range []struct {
		name           string
		ack, replay    bool
		mustBeLossless bool
	}{
		{"ack+replay", true, true, true},
		{"ack-only", true, false, false},
		{"replay-only", false, true, false},
		{"neither", false, false, false},
	} {
		t.Run(v.name, func(t *testing.T) {
			lost, dups := runKill(t, v.ack, v.replay)
			t.Logf("%s: 200000 messages, 10 kills: lost %d, duplicated %d", v.name, lost, dups)
			if v.mustBeLossless && lost != 0 {
				t.Errorf("lost %d messages with the acknowledgement wait and the replay window", lost)
			}
		})
	}
}

func runKill(t *testing.T, ack, replay bool) (lost, dups int) {
	const total, batch, kills = 200000, 500, 10
	r := startRsyslog(t, rsyslogOpts{template: `%msg%\n`})
	env := newEnv(t)
	c := testConfig(ProfileWazuh, "tcp://"+r.addr)
	if !ack {
		c.AckTimeout = 0
	}
	if !replay {
		c.ReplayWindow = 0
	}
	s := newSender(t, env, c)
	pad := strings.Repeat("x", 150)
	msg := func(i int) []byte {
		return []byte(rfcLine("h", "mimecast", "kill", "-", `{"seq":`+strconv.Itoa(i)+`,"pad":"`+pad+`"}`))
	}

	var progress atomic.Int64
	killerDone := make(chan struct{})
	restarted := make(chan *exec.Cmd, kills)
	stop := make(chan struct{})
	go func() {
		defer close(killerDone)
		for k := 1; k <= kills; k++ {
			for progress.Load() < int64(k*total/(kills+1)) {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
			t0 := time.Now()
			r.kill()
			restarted <- nil
			if err := r.start(); err != nil {
				t.Errorf("restarting rsyslogd: %v", err) // not Fatal: this is not the test's goroutine
				return
			}
			t.Logf("kill %d at message %d: restarted in %v", k, progress.Load(), time.Since(t0))
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	resends := 0
	for next := 0; next < total; {
		end := min(next+batch, total)
		ep := s.Epoch()
		var err error
		for i := next; i < end && err == nil; i++ {
			_, err = s.Send(ctx, msg(i))
			progress.Store(int64(i))
		}
		if err == nil {
			err = s.Confirm(ctx, ep)
			for errors.Is(err, ErrAckTimeout) {
				err = s.Confirm(ctx, ep)
			}
		}
		switch {
		case err == nil:
			next = end
		case errors.Is(err, ErrConnectionLost):
			resends++
		default:
			close(stop)
			<-killerDone
			t.Fatalf("batch at %d: %v", next, err)
		}
	}
	close(stop)
	<-killerDone
	r.stop() // graceful: rsyslog writes what it has read
	data, err := os.ReadFile(r.out)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, total)
	countSeqs(data, pad, counts)
	for _, n := range counts {
		if n == 0 {
			lost++
		} else {
			dups += n - 1
		}
	}
	rec := s.eps[0]
	t.Logf("batches resent %d, reconnects %v, replayed %v, kills %d", resends, value(rec.reconnects), value(rec.rep), len(restarted))
	if len(restarted) != kills {
		t.Errorf("only %d kills happened", len(restarted))
	}
	return lost, dups
}
