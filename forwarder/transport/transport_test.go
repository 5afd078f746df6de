package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	c := testConfig(ProfileWazuh, "tcp://127.0.0.1:514", "udp://localhost:514", "wazuh-queue:///var/ossec/queue/sockets/queue")
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	c.Framing = FramingOctetCounting
	err := c.Validate()
	if !contains(err, EnvFraming) || !contains(err, "splits TCP syslog on LF only") {
		t.Fatalf("wazuh + octet-counting: got %v", err)
	}

	bad := DefaultConfig()
	bad.Addresses = []string{"http://x:1", "tcp://nohost", "tcp://h:99999", "wazuh-queue://relative", "tcp://a:1", "tcp://a:1"}
	bad.MaxMessageBytes = 100
	bad.TLSCertFile = "/c.pem"
	bad.BackoffMin = 0
	bad.Profile = "splunk"
	err = bad.Validate()
	lines := strings.Split(err.Error(), "\n")
	want := []string{"unknown scheme", "must be tcp://host:port", "invalid port", "three slashes", "listed twice",
		EnvMaxMessageBytes, EnvTLSCertFile + " and " + EnvTLSKeyFile, EnvBackoffMin, EnvProfile, "no tls:// address"}
	for _, w := range want {
		if !contains(err, w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if len(lines) < len(want) {
		t.Errorf("want one line per problem (%d), got %d:\n%v", len(want), len(lines), err)
	}

	udp := testConfig(ProfileRFC, "udp://127.0.0.1:514")
	udp.MaxMessageBytes = 70000
	if err := udp.Validate(); !contains(err, "UDP payload limit") {
		t.Errorf("udp with 70000-byte messages: %v", err)
	}
	tlsRFC := testConfig(ProfileRFC, "tls://127.0.0.1:6514")
	tlsRFC.Framing = FramingOctetCounting
	if err := tlsRFC.Validate(); err != nil {
		t.Errorf("rfc + tls + octet-counting refused: %v", err)
	}
	// Default framing per scheme and profile.
	for _, tc := range []struct {
		p    Profile
		addr string
		want Framing
	}{{ProfileWazuh, "tcp://h:1", FramingLF}, {ProfileWazuh, "tls://h:1", FramingLF}, {ProfileRFC, "tcp://h:1", FramingLF}, {ProfileRFC, "tls://h:1", FramingOctetCounting}} {
		e, err := parseEndpoint(tc.addr, Config{Profile: tc.p})
		if err != nil || e.framing != tc.want {
			t.Errorf("%s %s: framing %q, %v; want %q", tc.p, tc.addr, e.framing, err, tc.want)
		}
	}
}

func TestWazuhQueueHeader(t *testing.T) {
	if got := string(wazuhQueueHeader("a:b|c")); got != "1:a|:b||c:" {
		t.Fatalf("got %q", got)
	}
}

// TestTCPLF sends RFC5424 lines with LF framing and parses them on the
// accepting side; Confirm waits for the acknowledgement.
func TestTCPLF(t *testing.T) {
	env := newEnv(t)
	srv := startServer(t, listenTCP(t), false)
	addr := "tcp://" + srv.ln.Addr().String()
	s := newSender(t, env, testConfig(ProfileWazuh, addr))

	big := `{"mimecast":{"logType":"receipt","x":"` + strings.Repeat("é", 30000) + `"}}`
	msgs := []string{
		rfcLine("host-1", "mimecast", "receipt", `[origin software="mimecast-forwarder" swVersion="1.0"]`, `{"mimecast":{"logType":"receipt","q":"a \"quoted\" \\ back ] bracket"}}`),
		rfcLine("host-1", "mimecast", "url-protect", "-", `{"mimecast":{"logType":"url protect","url":"https://例え.jp/"}}`),
		rfcLine("host-2", "mimecast", "receipt", "-", big),
	}
	ep := s.Epoch()
	total := 0
	for _, m := range msgs {
		if _, err := s.Send(t.Context(), []byte(m)); err != nil {
			t.Fatal(err)
		}
		total += len(m) + 1
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	got := srv.next(3)
	if got[0].host != "host-1" || got[0].app != "mimecast" || got[0].msgid != "receipt" ||
		got[0].sd["origin"]["swVersion"] != "1.0" || got[0].msg != `{"mimecast":{"logType":"receipt","q":"a \"quoted\" \\ back ] bracket"}}` {
		t.Errorf("message 1: %+v", got[0])
	}
	if got[1].msg != `{"mimecast":{"logType":"url protect","url":"https://例え.jp/"}}` || got[1].msgid != "url-protect" {
		t.Errorf("message 2: %+v", got[1])
	}
	if got[2].msg != big || got[2].host != "host-2" {
		t.Errorf("message 3: %d bytes, host %q", len(got[2].msg), got[2].host)
	}
	r := s.eps[0]
	if v := value(r.messages); v != 3 {
		t.Errorf("messages = %v", v)
	}
	if v := value(r.bytes); v != float64(total) {
		t.Errorf("bytes = %v, want %d", v, total)
	}
	if v := value(r.connected); v != 1 {
		t.Errorf("connected = %v", v)
	}
	if v := value(r.connects); v != 1 {
		t.Errorf("connects = %v", v)
	}
	if n := histCount(t, env.reg, "mimecast_forwarder_receiver_ack_wait_seconds", addr); n != 1 {
		t.Errorf("ack wait observations = %d, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v := value(r.connected); v != 0 {
		t.Errorf("connected after Close = %v", v)
	}
	if _, err := s.Send(t.Context(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

func TestTCPOctetCounting(t *testing.T) {
	env := newEnv(t)
	srv := startServer(t, listenTCP(t), true)
	c := testConfig(ProfileRFC, "tcp://"+srv.ln.Addr().String())
	c.Framing = FramingOctetCounting
	s := newSender(t, env, c)
	body := strings.Repeat("x\n", 50000) // LF is fine inside an octet-counted frame
	msgs := []string{rfcLine("h", "mimecast", "av", "-", "first"), rfcLine("h", "mimecast", "av", "-", body)}
	ep := s.Epoch()
	for _, m := range msgs {
		if _, err := s.Send(t.Context(), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	got := srv.next(2)
	if got[0].msg != "first" || got[1].msg != body {
		t.Errorf("got %q and %d bytes", got[0].msg, len(got[1].msg))
	}
	want := float64(len(msgs[0]) + len(" ") + len(fmt.Sprint(len(msgs[0]))) + len(msgs[1]) + 1 + len(fmt.Sprint(len(msgs[1]))))
	if v := value(s.eps[0].bytes); v != want {
		t.Errorf("bytes = %v, want %v", v, want)
	}
}

func TestUDP(t *testing.T) {
	env := newEnv(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := testConfig(ProfileRFC, "udp://"+pc.LocalAddr().String())
	c.MaxMessageBytes = UDPMaxMessageBytes
	s := newSender(t, env, c)
	msgs := []string{rfcLine("h", "mimecast", "spam", "-", "one"), rfcLine("h", "mimecast", "spam", "-", strings.Repeat("z", 60000))}
	for _, m := range msgs {
		if _, err := s.Send(t.Context(), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm(t.Context(), s.Epoch()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 70000)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, m := range msgs {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != m {
			t.Errorf("datagram %d: %d bytes, want %d (no framing)", i, n, len(m))
		}
	}
	if _, err := s.Send(t.Context(), make([]byte, UDPMaxMessageBytes+1)); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("oversize datagram: %v", err)
	}
}

func TestWazuhProfileRejects(t *testing.T) {
	env := newEnv(t)
	srv := startServer(t, listenTCP(t), false)
	s := newSender(t, env, testConfig(ProfileWazuh, "tcp://"+srv.ln.Addr().String()))
	for _, m := range []string{"a\nb", "a\rb", "a\x00b", strings.Repeat("x", WazuhMaxMessageBytes+1), ""} {
		if _, err := s.Send(t.Context(), []byte(m)); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%.10q: got %v", m, err)
		}
	}
	if v := value(s.eps[0].messages); v != 0 {
		t.Errorf("messages = %v", v)
	}
	if v := value(s.eps[0].connects); v != 0 {
		t.Errorf("connected for invalid messages only: %v", v)
	}
	// rfc profile with LF framing still refuses an LF inside the message.
	s2 := newSender(t, env, testConfig(ProfileRFC, "tcp://"+srv.ln.Addr().String()))
	if _, err := s2.Send(t.Context(), []byte("a\nb")); !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("rfc+lf with LF: %v", err)
	}
}

func TestTLS(t *testing.T) {
	p := newPKI(t, "good")
	for _, mutual := range []bool{false, true} {
		t.Run(fmt.Sprintf("mutual=%v", mutual), func(t *testing.T) {
			env := newEnv(t)
			sc := &tls.Config{Certificates: []tls.Certificate{p.serverTLS}, MinVersion: tls.VersionTLS12}
			if mutual {
				sc.ClientAuth = tls.RequireAndVerifyClientCert
				sc.ClientCAs = p.caPool
			}
			ln := tls.NewListener(listenTCP(t), sc)
			srv := startServer(t, ln, true)
			c := testConfig(ProfileRFC, "tls://"+ln.Addr().String())
			c.TLSCAFile = p.caFile
			if mutual {
				c.TLSCertFile, c.TLSKeyFile = p.clientCert, p.clientKey
			}
			s := newSender(t, env, c)
			if err := s.Check(t.Context()); err != nil {
				t.Fatalf("Check: %v", err)
			}
			ep := s.Epoch()
			m := rfcLine("h", "mimecast", "journal", "-", `{"mimecast":{"logType":"journal"}}`)
			if _, err := s.Send(t.Context(), []byte(m)); err != nil {
				t.Fatal(err)
			}
			if err := s.Confirm(t.Context(), ep); err != nil {
				t.Fatal(err)
			}
			if got := srv.next(1); got[0].msg != `{"mimecast":{"logType":"journal"}}` {
				t.Errorf("got %+v", got[0])
			}
		})
	}
	// A certificate that does not verify is a configuration error: the
	// daemon's Sender keeps retrying and reports it (ConfigError, the
	// receiver_config_error gauge, cleared by the next good handshake);
	// with StopOnConfigError (--once) Send gives up with a permanent error.
	other := newPKI(t, "other")
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		reason string
	}{
		{"wrong CA", func(c *Config) { c.TLSCAFile = p.caFile }, "certificate signed by unknown authority"},
		{"wrong server name", func(c *Config) { c.TLSCAFile, c.TLSServerName = p.caFile, "wrong.test" }, "not wrong.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			var good atomic.Bool // the receiver has a certificate of our CA
			ln := tls.NewListener(listenTCP(t), &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				if good.Load() {
					return &p.serverTLS, nil
				}
				return &other.serverTLS, nil
			}})
			if tc.name == "wrong server name" {
				good.Store(true) // a good certificate, for another name
			}
			srv := startServer(t, ln, true)
			addr := "tls://" + ln.Addr().String()
			c := testConfig(ProfileRFC, addr)
			tc.mod(&c)
			s := newSender(t, env, c)
			if err := s.Check(t.Context()); !contains(err, tc.reason) || !contains(err, addr) || !errors.Is(err, ErrConfig) {
				t.Fatalf("Check: %v", err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			if _, err := s.Send(ctx, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Send: %v", err)
			}
			if v := value(s.eps[0].connErrors); v < 1 {
				t.Errorf("connection errors = %v", v)
			}
			if err := s.ConfigError(); !errors.Is(err, ErrConfig) || !contains(err, tc.reason) || !contains(err, addr) {
				t.Errorf("ConfigError = %v", err)
			}
			if v := value(s.eps[0].configError); v != 1 {
				t.Errorf("receiver_config_error = %v, want 1", v)
			}

			once := c
			once.StopOnConfigError = true
			s1 := newSender(t, newEnv(t), once)
			_, err := s1.Send(t.Context(), []byte("x"))
			if !errors.Is(err, ErrConfig) || !source.IsPermanent(err) || !contains(err, tc.reason) {
				t.Fatalf("Send with StopOnConfigError = %v, want a permanent ErrConfig", err)
			}

			if tc.name == "wrong CA" {
				// The receiver gets a certificate that verifies: the
				// daemon's Sender, retrying, recovers.
				good.Store(true)
				ep := s.Epoch()
				if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", "fixed"))); err != nil {
					t.Fatal(err)
				}
				if err := s.Confirm(t.Context(), ep); err != nil {
					t.Fatal(err)
				}
				if got := srv.next(1); got[0].msg != "fixed" {
					t.Errorf("got %+v", got[0])
				}
				if err := s.ConfigError(); err != nil {
					t.Errorf("ConfigError after a good handshake = %v", err)
				}
				if v := value(s.eps[0].configError); v != 0 {
					t.Errorf("receiver_config_error after a good handshake = %v, want 0", v)
				}
			}
		})
	}

	// The receiver refuses a missing client certificate. With TLS 1.2 the
	// refusal ends the handshake: a configuration error. With TLS 1.3 the
	// client's handshake completes before the server reads the (empty)
	// certificate, so the refusal arrives at some later point: what is
	// guaranteed is that nothing is delivered and that a later Send or
	// Confirm of the batch fails.
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(fmt.Sprintf("missing client cert/%s", tls.VersionName(version)), func(t *testing.T) {
			env := newEnv(t)
			ln := tls.NewListener(listenTCP(t), &tls.Config{Certificates: []tls.Certificate{p.serverTLS}, ClientAuth: tls.RequireAndVerifyClientCert,
				ClientCAs: p.caPool, MinVersion: version, MaxVersion: version})
			srv := startServer(t, ln, true)
			c := testConfig(ProfileRFC, "tls://"+ln.Addr().String())
			c.TLSCAFile = p.caFile
			c.AckTimeout = 500 * time.Millisecond
			c.StopOnConfigError = true
			s := newSender(t, env, c)
			err := refusedBatch(t, s, []byte(rfcLine("h", "a", "m", "-", "x")))
			if version == tls.VersionTLS12 {
				if !errors.Is(err, ErrConfig) || !contains(err, "remote error: tls: ") {
					t.Errorf("TLS 1.2: %v, want ErrConfig (the receiver's alert)", err)
				}
			} else if !errors.Is(err, ErrConnectionLost) && !errors.Is(err, ErrConfig) {
				t.Errorf("TLS 1.3: %v, want ErrConnectionLost (or ErrConfig)", err)
			}
			select {
			case m := <-srv.msgs:
				t.Fatalf("server accepted %+v", m)
			default:
			}
		})
	}
}

// refusedBatch sends msg as one batch to a receiver that refuses the
// sender, again and again like the pipeline (the batch keeps the epoch of
// its first attempt), until a Send or Confirm fails; it returns that error.
// Only the test's deadline bounds it: when the refusal arrives is up to
// the receiver.
func refusedBatch(t *testing.T, s *Sender, msg []byte) error {
	t.Helper()
	// Not a timing assertion: a bound so that a regression fails instead
	// of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ep := s.Epoch()
	for attempt := 1; ; attempt++ {
		if _, err := s.Send(ctx, msg); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("Send still blocked after %d batches: %v", attempt, err)
			}
			t.Logf("refused at Send of attempt %d", attempt)
			return err
		}
		if err := s.Confirm(ctx, ep); err != nil {
			t.Logf("refused at Confirm of attempt %d", attempt)
			return err
		}
		if ctx.Err() != nil {
			t.Fatalf("%d batches confirmed by a receiver that refuses the sender", attempt)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReconnectAndReplay: the receiver closes the connection after a
// confirmed batch; the next Send notices, reconnects, replays the window and
// sends; Confirm with the old epoch reports the loss.
func TestReconnectAndReplay(t *testing.T) {
	env := newEnv(t)
	srv := startServer(t, listenTCP(t), false)
	addr := "tcp://" + srv.ln.Addr().String()
	s := newSender(t, env, testConfig(ProfileWazuh, addr))
	ep := s.Epoch()
	for i := range 3 {
		if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", fmt.Sprint("before-", i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	srv.next(3)
	first := <-srv.conns
	first.Close()
	time.Sleep(50 * time.Millisecond) // let the FIN arrive
	if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", "after"))); err != nil {
		t.Fatalf("Send after the receiver closed: %v", err)
	}
	if s.Epoch() == ep {
		t.Fatal("epoch unchanged after the connection was replaced")
	}
	if err := s.Confirm(t.Context(), ep); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Confirm(old epoch) = %v", err)
	}
	if err := s.Confirm(t.Context(), s.Epoch()); err != nil {
		t.Fatal(err)
	}
	got := srv.next(4)
	for i, want := range []string{"before-0", "before-1", "before-2", "after"} {
		if got[i].msg != want {
			t.Errorf("message %d after reconnect = %q, want %q", i, got[i].msg, want)
		}
	}
	r := s.eps[0]
	for _, c := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{{"connects", r.connects, 2}, {"reconnects", r.reconnects, 1}, {"replayed", r.rep, 3}, {"messages", r.messages, 7}, {"connected", r.connected, 1}} {
		if v := value(c.c); v != c.want {
			t.Errorf("%s = %v, want %v", c.name, v, c.want)
		}
	}
}

// TestWriteErrorAfterReset: the receiver resets the connection while the
// sender writes; Send returns ErrConnectionLost and the next Send reconnects.
func TestWriteErrorAfterReset(t *testing.T) {
	env := newEnv(t)
	srv := startServer(t, listenTCP(t), false)
	addr := "tcp://" + srv.ln.Addr().String()
	c := testConfig(ProfileRFC, addr)
	c.ReplayWindow = 0
	s := newSender(t, env, c)
	ep := s.Epoch()
	if _, err := s.Send(t.Context(), []byte("<14>1 - h a - m - first")); err != nil {
		t.Fatal(err)
	}
	conn := <-srv.conns
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close() // RST
	big := []byte("<14>1 - h a - m - " + strings.Repeat("y", 60000))
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = s.Send(t.Context(), big)
	}
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Send into a reset connection: %v", err)
	}
	if v := value(s.eps[0].writeErrors); v != 1 {
		t.Errorf("write errors = %v", v)
	}
	if v := value(s.eps[0].connected); v != 0 {
		t.Errorf("connected = %v", v)
	}
	if err := s.Confirm(t.Context(), ep); !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Confirm = %v", err)
	}
	ep = s.Epoch()
	if _, err := s.Send(t.Context(), []byte("<14>1 - h a - m - again")); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	for {
		m := srv.next(1)[0]
		if m.msg == "again" {
			break
		}
	}
	if v := value(s.eps[0].reconnects); v != 1 {
		t.Errorf("reconnects = %v", v)
	}
	if v := value(s.eps[0].rep); v != 0 {
		t.Errorf("replayed with the window disabled = %v", v)
	}
}

// TestFailoverAndFailback: the first address refuses, the second takes the
// messages; once the first listens again the sender returns to it.
func TestFailoverAndFailback(t *testing.T) {
	env := newEnv(t)
	first := freePort(t)
	srv2 := startServer(t, listenTCP(t), false)
	c := testConfig(ProfileWazuh, "tcp://"+first, "tcp://"+srv2.ln.Addr().String())
	c.FailbackAfter = 200 * time.Millisecond
	s := newSender(t, env, c)
	ep := s.Epoch()
	if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", "to-second"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	if got := srv2.next(1); got[0].msg != "to-second" {
		t.Fatalf("got %+v", got)
	}
	if v := value(s.eps[0].connErrors); v < 1 {
		t.Errorf("first address connection errors = %v", v)
	}
	if v := value(s.eps[1].connects); v != 1 {
		t.Errorf("second address connects = %v", v)
	}
	ln, err := net.Listen("tcp", first)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", first, err)
	}
	srv1 := startServer(t, ln, false)
	time.Sleep(250 * time.Millisecond)
	if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", "to-first"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatalf("graceful failback changed the epoch: %v", err)
	}
	if got := srv1.next(1); got[0].msg != "to-first" {
		t.Fatalf("got %+v", got)
	}
	if value(s.eps[0].connected) != 1 || value(s.eps[1].connected) != 0 {
		t.Errorf("connected gauges: first %v second %v", value(s.eps[0].connected), value(s.eps[1].connected))
	}
}

// TestBackpressure: Send blocks while nothing listens, returns the context's
// error when cancelled, and goes through once a receiver appears.
func TestBackpressure(t *testing.T) {
	env := newEnv(t)
	addr := freePort(t)
	s := newSender(t, env, testConfig(ProfileWazuh, "tcp://"+addr))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, []byte("<14>1 - h a - m - x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("Send returned after %v, before the context ended", d)
	}
	if v := value(s.eps[0].connErrors); v < 2 {
		t.Errorf("connection errors = %v, want several attempts", v)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Send(t.Context(), []byte("<14>1 - h a - m - x")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Send returned %v with no receiver", err)
	case <-time.After(200 * time.Millisecond):
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		<-done
		t.Skipf("port taken meanwhile: %v", err)
	}
	srv := startServer(t, ln, false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send still blocked after the receiver appeared")
	}
	s.Confirm(t.Context(), s.Epoch())
	if got := srv.next(1); got[0].msg != "x" {
		t.Errorf("got %+v", got)
	}
}

// TestAckTimeout: a receiver that does not read leaves bytes unacknowledged;
// Confirm times out, then succeeds once the receiver reads.
func TestAckTimeout(t *testing.T) {
	env := newEnv(t)
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := "tcp://" + ln.Addr().String()
	c := testConfig(ProfileWazuh, addr)
	c.AckTimeout = 200 * time.Millisecond
	s := newSender(t, env, c)
	ep := s.Epoch()
	msg := []byte(rfcLine("h", "a", "m", "-", strings.Repeat("w", 1000)))
	for range 300 {
		if _, err := s.Send(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := s.Confirm(t.Context(), ep); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("Confirm with a stalled receiver = %v", err)
	}
	read := make(chan int64, 1)
	go func() { n, _ := io.CopyN(io.Discard, conn, int64(300*(len(msg)+1))); read <- n }()
	c2 := 0
	for {
		err := s.Confirm(t.Context(), ep)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrAckTimeout) || c2 > 50 {
			t.Fatalf("Confirm = %v", err)
		}
		c2++
	}
	if n := <-read; n != int64(300*(len(msg)+1)) {
		t.Errorf("read %d bytes", n)
	}
	if n := histCount(t, env.reg, "mimecast_forwarder_receiver_ack_wait_seconds", addr); n < 2 {
		t.Errorf("ack wait observations = %d", n)
	}
}

// TestWazuhQueue sends datagrams to a unixgram socket like analysisd's.
func TestWazuhQueue(t *testing.T) {
	env := newEnv(t)
	path := filepath.Join(t.TempDir(), "queue")
	listen := func() *net.UnixConn {
		pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		return pc
	}
	pc := listen()
	c := testConfig(ProfileWazuh, "wazuh-queue://"+path)
	c.WazuhLocation = "mimecast:fw|1"
	s := newSender(t, env, c)
	msg := rfcLine("h", "mimecast", "receipt", "-", `{"mimecast":{"a":"b:c"}}`)
	if _, err := s.Send(t.Context(), []byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 70000)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := pc.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1:mimecast|:fw||1:" + msg; string(buf[:n]) != want {
		t.Errorf("datagram %q, want %q", buf[:n], want)
	}
	// analysisd restarts: the socket is replaced.
	pc.Close()
	os.Remove(path)
	ep := s.Epoch()
	_, err = s.Send(t.Context(), []byte(msg))
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Send to a removed socket = %v", err)
	}
	if err := s.Confirm(t.Context(), ep); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Confirm = %v", err)
	}
	pc = listen()
	defer pc.Close()
	if _, err := s.Send(t.Context(), []byte(msg)); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := map[string]int{}
	for {
		n, err := pc.Read(buf)
		if err != nil {
			break
		}
		got[string(buf[:n])]++
		pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	}
	// The replay window re-sends the first message, then the new one.
	if got["1:mimecast|:fw||1:"+msg] != 2 {
		t.Errorf("after restart got %v", got)
	}
	if v := value(s.eps[0].reconnects); v != 1 {
		t.Errorf("reconnects = %v", v)
	}
}

// TestReplayAfterIdleLoss: the receiver reads a confirmed batch into its
// buffer and goes away without processing it while the sender is idle; the
// next Send comes long after the replay window, notices the loss and must
// still replay the messages of the window before the last one sent (the
// loss cannot have happened before that message), not of the window before
// now.
func TestReplayAfterIdleLoss(t *testing.T) {
	env := newEnv(t)
	ln := listenTCP(t)
	defer ln.Close()
	c := testConfig(ProfileWazuh, "tcp://"+ln.Addr().String())
	c.ReplayWindow = 200 * time.Millisecond
	s := newSender(t, env, c)
	ep := s.Epoch()
	before := sendReadAndDrop(t, s, ln, "before", 3)
	time.Sleep(3 * c.ReplayWindow) // idle well beyond the window
	after := rfcLine("h", "a", "m", "-", "after")
	if _, err := s.Send(t.Context(), []byte(after)); err != nil {
		t.Fatalf("Send after the receiver went away: %v", err)
	}
	if s.Epoch() == ep {
		t.Fatal("epoch unchanged after the connection was replaced")
	}
	if err := s.Confirm(t.Context(), s.Epoch()); err != nil {
		t.Fatal(err)
	}
	expectOnNewConnection(t, ln, append(before, after))
	if v := value(s.eps[0].rep); v != 3 {
		t.Errorf("replayed = %v, want 3", v)
	}
}

// TestNoReplayAfterIdleCheck: a connection seen alive one window after the
// last message has processed it; when the receiver closes it later,
// nothing is replayed (no duplicates), and the idle check notices the loss
// without a Send.
func TestNoReplayAfterIdleCheck(t *testing.T) {
	env := newEnv(t)
	ln := listenTCP(t)
	defer ln.Close()
	c := testConfig(ProfileWazuh, "tcp://"+ln.Addr().String())
	c.ReplayWindow = 50 * time.Millisecond
	s := newSender(t, env, c)
	ep := s.Epoch()
	for i := range 3 {
		if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", fmt.Sprint("before-", i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	first, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(first)
	for range 3 {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * c.ReplayWindow)
	s.check() // seen alive a window after the last message (the timer may have done it too)
	if s.Epoch() != ep {
		t.Fatal("the idle check dropped a live connection")
	}
	first.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Epoch() == ep { // the FIN arrives; the check notices it without a Send
		if time.Now().After(deadline) {
			t.Fatal("the idle check did not notice the closed connection")
		}
		time.Sleep(5 * time.Millisecond)
		s.check()
	}
	after := rfcLine("h", "a", "m", "-", "after")
	if _, err := s.Send(t.Context(), []byte(after)); err != nil {
		t.Fatalf("Send after the receiver went away: %v", err)
	}
	if err := s.Confirm(t.Context(), s.Epoch()); err != nil {
		t.Fatal(err)
	}
	second, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(second).ReadString('\n'); err != nil || line != after+"\n" {
		t.Fatalf("first message on the new connection = %q, %v; want %q", line, err, after)
	}
	if v := value(s.eps[0].rep); v != 0 {
		t.Errorf("replayed = %v, want 0", v)
	}
	if v := value(s.eps[0].reconnects); v != 1 {
		t.Errorf("reconnects = %v, want 1", v)
	}
}

// TestDrainReplaysAfterLastBatch: at the end of a run the receiver reads
// the last confirmed batch and dies before processing it. Drain notices,
// reconnects and sends the batch again, so an exiting --once run loses
// nothing; with a receiver that stays up, Drain sends nothing.
func TestDrainReplaysAfterLastBatch(t *testing.T) {
	env := newEnv(t)
	ln := listenTCP(t)
	defer ln.Close()
	c := testConfig(ProfileWazuh, "tcp://"+ln.Addr().String())
	c.ReplayWindow = 200 * time.Millisecond
	s := newSender(t, env, c)
	last := sendReadAndDrop(t, s, ln, "last", 3)
	if err := s.Drain(t.Context()); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	second := expectOnNewConnection(t, ln, last)
	if v := value(s.eps[0].rep); v != 3 {
		t.Errorf("replayed = %v, want 3", v)
	}

	// The receiver stays up: Drain waits one window and sends nothing.
	ep := s.Epoch()
	if _, err := s.Send(t.Context(), []byte(rfcLine("h", "a", "m", "-", "final"))); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	if err := s.Drain(t.Context()); err != nil {
		t.Fatalf("Drain with the receiver up: %v", err)
	}
	if v := value(s.eps[0].rep); v != 3 {
		t.Errorf("replayed after a quiet Drain = %v, want still 3", v)
	}
	second.Close()
}

// sendReadAndDrop sends n confirmed messages named prefix-i, then lets the
// receiver read them and close the connection without processing them (a
// receiver killed with data unread). It returns the messages.
func sendReadAndDrop(t *testing.T, s *Sender, ln net.Listener, prefix string, n int) []string {
	t.Helper()
	var sent []string
	ep := s.Epoch()
	for i := range n {
		line := rfcLine("h", "a", "m", "-", fmt.Sprint(prefix, "-", i))
		sent = append(sent, line)
		if _, err := s.Send(t.Context(), []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Confirm(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for range n { // read ahead, never processed
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	return sent
}

// expectOnNewConnection accepts the sender's next connection and checks
// that its first lines are want, in order. It returns the connection.
func expectOnNewConnection(t *testing.T, ln net.Listener, want []string) net.Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i, w := range want {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("message %d on the new connection: %v", i, err)
		}
		if line != w+"\n" {
			t.Fatalf("message %d on the new connection = %q, want %q", i, line, w)
		}
	}
	return c
}
