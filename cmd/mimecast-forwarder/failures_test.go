package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns it
// with the path of its PEM file.
func selfSigned(t *testing.T, cn string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), cn+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, file
}

// tlsReceiverWithUntrustedCert serves TLS on loopback with a certificate
// that the returned CA file does not sign.
func tlsReceiverWithUntrustedCert(t *testing.T) (addr, caFile string) {
	t.Helper()
	cert, _ := selfSigned(t, "receiver")
	_, caFile = selfSigned(t, "some-other-ca")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				_ = c.Close()
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "tls://" + ln.Addr().String(), caFile
}

// TestTLSCertificateNotVerified: a receiver whose certificate does not
// verify is a configuration error. run --once exits 1 with it (instead of
// retrying forever); the daemon keeps retrying with /readyz 503 naming it
// and receiver_config_error 1.
func TestTLSCertificateNotVerified(t *testing.T) {
	sim := newSim(t, simulator.Options{Types: []string{"receipt", "process"}})
	addr, caFile := tlsReceiverWithUntrustedCert(t)
	vars := with(v2Vars(t, sim, addr), "SYSLOG_TLS_CA_FILE", caFile)

	t.Run("once", func(t *testing.T) {
		start := time.Now()
		// The context only bounds a regression: cancelled, run would exit 0.
		r := runCmd(t, testCtx(t, 60*time.Second), vars, nil, "run", "--once")
		t.Logf("run --once exited %d after %s", r.code, time.Since(start).Round(time.Millisecond))
		if r.code != 1 || !strings.Contains(r.stderr, "syslog receiver configuration error") ||
			!strings.Contains(r.stderr, "certificate signed by unknown authority") || !strings.Contains(r.stderr, addr) {
			t.Errorf("exit %d, want 1 with the certificate error of %s:\n%s", r.code, addr, r.stderr)
		}
		if strings.Contains(r.stderr, "stopped on signal") {
			t.Errorf("run --once only ended with its context:\n%s", r.stderr)
		}
	})

	t.Run("daemon", func(t *testing.T) {
		metricsAddr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan result, 1)
		go func() { done <- runCmd(t, ctx, with(vars, "METRICS_ADDRESS", metricsAddr), nil, "run") }()
		var body string
		eventually(t, "/readyz to report the certificate error", 20*time.Second, func() bool {
			code, b := get(t, "http://"+metricsAddr+"/readyz")
			body = b
			return code == http.StatusServiceUnavailable && strings.Contains(b, "certificate signed by unknown authority")
		})
		if !strings.Contains(body, "syslog receiver "+addr) {
			t.Errorf("/readyz does not name the receiver: %q", body)
		}
		want := fmt.Sprintf("mimecast_forwarder_receiver_config_error{receiver=%q} 1", addr)
		if _, m := get(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(m, want) {
			t.Errorf("/metrics has no %s", want)
		}
		select {
		case r := <-done:
			t.Fatalf("the daemon stopped on a certificate error (exit %d); it must keep retrying:\n%s", r.code, r.stderr)
		default:
		}
		cancel()
		if r := <-done; r.code != 0 {
			t.Errorf("daemon after cancel: exit %d\n%s", r.code, r.stderr)
		}
	})
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// get returns the status and body of url (0 when it cannot connect).
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// writeCursor stores cursor (raw JSON) as stream's cursor file in dir, the
// way the checkpoint store writes it, and returns the file.
func writeCursor(t *testing.T, dir, stream, cursor string) string {
	t.Helper()
	file := filepath.Join(dir, stream+".cursor.json")
	doc := `{"version":1,"stream":"` + stream + `","cursor":` + cursor + `,"updated":"2026-11-28T16:10:00Z"}` + "\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestUnusableCursor: a cursor file that is valid JSON but holds a cursor
// its source refuses is a corrupt cursor: check FAILs naming the file; the
// daemon stops that stream (the others run) with /readyz 503.
func TestUnusableCursor(t *testing.T) {
	sim := newSim(t, simulator.Options{})
	rcv := newReceiver(t)
	ctx := testCtx(t, 60*time.Second)
	for _, tc := range []struct {
		name, stream, cursor, problem string
		vars                          map[string]string
	}{
		{"v2 day", "receipt", `{"v":1,"day":"yesterday"}`, "day is not a date YYYY-MM-DD", v2Vars(t, sim, rcv.addr())},
		{"v1 token", "siem-v1", `{"v":1,"token":"a\nb"}`, "control character", v1Vars(t, sim, rcv.addr())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeCursor(t, tc.vars["STATE_DIR"], tc.stream, tc.cursor)
			r := runCmd(t, ctx, tc.vars, nil, "check")
			want := "FAIL checkpoint: cursor file is corrupt: " + file + ": "
			if r.code != 1 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, tc.problem) {
				t.Errorf("check: exit %d, want 1 and a line starting %q naming %q:\n%s", r.code, want, tc.problem, r.stdout)
			}
		})
	}

	// The daemon: the receipt stream stops, /readyz turns 503, the other
	// streams deliver.
	vars := v2Vars(t, sim, rcv.addr())
	file := writeCursor(t, vars["STATE_DIR"], "receipt", `{"v":1,"day":"yesterday"}`)
	metricsAddr := freeAddr(t)
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- runCmd(t, dctx, with(vars, "METRICS_ADDRESS", metricsAddr), nil, "run") }()
	eventually(t, "/readyz to report the stopped stream", 20*time.Second, func() bool {
		code, b := get(t, "http://"+metricsAddr+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(b, "stream receipt stopped") && strings.Contains(b, file)
	})
	eventually(t, "the other streams to catch up", 20*time.Second, func() bool {
		_, m := get(t, "http://"+metricsAddr+"/metrics")
		for _, typ := range simulator.AllTypes() {
			stream := strings.ReplaceAll(typ, " ", "-")
			if stream == "receipt" {
				continue
			}
			if !strings.Contains(m, `mimecast_forwarder_caught_up_timestamp_seconds{stream="`+stream+`"} 1`) {
				return false // unset is 0; a time in 2001-2033 starts with 1
			}
		}
		return true
	})
	cancel()
	r := <-done
	if r.code != 1 || !strings.Contains(r.stderr, "cursor file is corrupt: "+file) {
		t.Errorf("daemon: exit %d, want 1 naming %s:\n%s", r.code, file, r.stderr)
	}
	rcv.drain(t)
	got := rcv.snapshot()
	receipt := 0
	for k := range got {
		if strings.HasPrefix(k, "receipt ") {
			receipt++
		}
	}
	if receipt != 0 || len(got) == 0 {
		t.Errorf("received %d receipt and %d messages in all, want none of the stopped stream and those of the others", receipt, len(got))
	}
}

// stalledReceiver accepts TCP connections and never reads them until
// drain is called.
type stalledReceiver struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newStalledReceiver(t *testing.T) *stalledReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &stalledReceiver{ln: ln}
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		r.wg.Wait()
		for _, c := range r.conns {
			c.Close()
		}
	})
	return r
}

func (r *stalledReceiver) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// drain reads every connection to its end (the sender has exited) and
// returns the "MSGID MSG" of each complete line: what the receiver would
// have processed had it read. A line cut by the abandoned write is not
// counted.
func (r *stalledReceiver) drain(t *testing.T) map[string]int {
	t.Helper()
	got := map[string]int{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		data, err := io.ReadAll(c)
		if err != nil && !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("reading a stalled connection: %v", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			m, err := parseLine(sc.Text())
			if err != nil {
				continue // the cut line
			}
			got[*m.MsgID+" "+*m.Message]++
		}
	}
	return got
}

// TestSIGTERMWithReceiverNotReading: a receiver that accepts but never
// reads holds a write of the built daemon; SIGTERM abandons it: the daemon
// exits 0 at once, and no cursor is committed past what was confirmed (a
// restart delivers every event the stalled receiver did not get whole).
func TestSIGTERMWithReceiverNotReading(t *testing.T) {
	// Batches of one file of 2,000 records (a few hundred KB, like real
	// Mimecast batch files): more than the socket buffers of both ends
	// hold, so that the daemon blocks in a write to the receiver.
	sim := newSim(t, simulator.Options{History: 30 * time.Minute, RecordsPerFile: 2000})
	stalled := newStalledReceiver(t)
	vars := with(v2Vars(t, sim, "tcp://"+stalled.ln.Addr().String()), "MIMECAST_PAGE_SIZE", "1")
	d := startDaemon(t, vars)
	eventually(t, "the daemon to connect", 20*time.Second, func() bool { return stalled.accepted() > 0 })
	// Wait until a write is blocked: the daemon logs nothing then, so
	// watch the receiver's kernel buffer stop growing.
	var last, same int
	eventually(t, "the receiver's buffers to fill", 60*time.Second, func() bool {
		n := queued(t, stalled)
		if n > 0 && n == last {
			same++
		} else {
			same = 0
		}
		last = n
		return same >= 50 // 0.5 s without progress
	})
	t.Logf("%d bytes wait unread in the receiver's socket", last)

	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	select {
	case exitErr = <-d.done:
	case <-time.After(8 * time.Second): // catches only the old 10 s hang
		t.Fatalf("still running 8 s after SIGTERM\n%s", d.stderr.String())
	}
	took := time.Since(start)
	t.Logf("exited %v after SIGTERM in %s", exitErr, took.Round(time.Millisecond))
	if exitErr != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", exitErr, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "stopped on signal; every committed cursor is on disk") {
		t.Errorf("no stop line in the log:\n%s", d.stderr.String())
	}
	first := stalled.drain(t)

	// Every event whose cursor was committed must have reached the stalled
	// receiver whole: a restart from the committed cursors, together with
	// what the stalled receiver got, must hold every event that a run from
	// no cursor at all delivers (rather than every published event: near
	// midnight --once stops before the new day's files).
	restart := func(stateDir string) map[string]int {
		rcv := newReceiver(t)
		r := runCmd(t, testCtx(t, 120*time.Second), with(vars, "SYSLOG_ADDRESS", rcv.addr(), "STATE_DIR", stateDir), nil, "run", "--once")
		if r.code != 0 {
			t.Fatalf("run --once: exit %d\n%s", r.code, r.stderr)
		}
		rcv.drain(t)
		return rcv.snapshot()
	}
	second := restart(vars["STATE_DIR"])
	reference := restart(t.TempDir())
	lost := 0
	for k := range reference {
		if first[k] == 0 && second[k] == 0 {
			if lost < 3 {
				t.Logf("lost: %.200s", k)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d events lost: a cursor was committed past what the receiver confirmed", lost, len(reference))
	}
	t.Logf("stalled receiver got %d whole lines, the restart %d, a run from scratch %d", sum(first), sum(second), sum(reference))
	if sum(second) >= sum(reference) {
		t.Log("no batch was committed before SIGTERM: the check above was trivial this time")
	}
}

// queued returns the bytes waiting unread in the receiver's sockets.
func queued(t *testing.T, r *stalledReceiver) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0
	for _, c := range r.conns {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var n int32
		var serr syscall.Errno
		if err := rc.Control(func(fd uintptr) {
			_, _, serr = syscall.Syscall(syscall.SYS_IOCTL, fd, siocinq, uintptr(unsafe.Pointer(&n)))
		}); err != nil {
			t.Fatal(err)
		}
		if serr != 0 {
			t.Fatal(serr)
		}
		total += int(n)
	}
	return total
}

// siocinq is SIOCINQ (= FIONREAD) on Linux: bytes in a socket's receive
// queue.
const siocinq = 0x541B
