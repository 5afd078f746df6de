package transport

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Environment variables that configure the transport. The cmd package maps
// them onto Config; Validate names them in its messages.
const (
	EnvAddress               = "SYSLOG_ADDRESS"
	EnvFraming               = "SYSLOG_FRAMING"
	EnvProfile               = "SYSLOG_PROFILE"
	EnvMaxMessageBytes       = "SYSLOG_MAX_MESSAGE_BYTES"
	EnvTLSCAFile             = "SYSLOG_TLS_CA_FILE"
	EnvTLSCertFile           = "SYSLOG_TLS_CERT_FILE"
	EnvTLSKeyFile            = "SYSLOG_TLS_KEY_FILE"
	EnvTLSServerName         = "SYSLOG_TLS_SERVER_NAME"
	EnvTLSInsecureSkipVerify = "SYSLOG_TLS_INSECURE_SKIP_VERIFY"
	EnvDialTimeout           = "SYSLOG_DIAL_TIMEOUT"
	EnvWriteTimeout          = "SYSLOG_WRITE_TIMEOUT"
	EnvAckTimeout            = "SYSLOG_ACK_TIMEOUT"
	EnvBackoffMin            = "SYSLOG_BACKOFF_MIN"
	EnvBackoffMax            = "SYSLOG_BACKOFF_MAX"
	EnvKeepAlive             = "SYSLOG_KEEPALIVE"
	EnvReplayWindow          = "SYSLOG_REPLAY_WINDOW"
	EnvReplayMaxBytes        = "SYSLOG_REPLAY_MAX_BYTES"
	EnvFailbackAfter         = "SYSLOG_FAILBACK_AFTER"
	EnvWazuhLocation         = "SYSLOG_WAZUH_LOCATION"
)

// Framing is the way messages are delimited on stream transports (tcp, tls).
// Datagram transports (udp, wazuh-queue) send one message per datagram and
// ignore it.
type Framing string

// Framing values.
const (
	// FramingDefault picks the framing from the scheme and profile: LF for
	// tcp; for tls octet counting with the rfc profile and LF with the wazuh
	// profile (a TLS terminator in front of Wazuh remoted passes the bytes
	// on unchanged, and remoted splits on LF only).
	FramingDefault Framing = ""
	// FramingLF appends "\n" to every message (RFC 6587 non-transparent).
	FramingLF Framing = "lf"
	// FramingOctetCounting writes "<len> <msg>" (RFC 6587 §3.4.1, RFC 5425).
	FramingOctetCounting Framing = "octet-counting"
)

// Profile selects the receiver-specific rules.
type Profile string

// Profile values.
const (
	// ProfileWazuh (the default) targets Wazuh remoted: LF framing only,
	// messages without LF, CR or NUL and at most WazuhMaxMessageBytes bytes.
	ProfileWazuh Profile = "wazuh"
	// ProfileRFC targets RFC-conforming receivers (rsyslog, syslog-ng).
	ProfileRFC Profile = "rfc"
)

// Size limits.
const (
	// WazuhMaxMessageBytes is the largest MaxMessageBytes accepted with the
	// wazuh profile: remoted reads lines into a 65 536-byte buffer, drops the
	// connection on a longer line and cuts the record it passes on to
	// analysisd (header "2:<ip>:" included) at 65 535 bytes.
	WazuhMaxMessageBytes = 65000
	// RFCMaxMessageBytes is the largest MaxMessageBytes accepted with the rfc
	// profile.
	RFCMaxMessageBytes = 16 << 20
	// UDPMaxMessageBytes is the largest UDP payload over IPv4.
	UDPMaxMessageBytes = 65507
	// WazuhQueueMaxDatagram is the largest datagram analysisd accepts on its
	// queue socket (longer ones are cut).
	WazuhQueueMaxDatagram = 65535
)

// Config configures a Sender. Start from DefaultConfig.
type Config struct {
	// Addresses (SYSLOG_ADDRESS, comma-separated) are tried in order:
	// tcp://host:port, udp://host:port, tls://host:port or
	// wazuh-queue:///var/ossec/queue/sockets/queue. The first is preferred;
	// see FailbackAfter.
	Addresses []string
	// Framing (SYSLOG_FRAMING) for tcp and tls; see FramingDefault.
	Framing Framing
	// Profile (SYSLOG_PROFILE): wazuh (default) or rfc.
	Profile Profile
	// MaxMessageBytes (SYSLOG_MAX_MESSAGE_BYTES) is the largest message,
	// framing excluded, that Send accepts.
	MaxMessageBytes int

	// TLS for tls:// addresses. Without TLSCAFile the system roots are used.
	// TLSCertFile and TLSKeyFile (both or neither) give a client certificate
	// for mutual TLS. TLSServerName overrides the name checked in the server
	// certificate (default: the host of the address). The minimum version is
	// TLS 1.2.
	TLSCAFile, TLSCertFile, TLSKeyFile, TLSServerName string
	// TLSInsecureSkipVerify disables server certificate verification (logged
	// loudly at New). Only for tests.
	TLSInsecureSkipVerify bool

	// DialTimeout bounds one connection attempt (TLS handshake included).
	DialTimeout time.Duration
	// WriteTimeout bounds one write to the socket; a receiver that accepts
	// nothing for this long is treated as lost.
	WriteTimeout time.Duration
	// AckTimeout bounds how long Confirm waits until the peer's kernel has
	// acknowledged every byte (tcp and tls on Linux). 0 disables the wait:
	// Confirm then only flushes.
	AckTimeout time.Duration
	// BackoffMin and BackoffMax bound the pause between rounds of connection
	// attempts (exponential with full jitter between half and the whole step).
	BackoffMin, BackoffMax time.Duration
	// KeepAlive is the idle time before TCP keepalive probes start (then every
	// KeepAlive/3, 3 probes). Wazuh never times out half-open syslog
	// connections, so this must stay on; 0 selects the default.
	KeepAlive time.Duration
	// ReplayWindow and ReplayMaxBytes bound the replay ring: after an
	// unexpected disconnect, the messages sent within ReplayWindow before the
	// lost connection was last seen alive (at most ReplayMaxBytes bytes) are
	// sent again first. An idle connection is checked one window after each
	// Confirm, and Drain checks it before a run exits. 0 in either disables
	// the replay.
	ReplayWindow   time.Duration
	ReplayMaxBytes int
	// FailbackAfter (SYSLOG_FAILBACK_AFTER): while connected to a fallback
	// address, try the preferred (first) address again once this long after
	// connecting and then at the same interval; 0 disables the return.
	FailbackAfter time.Duration
	// WazuhLocation is the location written into wazuh-queue datagrams.
	WazuhLocation string
	// StopOnConfigError makes Send give up, with a source.Permanent error
	// wrapping ErrConfig, after a round of connection attempts in which a
	// receiver failed on a configuration error (certificate or host name
	// verification): for --once, which must end. Otherwise the Sender keeps
	// retrying, the error shown by ConfigError and receiver_config_error.
	StopOnConfigError bool
}

// DefaultConfig returns the defaults: profile wazuh, 65 000-byte messages,
// 10 s dial, 30 s write, 10 s ack timeouts, backoff 500 ms..30 s, keepalive
// 30 s, replay 2 s / 4 MiB, failback after 5 min, location
// "mimecast-forwarder". Addresses must be set.
func DefaultConfig() Config {
	return Config{
		Profile:         ProfileWazuh,
		MaxMessageBytes: WazuhMaxMessageBytes,
		DialTimeout:     10 * time.Second,
		WriteTimeout:    30 * time.Second,
		AckTimeout:      10 * time.Second,
		BackoffMin:      500 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		KeepAlive:       30 * time.Second,
		ReplayWindow:    2 * time.Second,
		ReplayMaxBytes:  4 << 20,
		FailbackAfter:   5 * time.Minute,
		WazuhLocation:   "mimecast-forwarder",
	}
}

// scheme names.
const (
	schemeTCP        = "tcp"
	schemeUDP        = "udp"
	schemeTLS        = "tls"
	schemeWazuhQueue = "wazuh-queue"
)

// endpoint is one parsed receiver address.
type endpoint struct {
	label   string // the address as configured (metrics label)
	scheme  string
	host    string // host:port, or the socket path for wazuh-queue
	framing Framing
}

func (e *endpoint) stream() bool { return e.scheme == schemeTCP || e.scheme == schemeTLS }

func (c Config) profile() Profile {
	if c.Profile == "" {
		return ProfileWazuh
	}
	return c.Profile
}

func parseEndpoint(raw string, c Config) (*endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a valid address: %w", EnvAddress, raw, err)
	}
	e := &endpoint{label: raw, scheme: strings.ToLower(u.Scheme)}
	switch e.scheme {
	case schemeTCP, schemeUDP, schemeTLS:
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%s: %q must be %s://host:port with nothing after the port", EnvAddress, raw, e.scheme)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%s: %q must be %s://host:port", EnvAddress, raw, e.scheme)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%s: %q has an invalid port %q (1-65535)", EnvAddress, raw, port)
		}
		e.host = u.Host
	case schemeWazuhQueue:
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("%s: %q must be wazuh-queue:///absolute/path/to/socket (three slashes)", EnvAddress, raw)
		}
		e.host = u.Path
	default:
		return nil, fmt.Errorf("%s: %q has an unknown scheme %q (want tcp, udp, tls or wazuh-queue)", EnvAddress, raw, u.Scheme)
	}
	switch {
	case !e.stream():
	case c.Framing != FramingDefault:
		e.framing = c.Framing
	case e.scheme == schemeTLS && c.profile() == ProfileRFC:
		e.framing = FramingOctetCounting
	default:
		e.framing = FramingLF
	}
	return e, nil
}

// Validate reports every problem of c, one line each, naming the
// environment variable.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	prof := c.profile()
	if prof != ProfileWazuh && prof != ProfileRFC {
		add("%s: unknown profile %q (want wazuh or rfc)", EnvProfile, c.Profile)
	}
	switch c.Framing {
	case FramingDefault, FramingLF:
	case FramingOctetCounting:
		if prof == ProfileWazuh {
			add("%s: octet-counting cannot be used with %s=wazuh: Wazuh remoted splits TCP syslog on LF only and would merge or mangle octet-counted messages (use lf, or %s=rfc for rsyslog/syslog-ng relays)", EnvFraming, EnvProfile, EnvProfile)
		}
	default:
		add("%s: unknown framing %q (want lf or octet-counting, or empty for the default)", EnvFraming, c.Framing)
	}
	maxBytes := RFCMaxMessageBytes
	if prof == ProfileWazuh {
		maxBytes = WazuhMaxMessageBytes
	}
	if c.MaxMessageBytes < 480 || c.MaxMessageBytes > maxBytes {
		add("%s: %d is out of range 480..%d for profile %s", EnvMaxMessageBytes, c.MaxMessageBytes, maxBytes, prof)
	}

	if len(c.Addresses) == 0 {
		add("%s: no receiver address configured", EnvAddress)
	}
	hasTLS := false
	seen := map[string]bool{}
	for _, a := range c.Addresses {
		if seen[a] {
			add("%s: %q is listed twice", EnvAddress, a)
			continue
		}
		seen[a] = true
		e, err := parseEndpoint(a, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch e.scheme {
		case schemeTLS:
			hasTLS = true
		case schemeUDP:
			if c.MaxMessageBytes > UDPMaxMessageBytes {
				add("%s: %d exceeds the UDP payload limit of %d bytes needed by %s", EnvMaxMessageBytes, c.MaxMessageBytes, UDPMaxMessageBytes, a)
			}
		case schemeWazuhQueue:
			if h := len(wazuhQueueHeader(c.WazuhLocation)); c.MaxMessageBytes+h > WazuhQueueMaxDatagram {
				add("%s: %d plus the %d-byte queue header exceeds the %d-byte datagram limit of %s", EnvMaxMessageBytes, c.MaxMessageBytes, h, WazuhQueueMaxDatagram, a)
			}
			if c.WazuhLocation == "" {
				add("%s: empty location for %s", EnvWazuhLocation, a)
			}
		}
	}
	if !hasTLS && (c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" || c.TLSServerName != "" || c.TLSInsecureSkipVerify) {
		add("%s etc.: TLS settings are given but no tls:// address is configured in %s", EnvTLSCAFile, EnvAddress)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		add("%s and %s: give both (mutual TLS) or neither", EnvTLSCertFile, EnvTLSKeyFile)
	}
	if strings.ContainsAny(c.WazuhLocation, "\x00\n\r") {
		add("%s: the location must not contain NUL, CR or LF", EnvWazuhLocation)
	}

	positive := func(d time.Duration, env string) {
		if d <= 0 {
			add("%s: must be positive (got %s)", env, d)
		}
	}
	positive(c.DialTimeout, EnvDialTimeout)
	positive(c.WriteTimeout, EnvWriteTimeout)
	positive(c.BackoffMin, EnvBackoffMin)
	if c.BackoffMax < c.BackoffMin {
		add("%s: %s is below %s (%s)", EnvBackoffMax, c.BackoffMax, EnvBackoffMin, c.BackoffMin)
	}
	if c.AckTimeout < 0 {
		add("%s: must not be negative (0 disables the wait)", EnvAckTimeout)
	}
	if c.KeepAlive < 0 {
		add("%s: must not be negative (0 selects the default)", EnvKeepAlive)
	}
	if c.ReplayWindow < 0 {
		add("%s: must not be negative (0 disables the replay)", EnvReplayWindow)
	}
	if c.ReplayMaxBytes < 0 {
		add("%s: must not be negative (0 disables the replay)", EnvReplayMaxBytes)
	}
	if c.FailbackAfter < 0 {
		add("%s: must not be negative (0 disables the return to the first address)", EnvFailbackAfter)
	}
	return errors.Join(errs...)
}

// wazuhQueueHeader returns "1:<location>:" with ':' and '|' in the location
// escaped by '|', as Wazuh's SendMSG does.
func wazuhQueueHeader(location string) []byte {
	b := make([]byte, 0, len(location)+8)
	b = append(b, '1', ':')
	for i := 0; i < len(location); i++ {
		if location[i] == ':' || location[i] == '|' {
			b = append(b, '|')
		}
		b = append(b, location[i])
	}
	return append(b, ':')
}
