// Package transport delivers already-formatted syslog messages to the
// configured receivers (Wazuh remoted, rsyslog, syslog-ng, or the local
// Wazuh analysisd queue socket).
//
// A Sender keeps one connection to the first reachable address. Send writes
// one message (framed for stream transports) and blocks while no receiver is
// reachable, redialling with capped exponential backoff: that is the
// pipeline's backpressure, there is no queue. Confirm makes a batch durable
// as far as the transport can tell: it flushes the buffer and, for TCP and
// TLS on Linux, waits until the peer's kernel has acknowledged every byte.
// The epoch (Epoch) changes whenever a connection is lost; Confirm with an
// older epoch returns ErrConnectionLost and the caller sends its batch again.
// A replay ring re-sends the last few seconds of messages after an
// unexpected disconnect, covering bytes the receiver's kernel acknowledged
// but the receiver process never read. A receiver still connected one
// window after a message went on the wire (the flush of the buffer that
// held it: the ring reads the clock once per flush, not per message) is
// assumed to have processed it; so that an idle
// connection is not left unobserved, the connection is checked one window
// after the last Confirm, and the replay covers the window before the last
// time the lost connection was seen alive (not before the moment the loss
// is noticed, which may be much later).
//
// The per-message path is kept short: one lock (a sync.Mutex when free),
// a copy into the buffer and the ring; the receiver's message and byte
// counters are added per flush (exact whenever Confirm returns).
//
// A TLS handshake that fails on verification (the receiver's certificate
// or host name) or on the receiver's certificate alert is a configuration
// error (ErrConfig): the Sender keeps retrying and reports it (ConfigError,
// receiver_config_error), or gives up when Config.StopOnConfigError is set.
// Every write to the socket ends when the caller's context does, so that a
// receiver that accepts but never reads cannot hold a shutdown; the
// connection is then dropped (it may carry half a message).
package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// Errors returned by the Sender.
var (
	// ErrConnectionLost means messages sent since the given epoch (or the
	// message just passed to Send) may not have reached the receiver: the
	// caller sends them again. The next Send reconnects.
	ErrConnectionLost = errors.New("syslog connection lost")
	// ErrAckTimeout means Confirm waited AckTimeout and the receiver had not
	// acknowledged every byte yet; the connection is kept. Calling Confirm
	// again continues the wait; sending the batch again is also safe.
	ErrAckTimeout = errors.New("syslog receiver did not acknowledge in time")
	// ErrInvalidMessage means Send refused the message (too large, or bytes
	// that would break the framing or the receiver); nothing was sent.
	ErrInvalidMessage = errors.New("invalid syslog message")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("syslog sender closed")
	// ErrConfig is wrapped by a connection failure that only a change of
	// configuration can fix: the receiver's certificate or host name did
	// not verify (SYSLOG_TLS_CA_FILE, SYSLOG_TLS_SERVER_NAME), or the
	// receiver refused the client certificate during the handshake. The
	// Sender keeps retrying unless Config.StopOnConfigError is set
	// (ConfigError and the receiver_config_error metric tell meanwhile).
	ErrConfig = errors.New("syslog receiver configuration error")

	errNoPeerState = errors.New("kernel TCP state not available")
)

// bufferSize is the write buffer of stream connections.
const bufferSize = 64 << 10

// Sender writes messages to the first reachable receiver. Its methods are
// safe for concurrent use.
type Sender struct {
	cfg  Config
	eps  []*receiver
	log  *slog.Logger
	lock *waitLock     // held for one message, a connect or a flush
	done chan struct{} // closed by Close
	once sync.Once

	epoch atomic.Uint64
	base  time.Time // the monotonic reference of conn.alive

	watchMu sync.Mutex
	watch   *time.Timer // checks the connection one replay window after the last Confirm

	// Guarded by lock.
	cur       *conn
	lost      bool      // a connection was lost unexpectedly and no new one carries the replay yet
	lostAlive time.Time // when the lost connection was last seen alive
	closed    bool
	replay    replayRing
	scratch   []byte
}

// receiver is one configured address with its metric series.
type receiver struct {
	endpoint
	idx         int
	tls         *tls.Config
	queueHeader []byte // "1:<escaped location>:" for wazuh-queue
	dial        net.Dialer

	// cfgErr is the configuration error (ErrConfig) of the last failed
	// handshake, nil once a handshake succeeds.
	cfgErr atomic.Pointer[error]

	connected, configError            prometheus.Gauge
	connects, reconnects, connErrors  prometheus.Counter
	writeErrors, messages, bytes, rep prometheus.Counter
	ackWait                           prometheus.Observer
}

// conn is one open connection.
type conn struct {
	r            *receiver
	nc           net.Conn        // what messages are written to (TLS, TCP, UDP or unixgram)
	raw          syscall.RawConn // the TCP socket, nil for datagram transports
	cw           *countingConn   // the TCP socket, nil for datagram transports
	w            *bufio.Writer   // nil for datagram transports
	nextFailback time.Time
	alive        atomic.Int64 // when the peer was last seen connected, as time.Since(Sender.base)

	// Messages and bytes written but not yet added to the receiver's
	// counters (guarded by the Sender's lock): counted per flush, not per
	// message (publish).
	msgs, bytes int64
}

// publish adds the messages and bytes written since the last call to the
// receiver's counters. It is called whenever a buffer goes to the socket
// (so Confirm leaves the counters exact) and before c is given up.
func (c *conn) publish() {
	if c.msgs > 0 {
		c.r.messages.Add(float64(c.msgs))
		c.r.bytes.Add(float64(c.bytes))
		c.msgs, c.bytes = 0, 0
	}
}

// countingConn counts the bytes written to the socket (TLS records included).
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// New validates c and returns a Sender. It does not connect: the first Send
// does. m must not be nil.
func New(c Config, m *metrics.Metrics, log *slog.Logger) (*Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid syslog transport configuration:\n%w", err)
	}
	if c.Profile == "" {
		c.Profile = ProfileWazuh
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultConfig().KeepAlive
	}
	s := &Sender{
		cfg:    c,
		log:    log,
		lock:   newWaitLock(),
		done:   make(chan struct{}),
		replay: replayRing{window: c.ReplayWindow, maxBytes: c.ReplayMaxBytes},
		base:   time.Now(),
	}
	s.epoch.Store(1)
	var baseTLS *tls.Config
	for i, a := range c.Addresses {
		ep, err := parseEndpoint(a, c)
		if err != nil {
			return nil, err
		}
		r := &receiver{endpoint: *ep, idx: i}
		if r.scheme == schemeWazuhQueue {
			r.queueHeader = wazuhQueueHeader(c.WazuhLocation)
		}
		r.dial = net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: c.KeepAlive, Interval: max(c.KeepAlive/3, time.Second), Count: 3,
		}}
		if r.scheme == schemeTLS {
			if baseTLS == nil {
				if baseTLS, err = loadTLS(c); err != nil {
					return nil, err
				}
				if c.TLSInsecureSkipVerify {
					log.Warn("TLS certificate verification of the syslog receiver is DISABLED (" + EnvTLSInsecureSkipVerify + "=true): anyone on the path can read and alter the forwarded logs")
				}
			}
			r.tls = baseTLS.Clone()
			if r.tls.ServerName == "" {
				host, _, _ := net.SplitHostPort(r.host)
				r.tls.ServerName = host
			}
		}
		l := r.label
		m.InitReceiver(l)
		r.connected = m.ReceiverConnected.WithLabelValues(l)
		r.configError = m.ReceiverConfigError.WithLabelValues(l)
		r.connects = m.ReceiverConnects.WithLabelValues(l)
		r.reconnects = m.ReceiverReconnects.WithLabelValues(l)
		r.connErrors = m.ReceiverConnectionErrors.WithLabelValues(l)
		r.writeErrors = m.ReceiverWriteErrors.WithLabelValues(l)
		r.messages = m.ReceiverMessages.WithLabelValues(l)
		r.bytes = m.ReceiverBytes.WithLabelValues(l)
		r.rep = m.ReceiverReplayed.WithLabelValues(l)
		r.ackWait = m.ReceiverAckWait.WithLabelValues(l)
		s.eps = append(s.eps, r)
	}
	return s, nil
}

func loadTLS(c Config) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.TLSServerName,
		InsecureSkipVerify: c.TLSInsecureSkipVerify, //nolint:gosec // explicit opt-in, warned about
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the CA file: %w", EnvTLSCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found in %s", EnvTLSCAFile, c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: loading the client certificate: %w", EnvTLSCertFile, EnvTLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Epoch returns the current connection epoch. It changes every time a
// connection is lost or replaced in a way that may have lost data. Read it
// before sending a batch and pass it to Confirm.
func (s *Sender) Epoch() uint64 { return s.epoch.Load() }

func (s *Sender) acquire(ctx context.Context) error {
	if ctx.Err() == nil && s.lock.tryLock() { // fast path: the lock is usually free
		return nil
	}
	if ctx.Err() != nil || !s.lock.lock(ctx.Done(), nil) {
		return fmt.Errorf("waiting for the syslog sender: %w", context.Cause(ctx))
	}
	return nil
}

func (s *Sender) release() { s.lock.unlock() }

// Send writes one message (without framing) and returns the epoch of the
// connection that took it. It blocks while no receiver is reachable and
// returns the context's error when ctx ends first. It returns
// ErrInvalidMessage (nothing sent) for a message the profile or transport
// forbids, and ErrConnectionLost when the write failed: the message and
// everything since the caller's epoch must be sent again; the next Send
// reconnects.
//
// A caller sending a batch keeps the epoch of its first message: if a later
// message returns another epoch, the connection was replaced in between and
// the earlier messages may be lost; otherwise Confirm(ctx, epoch) tells when
// the whole batch is safe.
func (s *Sender) Send(ctx context.Context, msg []byte) (uint64, error) {
	if err := s.checkMessage(msg); err != nil {
		return 0, err
	}
	if err := s.acquire(ctx); err != nil {
		return 0, err
	}
	defer s.release()
	if s.closed {
		return 0, ErrClosed
	}
	c, err := s.ready(ctx)
	if err != nil {
		return 0, err
	}
	if err := checkFor(c.r, msg, s.cfg.Profile == ProfileWazuh); err != nil {
		return 0, err
	}
	epoch := s.epoch.Load()
	wire, err := s.write(ctx, c, msg)
	if err != nil {
		return 0, s.writeFailed(ctx, c, "write", err)
	}
	if s.replay.enabled() {
		if c.w == nil { // a datagram: on the wire now
			s.replay.add(msg)
			s.replay.stamp(time.Now())
		} else {
			if wire { // what was buffered before msg is on the wire now
				s.replay.stamp(time.Now())
			}
			s.replay.add(msg)
		}
	}
	return epoch, nil
}

// checkMessage applies the profile's rules.
func (s *Sender) checkMessage(msg []byte) error {
	if len(msg) == 0 {
		return fmt.Errorf("%w: empty message", ErrInvalidMessage)
	}
	if len(msg) > s.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes exceed the maximum of %d (%s)", ErrInvalidMessage, len(msg), s.cfg.MaxMessageBytes, EnvMaxMessageBytes)
	}
	if s.cfg.Profile == ProfileWazuh {
		if i := indexLineBreakOrNUL(msg); i >= 0 {
			return fmt.Errorf("%w: byte %d is %q, which Wazuh would split on, keep or truncate at (profile wazuh)", ErrInvalidMessage, i, msg[i])
		}
	}
	return nil
}

// indexLineBreakOrNUL returns the index of the first LF, CR or NUL of msg,
// or -1: bytes.IndexAny(msg, "\n\r\x00"), but with three vectorised
// IndexByte scans instead of a byte loop.
func indexLineBreakOrNUL(msg []byte) int {
	first := -1
	for _, c := range [...]byte{'\n', '\r', 0} {
		hay := msg
		if first >= 0 {
			hay = msg[:first]
		}
		if i := bytes.IndexByte(hay, c); i >= 0 {
			first = i
		}
	}
	return first
}

// checkFor applies the transport's rules. noLF tells that msg is already
// known to hold no LF (checkMessage refuses it with the wazuh profile).
func checkFor(r *receiver, msg []byte, noLF bool) error {
	switch {
	case r.scheme == schemeUDP && len(msg) > UDPMaxMessageBytes:
		return fmt.Errorf("%w: %d bytes exceed the UDP limit of %d", ErrInvalidMessage, len(msg), UDPMaxMessageBytes)
	case r.scheme == schemeWazuhQueue && len(msg)+len(r.queueHeader) > WazuhQueueMaxDatagram:
		return fmt.Errorf("%w: a datagram of %d bytes exceeds the queue limit of %d", ErrInvalidMessage, len(msg)+len(r.queueHeader), WazuhQueueMaxDatagram)
	case r.framing == FramingLF && !noLF:
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			return fmt.Errorf("%w: byte %d is LF, which would split the message with LF framing", ErrInvalidMessage, i)
		}
	}
	return nil
}

// ready returns a usable connection: it checks that the peer of an idle
// stream connection is still there, returns to the preferred address when
// due, and connects (with backoff) when there is no connection.
func (s *Sender) ready(ctx context.Context) (*conn, error) {
	if c := s.cur; c != nil && c.w != nil && c.w.Buffered() == 0 {
		if err := s.probe(c); err != nil {
			s.drop(c, err)
		} else {
			s.sawAlive(c)
			if c.r.idx > 0 && s.cfg.FailbackAfter > 0 && time.Now().After(c.nextFailback) {
				s.failback(ctx, c)
			}
		}
	} else if c != nil && c.w == nil && c.r.idx > 0 && s.cfg.FailbackAfter > 0 && time.Now().After(c.nextFailback) {
		s.failback(ctx, c)
	}
	if s.cur != nil {
		return s.cur, nil
	}
	return s.connect(ctx)
}

// probe reports an error when the peer of a stream connection closed or
// reset it. Receivers never send data.
func (s *Sender) probe(c *conn) error {
	gone, err := peerGone(c.raw)
	if !errors.Is(err, errNoPeerState) {
		if gone {
			return err
		}
		return nil
	}
	// Portable fallback: a 1-byte read that times out at once.
	if err := c.nc.SetReadDeadline(time.Now()); err != nil {
		return err
	}
	var b [1]byte
	_, err = c.nc.Read(b[:])
	_ = c.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return errors.New("peer closed the connection")
	}
	return err
}

// connect dials the addresses in order until one works, pausing with capped
// exponential backoff and jitter between rounds. After an unexpected loss it
// sends the replay ring first.
func (s *Sender) connect(ctx context.Context) (*conn, error) {
	for attempt := 0; ; attempt++ {
		var errs []error
		configErr := false
		for _, r := range s.eps {
			c, err := s.dialReceiver(ctx, r)
			if err == nil {
				err = s.install(ctx, c)
				if err == nil {
					return c, nil
				}
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("connecting to the syslog receiver: %w", context.Cause(ctx))
			}
			select {
			case <-s.done:
				return nil, ErrClosed
			default:
			}
			r.connErrors.Inc()
			configErr = configErr || errors.Is(err, ErrConfig)
			errs = append(errs, fmt.Errorf("%s: %w", r.label, err))
		}
		if configErr && s.cfg.StopOnConfigError {
			// Retrying cannot fix a certificate: stop the stream.
			return nil, source.Permanent(fmt.Errorf("connecting to the syslog receiver: %w", errors.Join(errs...)))
		}
		d := backoff(s.cfg.BackoffMin, s.cfg.BackoffMax, attempt)
		s.log.Warn("no syslog receiver reachable, retrying", "retry_in", d, "attempt", attempt+1, "error", errors.Join(errs...).Error())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("connecting to the syslog receiver: %w", context.Cause(ctx))
		case <-s.done:
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
	}
}

// backoff returns the pause before round attempt+1: min·2^attempt capped at
// max, drawn uniformly from its upper half.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(half+1)
}

// dialReceiver opens one connection (DNS resolved again each time).
func (s *Sender) dialReceiver(ctx context.Context, r *receiver) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	go func() { // Close interrupts a dial
		select {
		case <-s.done:
			cancel()
		case <-dctx.Done():
		}
	}()
	c := &conn{r: r}
	switch r.scheme {
	case schemeTCP, schemeTLS:
		nc, err := r.dial.DialContext(dctx, "tcp", r.host)
		if err != nil {
			return nil, err
		}
		tc := nc.(*net.TCPConn)
		if c.raw, err = tc.SyscallConn(); err != nil {
			nc.Close()
			return nil, err
		}
		c.cw = &countingConn{Conn: tc}
		c.nc = c.cw
		if r.scheme == schemeTLS {
			tlc := tls.Client(c.cw, r.tls)
			if err := tlc.HandshakeContext(dctx); err != nil {
				nc.Close()
				if isConfigError(err) {
					err = fmt.Errorf("%w: TLS handshake: %w", ErrConfig, err)
					r.setConfigError(err)
					return nil, err
				}
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			r.setConfigError(nil)
			c.nc = tlc
		}
		c.w = bufio.NewWriterSize(c.nc, bufferSize)
	case schemeUDP:
		nc, err := r.dial.DialContext(dctx, "udp", r.host)
		if err != nil {
			return nil, err
		}
		c.nc = nc
	case schemeWazuhQueue:
		nc, err := r.dial.DialContext(dctx, "unixgram", r.host)
		if err != nil {
			return nil, err
		}
		c.nc = nc
	}
	return c, nil
}

// sawAlive records that c's peer is connected now.
func (s *Sender) sawAlive(c *conn) { c.alive.Store(int64(time.Since(s.base))) }

// aliveAt returns when c's peer was last seen connected.
func (s *Sender) aliveAt(c *conn) time.Time { return s.base.Add(time.Duration(c.alive.Load())) }

// install makes c the current connection and, after a loss, replays the
// ring into it: the messages sent within the window before the lost
// connection was last seen alive, or after.
func (s *Sender) install(ctx context.Context, c *conn) error {
	s.sawAlive(c)
	if s.lost && s.replay.enabled() {
		entries := s.replay.live(s.lostAlive)
		for _, e := range entries {
			if _, err := s.write(ctx, c, e.msg); err != nil {
				c.abort()
				c.publish()
				c.r.writeErrors.Inc()
				return fmt.Errorf("replaying: %w", err)
			}
		}
		s.replay.unstamp() // timed again when the new buffer is flushed
		c.r.rep.Add(float64(len(entries)))
		if len(entries) > 0 {
			s.log.Info("replayed recent messages after a lost connection", "receiver", c.r.label, "messages", len(entries))
		}
	}
	c.r.connects.Inc()
	if s.lost {
		c.r.reconnects.Inc()
	}
	s.lost = false
	c.r.connected.Set(1)
	c.nextFailback = time.Now().Add(s.cfg.FailbackAfter)
	s.cur = c
	s.log.Info("connected to syslog receiver", "receiver", c.r.label, "epoch", s.epoch.Load())
	return nil
}

// drop closes c after an unexpected failure; the epoch changes and the next
// connection replays the ring.
func (s *Sender) drop(c *conn, cause error) {
	if s.cur != c {
		return
	}
	c.abort()
	c.publish()
	c.r.connected.Set(0)
	s.cur = nil
	s.lostAlive = s.aliveAt(c)
	s.lost = true
	s.epoch.Add(1)
	s.log.Warn("syslog connection lost", "receiver", c.r.label, "error", cause.Error())
}

// failback tries the preferred addresses before c's; on success it retires c
// gracefully (all bytes acknowledged: the epoch stays) and switches.
func (s *Sender) failback(ctx context.Context, c *conn) {
	c.nextFailback = time.Now().Add(s.cfg.FailbackAfter)
	for _, r := range s.eps[:c.r.idx] {
		nc, err := s.dialReceiver(ctx, r)
		if err != nil {
			r.connErrors.Inc()
			s.log.Debug("preferred syslog receiver still unreachable", "receiver", r.label, "error", err.Error())
			continue
		}
		graceful := true
		if c.w != nil {
			if err := s.flush(ctx, c); err != nil {
				graceful = false
			} else if canWaitAck && s.cfg.AckTimeout > 0 {
				graceful = s.waitAcked(ctx, c, c.cw.n.Load(), s.epoch.Load()) == nil
			}
		}
		if graceful {
			_ = c.close()
			c.r.connected.Set(0)
			s.cur = nil
		} else {
			s.drop(c, errors.New("not acknowledged before the return to the preferred receiver"))
		}
		if err := s.install(ctx, nc); err != nil {
			s.drop(nc, err)
			return
		}
		s.log.Info("returned to the preferred syslog receiver", "receiver", r.label, "from", c.r.label)
		return
	}
}

// write writes one framed message (or datagram) to c. A write that may
// reach the socket is bounded by armWrite; a stream message that fits in
// the buffer is only copied. wire reports a write to the socket: a
// datagram, or a full buffer flushed (then every byte written before msg
// is on the wire) and the counters published.
func (s *Sender) write(ctx context.Context, c *conn, msg []byte) (wire bool, err error) {
	framed := len(msg) + 1
	if c.w != nil && c.r.framing == FramingOctetCounting {
		s.scratch = strconv.AppendInt(s.scratch[:0], int64(len(msg)), 10)
		s.scratch = append(s.scratch, ' ')
		framed = len(s.scratch) + len(msg)
	}
	if c.w == nil || framed > c.w.Available() {
		stop, err := s.armWrite(ctx, c)
		if err != nil {
			return false, err
		}
		defer stop()
		wire = true
	}
	var n int
	switch {
	case c.w != nil:
		if c.r.framing == FramingOctetCounting {
			c.w.Write(s.scratch) // errors are sticky: reported by the next call
			n = len(s.scratch) + len(msg)
			if _, err := c.w.Write(msg); err != nil {
				return false, err
			}
		} else {
			c.w.Write(msg)
			if err := c.w.WriteByte('\n'); err != nil {
				return false, err
			}
			n = len(msg) + 1
		}
	case c.r.scheme == schemeWazuhQueue:
		s.scratch = append(append(s.scratch[:0], c.r.queueHeader...), msg...)
		if _, err := c.nc.Write(s.scratch); err != nil {
			return false, err
		}
		n = len(s.scratch)
	default:
		if _, err := c.nc.Write(msg); err != nil {
			return false, err
		}
		n = len(msg)
	}
	c.msgs++
	c.bytes += int64(n)
	if wire {
		c.publish()
	}
	return wire, nil
}

// flush writes the buffer of a stream connection (bounded by armWrite),
// publishes the counters and stamps the replay ring: every message written
// is on the wire.
func (s *Sender) flush(ctx context.Context, c *conn) error {
	c.publish()
	if c.w == nil {
		return nil
	}
	if c.w.Buffered() > 0 {
		stop, err := s.armWrite(ctx, c)
		if err != nil {
			return err
		}
		err = c.w.Flush()
		stop()
		if err != nil {
			return err
		}
	}
	if s.replay.unstamped() {
		s.replay.stamp(time.Now())
	}
	return nil
}

// armWrite bounds a write to c's socket: it sets the write deadline to
// WriteTimeout from now and makes the end of ctx move it to the past, so
// that a receiver that accepts but never reads cannot hold a shutdown for
// WriteTimeout. Call the returned stop once the write is done. A write cut
// short leaves a partial message on the wire: the caller drops c.
func (s *Sender) armWrite(ctx context.Context, c *conn) (stop func() bool, err error) {
	if err := c.nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return nil, err
	}
	return context.AfterFunc(ctx, func() { _ = c.nc.SetWriteDeadline(aLongTimeAgo) }), nil
}

// aLongTimeAgo is a deadline in the past: it fails a blocked write at once.
var aLongTimeAgo = time.Unix(1, 0)

// writeFailed handles a failed write or flush of c (lock held): it drops
// c, then returns the end of ctx when that cut the write short (shutdown:
// not the receiver's fault), else ErrConnectionLost.
func (s *Sender) writeFailed(ctx context.Context, c *conn, op string, err error) error {
	if ctx.Err() != nil {
		s.drop(c, fmt.Errorf("%s abandoned: %w", op, context.Cause(ctx)))
		return fmt.Errorf("%s to the syslog receiver %s abandoned: %w", op, c.r.label, context.Cause(ctx))
	}
	s.drop(c, fmt.Errorf("%s: %w", op, err))
	c.r.writeErrors.Inc()
	return fmt.Errorf("%w: %s: %w", ErrConnectionLost, c.r.label, err)
}

// abort closes c's socket without a TLS close_notify: the alert is one more
// write, which Go bounds by 5 s only, to a receiver that may not read.
func (c *conn) abort() {
	if c.cw != nil {
		_ = c.cw.Conn.Close()
		return
	}
	_ = c.nc.Close()
}

// closeNotifyTimeout bounds the TLS close_notify of a graceful close.
const closeNotifyTimeout = time.Second

// close closes c gracefully: for TLS with the close_notify alert RFC 5425
// asks for, bounded by closeNotifyTimeout (crypto/tls allows it 5 s, too
// long for a shutdown when the receiver stopped reading).
func (c *conn) close() error {
	if _, ok := c.nc.(*tls.Conn); !ok {
		return c.nc.Close()
	}
	t := time.AfterFunc(closeNotifyTimeout, func() { _ = c.cw.Conn.SetWriteDeadline(aLongTimeAgo) })
	defer t.Stop()
	return c.nc.Close()
}

// isConfigError reports whether a TLS handshake error is one that only a
// configuration change fixes: our verification of the receiver's
// certificate or host name failed, or the receiver refused our client
// certificate with a certificate alert.
func isConfigError(err error) bool {
	var cve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return certificateAlert(oe.Err)
	}
	return false
}

// certificateAlert reports whether err is a TLS alert received from the
// peer that refuses the handshake for good: handshake_failure (40: Go and
// others send it for a missing client certificate under TLS 1.2, or when
// no version or cipher suite is shared), bad_certificate (42),
// unsupported_certificate (43), certificate_revoked (44),
// certificate_expired (45), certificate_unknown (46), unknown_ca (48) or
// certificate_required (116).
// crypto/tls returns a received alert as an unexported uint8 type; its code
// is read by reflection.
func certificateAlert(err error) bool {
	v := reflect.ValueOf(err)
	if !v.IsValid() || v.Kind() != reflect.Uint8 || v.Type().PkgPath() != "crypto/tls" {
		return false
	}
	switch v.Uint() {
	case 40, 42, 43, 44, 45, 46, 48, 116:
		return true
	}
	return false
}

// setConfigError records (or, with nil, clears) r's configuration error.
func (r *receiver) setConfigError(err error) {
	if err == nil {
		r.cfgErr.Store(nil)
		r.configError.Set(0)
		return
	}
	r.cfgErr.Store(&err)
	r.configError.Set(1)
}

// ConfigError returns the configuration errors (ErrConfig) of the
// receivers whose last TLS handshake failed on one, nil when none did.
// The daemon's /readyz reports it: the Sender keeps retrying, but only a
// change of configuration (or of the receiver's certificate) helps.
func (s *Sender) ConfigError() error {
	var errs []error
	for _, r := range s.eps {
		if p := r.cfgErr.Load(); p != nil {
			errs = append(errs, fmt.Errorf("syslog receiver %s: %w", r.label, *p))
		}
	}
	return errors.Join(errs...)
}

// Confirm flushes what was sent and, for TCP and TLS on Linux, waits up to
// AckTimeout until the receiver's kernel has acknowledged every byte (the
// wait is recorded in ReceiverAckWait). It returns ErrConnectionLost when
// the connection was lost since epoch or dies while waiting — the caller
// then sends its batch again — and ErrAckTimeout when the wait timed out.
// UDP and wazuh-queue only check the epoch. One replay window after the
// last Confirm, an idle stream connection is checked (package comment).
func (s *Sender) Confirm(ctx context.Context, epoch uint64) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	if s.epoch.Load() != epoch {
		s.release()
		return fmt.Errorf("%w: the connection was replaced since this batch started", ErrConnectionLost)
	}
	c := s.cur
	if c == nil || c.w == nil {
		s.release()
		return nil
	}
	if err := s.flush(ctx, c); err != nil {
		err = s.writeFailed(ctx, c, "flush", err)
		s.release()
		return err
	}
	target := c.cw.n.Load()
	s.release()
	s.scheduleCheck()
	if !canWaitAck || s.cfg.AckTimeout == 0 {
		return nil
	}
	err := s.waitAcked(ctx, c, target, epoch)
	var pl *peerLostError
	if errors.As(err, &pl) {
		if aerr := s.acquire(ctx); aerr == nil {
			s.drop(c, err)
			s.release()
		}
		return fmt.Errorf("%w: %s: %w", ErrConnectionLost, c.r.label, pl.err)
	}
	return err
}

// peerLostError is returned by waitAcked when the socket failed or the peer
// closed it; the caller drops the connection.
type peerLostError struct{ err error }

func (e *peerLostError) Error() string { return "waiting for acknowledgement: " + e.err.Error() }

// waitAcked polls until at least target bytes written to c's socket are
// acknowledged. It may run without the lock; it never drops c itself.
func (s *Sender) waitAcked(ctx context.Context, c *conn, target int64, epoch uint64) error {
	start := time.Now()
	deadline := start.Add(s.cfg.AckTimeout)
	pause := 20 * time.Microsecond
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		if s.epoch.Load() != epoch {
			return fmt.Errorf("%w: the connection was lost while waiting for acknowledgement", ErrConnectionLost)
		}
		written := c.cw.n.Load() // before the ioctl: every byte counted is in the kernel
		q, err := unacked(c.raw)
		if err == nil {
			var gone bool
			if gone, err = peerGone(c.raw); !gone {
				err = nil
			}
		}
		if err != nil {
			return &peerLostError{err: err}
		}
		s.sawAlive(c)
		if written-int64(q) >= target {
			c.r.ackWait.Observe(time.Since(start).Seconds())
			return nil
		}
		now := time.Now()
		if now.After(deadline) {
			c.r.ackWait.Observe(now.Sub(start).Seconds())
			return fmt.Errorf("%w: %s: %d bytes unacknowledged after %s", ErrAckTimeout, c.r.label, q, s.cfg.AckTimeout)
		}
		if t == nil {
			t = time.NewTimer(pause)
		} else {
			t.Reset(pause)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the syslog receiver to acknowledge: %w", context.Cause(ctx))
		case <-t.C:
		}
		pause = min(pause*2, 5*time.Millisecond)
	}
}

// scheduleCheck makes check run one replay window from now (not before: a
// connection seen alive then has, by the window's definition, processed
// everything flushed so far). Confirm calls it after every flush.
func (s *Sender) scheduleCheck() {
	if !s.replay.enabled() {
		return
	}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	if s.watch == nil {
		s.watch = time.AfterFunc(s.cfg.ReplayWindow, s.check)
	} else {
		s.watch.Reset(s.cfg.ReplayWindow)
	}
}

// check looks at an idle stream connection: alive, it is recorded as such
// (what was sent a window ago is processed); gone, it is dropped, and the
// next Send reconnects and replays what was sent within the window before
// it was last seen alive.
func (s *Sender) check() {
	if !s.lock.lock(s.done, nil) {
		return
	}
	defer s.release()
	c := s.cur
	if s.closed || c == nil || c.w == nil || c.w.Buffered() > 0 {
		return // sending: Send and Confirm watch the connection
	}
	if err := s.probe(c); err != nil {
		s.drop(c, err)
		return
	}
	s.sawAlive(c)
}

// Drain is for the end of a run whose cursors are committed (--once): the
// receiver may still die with the last messages unread. Drain waits one
// replay window, checks the connection and, if the receiver went away,
// reconnects (which replays the window before it was last seen alive) and
// confirms. It returns nil at once when the replay window is off or nothing
// was ever connected.
func (s *Sender) Drain(ctx context.Context) error {
	if !s.replay.enabled() {
		return nil
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	idle := s.cur == nil && !s.lost
	s.release()
	if idle {
		return nil
	}
	t := time.NewTimer(s.cfg.ReplayWindow + s.cfg.ReplayWindow/10)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-s.done:
		return ErrClosed
	}
	s.check()
	if err := s.acquire(ctx); err != nil {
		return err
	}
	if !s.lost || s.closed {
		s.release()
		return nil
	}
	s.log.Warn("the syslog receiver went away after the last batch; reconnecting to send the replay window again")
	_, err := s.ready(ctx) // connects and replays
	epoch := s.epoch.Load()
	s.release()
	if err != nil {
		return fmt.Errorf("draining: %w", err)
	}
	if err := s.Confirm(ctx, epoch); err != nil {
		return fmt.Errorf("draining: %w", err)
	}
	return nil
}

// Check dials every configured receiver once (TLS handshake included) and
// logs which work. It returns one error line per receiver that failed, nil
// when all work.
func (s *Sender) Check(ctx context.Context) error {
	var errs []error
	for _, r := range s.eps {
		start := time.Now()
		c, err := s.dialReceiver(ctx, r)
		if err != nil {
			s.log.Error("syslog receiver unreachable", "receiver", r.label, "error", err.Error())
			errs = append(errs, fmt.Errorf("syslog receiver %s: %w", r.label, err))
			continue
		}
		c.nc.Close()
		s.log.Info("syslog receiver reachable", "receiver", r.label, "dial_time", time.Since(start))
	}
	return errors.Join(errs...)
}

// Close closes the connection (a TLS one with a close_notify bounded to
// 1 s); a Send blocked on connecting returns ErrClosed. Close does not
// flush: what was sent but not confirmed belongs to a batch that was not
// committed and is sent again at the next start, and a receiver that
// stopped reading must not hold the shutdown.
func (s *Sender) Close() error {
	s.once.Do(func() { close(s.done) })
	s.watchMu.Lock()
	if s.watch != nil {
		s.watch.Stop()
	}
	s.watchMu.Unlock()
	s.lock.lock(nil, nil)
	defer s.release()
	if s.closed {
		return nil
	}
	s.closed = true
	c := s.cur
	if c == nil {
		return nil
	}
	s.cur = nil
	c.publish()
	c.r.connected.Set(0)
	if err := c.close(); err != nil {
		return fmt.Errorf("closing the syslog connection to %s: %w", c.r.label, err)
	}
	return nil
}
