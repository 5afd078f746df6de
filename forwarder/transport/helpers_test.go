package transport

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// testEnv holds a registry and metrics for one test.
type testEnv struct {
	reg *prometheus.Registry
	m   *metrics.Metrics
	log *slog.Logger
}

func newEnv(t testing.TB) *testEnv {
	reg := prometheus.NewRegistry()
	return &testEnv{reg: reg, m: metrics.New(reg, "test", "test"), log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))}
}

// testConfig returns a config with short timeouts for loopback tests.
func testConfig(profile Profile, addrs ...string) Config {
	c := DefaultConfig()
	c.Profile = profile
	if profile == ProfileRFC {
		c.MaxMessageBytes = 1 << 20
	}
	c.Addresses = addrs
	c.DialTimeout = 2 * time.Second
	c.WriteTimeout = 5 * time.Second
	c.AckTimeout = 5 * time.Second
	c.BackoffMin = 10 * time.Millisecond
	c.BackoffMax = 100 * time.Millisecond
	return c
}

func newSender(t testing.TB, env *testEnv, c Config) *Sender {
	t.Helper()
	s, err := New(c, env.m, env.log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// value returns the value of one counter or gauge series.
func value(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// histCount returns the sample count of a histogram series.
func histCount(t testing.TB, reg *prometheus.Registry, name, receiver string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "receiver" && lp.GetValue() == receiver {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// rfcLine builds an RFC5424 line as the formatter emits it.
func rfcLine(host, app, msgid, sd, msg string) string {
	return fmt.Sprintf("<134>1 2026-11-28T16:10:00.123Z %s %s - %s %s %s", host, app, msgid, sd, msg)
}

// received is one message parsed on the receiving side.
type received struct {
	host, app, msgid, msg string
	sd                    map[string]map[string]string
}

// syslogServer accepts stream connections and parses them.
type syslogServer struct {
	t     testing.TB
	ln    net.Listener
	octet bool
	msgs  chan received
	errs  chan error
	conns chan net.Conn
	wg    sync.WaitGroup
}

func startServer(t testing.TB, ln net.Listener, octet bool) *syslogServer {
	s := &syslogServer{t: t, ln: ln, octet: octet, msgs: make(chan received, 100000), errs: make(chan error, 100), conns: make(chan net.Conn, 100)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.parse(c)
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *syslogServer) parse(c net.Conn) {
	listener := func(r *syslog.Result) {
		if r.Error != nil {
			if strings.Contains(r.Error.Error(), "found EOF, expecting a MSGLEN") {
				return // the octet-counting parser's report of a clean end of stream
			}
			s.errs <- r.Error
			return
		}
		m := r.Message.(*rfc5424.SyslogMessage)
		rc := received{}
		if m.Hostname != nil {
			rc.host = *m.Hostname
		}
		if m.Appname != nil {
			rc.app = *m.Appname
		}
		if m.MsgID != nil {
			rc.msgid = *m.MsgID
		}
		if m.Message != nil {
			rc.msg = *m.Message
		}
		if m.StructuredData != nil {
			rc.sd = *m.StructuredData
		}
		s.msgs <- rc
	}
	if s.octet {
		octetcounting.NewParser(syslog.WithListener(listener), syslog.WithMaxMessageLength(2<<20)).Parse(c)
	} else {
		// LF framing, parsed line by line: go-syslog's nontransparent parser
		// needs github.com/leodido/ragel-machinery, which is not in go.mod.
		parseLF(c, listener)
	}
	c.Close()
}

// parseLF splits r on LF and parses every line as RFC5424.
func parseLF(r io.Reader, listener func(*syslog.Result)) {
	p := rfc5424.NewParser()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				listener(&syslog.Result{Error: fmt.Errorf("unterminated line of %d bytes at close", len(line))})
				return
			}
			m, perr := p.Parse(line[:len(line)-1])
			listener(&syslog.Result{Message: m, Error: perr})
		}
		if err != nil {
			return
		}
	}
}

func (s *syslogServer) stop() {
	s.ln.Close()
	for {
		select {
		case c := <-s.conns:
			c.Close()
			continue
		default:
		}
		break
	}
	s.wg.Wait()
}

// next waits for n messages.
func (s *syslogServer) next(n int) []received {
	s.t.Helper()
	var out []received
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-s.msgs:
			out = append(out, m)
		case err := <-s.errs:
			s.t.Fatalf("receiver parse error: %v", err)
		case <-timeout:
			s.t.Fatalf("got %d of %d messages", len(out), n)
		}
	}
	return out
}

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// freePort returns a loopback port nothing listens on (connections are refused).
func freePort(t testing.TB) string {
	ln := listenTCP(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// pki is a test CA with server and client certificates written as PEM files.
type pki struct {
	dir                           string
	caFile, serverCert, serverKey string
	clientCert, clientKey         string
	serverTLS                     tls.Certificate
	caPool                        *x509.CertPool
}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(caCert)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	issue := func(cn string, serial int64, usage x509.ExtKeyUsage, file string) (string, string, tls.Certificate) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost", cn}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		cf := writePEM(t, dir, file+"-cert.pem", "CERTIFICATE", der)
		kf := writePEM(t, dir, file+"-key.pem", "PRIVATE KEY", kder)
		pair, err := tls.LoadX509KeyPair(cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		return cf, kf, pair
	}
	p.serverCert, p.serverKey, p.serverTLS = issue("syslog.test", 2, x509.ExtKeyUsageServerAuth, "server")
	p.clientCert, p.clientKey, _ = issue("forwarder.test", 3, x509.ExtKeyUsageClientAuth, "client")
	return p
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// discard reads and drops everything from each accepted connection.
func discardServer(t testing.TB) net.Listener {
	ln := listenTCP(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln
}

func contains(err error, sub string) bool { return err != nil && strings.Contains(err.Error(), sub) }
