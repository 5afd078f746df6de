package syslogfmt

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// Limits of Config.MaxMessageBytes.
const (
	// MinMessageBytes is the smallest accepted MaxMessageBytes: the size
	// every RFC 5426 (syslog over UDP/IPv4) receiver must accept.
	MinMessageBytes = 480
	// MaxMessageBytesLimit is the largest accepted MaxMessageBytes (16 MiB):
	// it bounds the memory one formatted message may take.
	MaxMessageBytesLimit = 16 << 20
	// DefaultMaxMessageBytes keeps a message plus its LF below Wazuh's
	// 65 535-byte event limit (OS_MAXSTR) with room for remoted's header.
	DefaultMaxMessageBytes = 65000
)

// Default header values.
const (
	DefaultAppName  = "mimecast"
	DefaultProcID   = "-"
	DefaultFacility = 16 // local0
	// Software is the value of the origin SD element's "software" parameter.
	Software = "mimecast-forwarder"
)

// BodyMode selects what the MSG part of a message holds.
type BodyMode uint8

const (
	// BodyJSON (the zero value and default): MSG is
	// {"mimecast":{"logType":"<type>",<every original field>}}.
	BodyJSON BodyMode = iota
	// BodyRaw: MSG is the record's original text (source.Record.Raw, API 1.0
	// key_value lines); records without Raw fall back to BodyJSON.
	BodyRaw
)

// String returns "json" or "raw".
func (m BodyMode) String() string {
	switch m {
	case BodyJSON:
		return "json"
	case BodyRaw:
		return "raw"
	}
	return "BodyMode(" + strconv.Itoa(int(m)) + ")"
}

// ParseBodyMode parses "json" or "raw" (case-insensitive, surrounding
// spaces ignored).
func ParseBodyMode(s string) (BodyMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json":
		return BodyJSON, nil
	case "raw":
		return BodyRaw, nil
	}
	return 0, fmt.Errorf("body mode %q: want json or raw", s)
}

// facilityNames are the RFC 5424 §6.2.1 facilities, indexed by code.
var facilityNames = [24]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// ParseFacility parses a syslog facility: a name (kern, user, mail, daemon,
// auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security,
// console, solaris-cron, local0 … local7; case-insensitive) or a number 0–23.
func ParseFacility(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range facilityNames {
		if t == n {
			return i, nil
		}
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n >= 0 && n <= 23 {
			return n, nil
		}
		return 0, fmt.Errorf("facility %q: number out of range 0-23", s)
	}
	return 0, fmt.Errorf("facility %q: want a name (kern … local7) or a number 0-23", s)
}

// FacilityName returns the name of facility code f (0–23), or its number.
func FacilityName(f int) string {
	if f >= 0 && f < len(facilityNames) {
		return facilityNames[f]
	}
	return strconv.Itoa(f)
}

// Config configures a Formatter. Start from DefaultConfig. Each field names
// the environment variable the command wires to it.
type Config struct {
	// Hostname is the HOSTNAME header field (SYSLOG_HOSTNAME): 1–255
	// printable US-ASCII characters. DefaultConfig uses os.Hostname().
	Hostname string
	// AppName is the APP-NAME header field (SYSLOG_APP_NAME): 1–48 printable
	// US-ASCII characters, not "-". Default "mimecast".
	AppName string
	// ProcID is the PROCID header field (SYSLOG_PROCID): 1–128 printable
	// US-ASCII characters; "-" (the default) or "" sends the NILVALUE.
	ProcID string
	// Facility is the syslog facility code 0–23 (SYSLOG_FACILITY, parse it
	// with ParseFacility). Default 16 (local0).
	Facility int
	// MaxMessageBytes bounds the length of one message without framing
	// (SYSLOG_MAX_MESSAGE_BYTES), MinMessageBytes … MaxMessageBytesLimit.
	// Longer messages are shrunk (see the package doc). Default 65000.
	MaxMessageBytes int
	// Body selects the MSG content (SYSLOG_BODY, parse with ParseBodyMode).
	Body BodyMode
	// StructuredData sends [origin software="mimecast-forwarder"
	// swVersion="<Version>"] when true (the default), the NILVALUE "-" when
	// false (SYSLOG_STRUCTURED_DATA).
	StructuredData bool
	// Version is the forwarder's build version, sent as swVersion: at most
	// 32 printable US-ASCII characters (RFC 5424 §7.2.6). Empty omits the
	// swVersion parameter.
	Version string
	// Now is the clock used for records without a usable time. Nil means
	// time.Now. It must be safe for concurrent use.
	Now func() time.Time
}

// DefaultConfig returns the defaults: HOSTNAME from os.Hostname() (empty if
// that fails, which Validate reports), APP-NAME "mimecast", PROCID "-",
// facility local0, 65000 bytes, JSON body, origin structured data.
func DefaultConfig() Config {
	h, err := os.Hostname()
	if err != nil {
		h = ""
	}
	return Config{
		Hostname:        h,
		AppName:         DefaultAppName,
		ProcID:          DefaultProcID,
		Facility:        DefaultFacility,
		MaxMessageBytes: DefaultMaxMessageBytes,
		Body:            BodyJSON,
		StructuredData:  true,
	}
}

// Validate reports every problem of c, joined, one line each, naming the
// environment variable. Header fields are checked with go-syslog's RFC 5424
// builder, whose setters silently drop invalid values; a dropped value is
// reported here.
func (c Config) Validate() error {
	var errs []error
	b := &rfc5424.SyslogMessage{}
	switch {
	case c.Hostname == "":
		errs = append(errs, errors.New("SYSLOG_HOSTNAME is empty (and os.Hostname() gave nothing): set it"))
	case c.Hostname == "-":
		errs = append(errs, errors.New(`SYSLOG_HOSTNAME "-": the NILVALUE is not allowed, set a host name`))
	default:
		b.SetHostname(c.Hostname)
		if b.Hostname == nil || *b.Hostname != c.Hostname {
			errs = append(errs, fmt.Errorf("SYSLOG_HOSTNAME %q: not a valid RFC5424 HOSTNAME (1-255 printable US-ASCII, no space)", c.Hostname))
		}
	}
	b.SetAppname(c.AppName)
	if b.Appname == nil || *b.Appname != c.AppName {
		errs = append(errs, fmt.Errorf("SYSLOG_APP_NAME %q: not a valid RFC5424 APP-NAME (1-48 printable US-ASCII, no space, not \"-\")", c.AppName))
	}
	if c.ProcID != "" && c.ProcID != "-" {
		b.SetProcID(c.ProcID)
		if b.ProcID == nil || *b.ProcID != c.ProcID {
			errs = append(errs, fmt.Errorf("SYSLOG_PROCID %q: not a valid RFC5424 PROCID (1-128 printable US-ASCII, no space, or \"-\")", c.ProcID))
		}
	}
	if c.Facility < 0 || c.Facility > 23 {
		errs = append(errs, fmt.Errorf("SYSLOG_FACILITY %d: out of range 0-23", c.Facility))
	}
	if c.Body != BodyJSON && c.Body != BodyRaw {
		errs = append(errs, fmt.Errorf("SYSLOG_BODY %s: want json or raw", c.Body))
	}
	versionOK := true
	if c.Version != "" {
		b.SetParameter("origin", "swVersion", escapeSDValue(c.Version))
		var got string
		if b.StructuredData != nil {
			got = (*b.StructuredData)["origin"]["swVersion"]
		}
		if len(c.Version) > 32 || got != c.Version || !printableASCII(c.Version) {
			versionOK = false
			errs = append(errs, fmt.Errorf("version %q (origin swVersion): not valid (1-32 printable US-ASCII, RFC5424 section 7.2.6)", c.Version))
		}
	}
	switch {
	case c.MaxMessageBytes < MinMessageBytes || c.MaxMessageBytes > MaxMessageBytesLimit:
		errs = append(errs, fmt.Errorf("SYSLOG_MAX_MESSAGE_BYTES %d: out of range %d-%d", c.MaxMessageBytes, MinMessageBytes, MaxMessageBytesLimit))
	case len(errs) == 0 && versionOK:
		// The longest header plus the fallback body must fit, so that every
		// record can be sent.
		if need := c.worstCaseFallback(); need > c.MaxMessageBytes {
			errs = append(errs, fmt.Errorf("SYSLOG_MAX_MESSAGE_BYTES %d: too small for this header (SYSLOG_HOSTNAME, SYSLOG_APP_NAME, SYSLOG_PROCID), need at least %d", c.MaxMessageBytes, need))
		}
	}
	return errors.Join(errs...)
}

// worstCaseFallback is the length of the longest fallback message (see
// appendFallback) with this header, for the largest possible MSGID and an
// empty "head".
func (c Config) worstCaseFallback() int {
	f := newHeader(c)
	n := len(f.pri[0]) + tsLen + len(f.mid) + maxMsgIDLen + len(f.sd)
	n += len(`{"mimecast":{"logType":"`) + maxFallbackTypeLen + len(`","truncated":true,"originalBytes":`) +
		20 + len(`,"head":"`) + markerLen(1<<62) + len(`"}}`)
	return n
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return s != "" && utf8.ValidString(s)
}

// escapeSDValue escapes an SD-PARAM value as RFC 5424 §6.3.3 requires:
// backslash, double quote and closing bracket get a backslash.
func escapeSDValue(v string) string {
	return sdEscaper.Replace(v)
}

var sdEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`)
