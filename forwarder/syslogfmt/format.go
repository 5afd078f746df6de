package syslogfmt

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

const (
	tsLen              = len("2006-01-02T15:04:05.000Z")
	maxMsgIDLen        = 32 // RFC 5424 MSGID: 1*32PRINTUSASCII
	maxFallbackTypeLen = 64 // bytes of the escaped logType kept by the fallback body
	jsonPrefix         = `{"mimecast":{"logType":"`
	jsonSuffix         = `}}`
)

// utf8BOM is never sent: RFC 5424 would read it as "MSG is UTF-8", Wazuh's
// decoders do not expect it.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Formatter turns records into RFC 5424 messages. It is immutable after New
// and safe for concurrent use.
type Formatter struct {
	h    header
	max  int
	body BodyMode
	now  func() time.Time
}

// header holds the precomputed parts of the message header.
type header struct {
	pri [8]string // "<PRI>1 " by severity
	mid string    // " HOSTNAME APP-NAME PROCID "
	sd  string    // " SD " (SD is "-" or the origin element)
}

func newHeader(c Config) header {
	var h header
	for sev := range h.pri {
		h.pri[sev] = "<" + strconv.Itoa(c.Facility*8+sev) + ">1 "
	}
	procID := c.ProcID
	if procID == "" {
		procID = "-"
	}
	h.mid = " " + c.Hostname + " " + c.AppName + " " + procID + " "
	sd := "-"
	if c.StructuredData {
		sd = `[origin software="` + escapeSDValue(Software) + `"`
		if c.Version != "" {
			sd += ` swVersion="` + escapeSDValue(c.Version) + `"`
		}
		sd += "]"
	}
	h.sd = " " + sd + " "
	return h
}

// New validates c and returns a Formatter.
func New(c Config) (*Formatter, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("syslog format config: %w", err)
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Formatter{
		h:    newHeader(c),
		max:  c.MaxMessageBytes,
		body: c.Body,
		now:  now,
	}, nil
}

// MaxMessageBytes returns the configured maximum message length.
func (f *Formatter) MaxMessageBytes() int { return f.max }

// Append appends the message for r to dst (no framing: no trailing LF, no
// octet count) and returns the extended slice. shrunk reports that the
// message was made shorter to fit MaxMessageBytes (count it in
// metrics.RecordsShrunk). The result never contains LF, CR or NUL and is
// never longer than MaxMessageBytes.
//
// An error means the record breaks the source.Record contract (nil record,
// JSON that is not an object); dst is then returned unchanged.
func (f *Formatter) Append(dst []byte, r *source.Record) (out []byte, shrunk bool, err error) {
	if r == nil {
		return dst, false, errors.New("format syslog message: nil record")
	}
	js := r.JSON
	if len(js) == 0 {
		js = []byte("{}")
	}
	if len(js) < 2 || js[0] != '{' || js[len(js)-1] != '}' {
		if f.body != BodyRaw || len(trimBOM(r.Raw)) == 0 {
			return dst, false, fmt.Errorf("format syslog message for %q record: JSON is not an object", r.Type)
		}
	}
	start := len(dst)
	dst = f.appendHeader(dst, r)
	headerLen := len(dst) - start

	if raw := trimBOM(r.Raw); f.body == BodyRaw && len(raw) > 0 {
		if headerLen+len(raw) <= f.max {
			dst = append(dst, raw...)
		} else {
			dst = appendCut(dst, raw, f.max-headerLen)
			shrunk = true
		}
		sanitize(dst[start+headerLen:])
		return dst, shrunk, nil
	}

	bodyStart := len(dst)
	dst = append(dst, jsonPrefix...)
	dst = appendJSONStringContent(dst, r.Type)
	dst = append(dst, '"')
	inner := trimJSONSpace(js[1 : len(js)-1])
	if ownLogType(r, inner) {
		inner = renameLogTypes(inner) // rare: allocates
	}
	if len(inner) > 0 {
		dst = append(dst, ',')
	}
	fixed := len(dst) - start + len(jsonSuffix)
	if fixed+len(inner) <= f.max {
		dst = append(dst, inner...)
		dst = append(dst, jsonSuffix...)
	} else {
		var ok bool
		dst, ok = appendShrunk(dst, inner, f.max-fixed)
		if ok {
			dst = append(dst, jsonSuffix...)
		} else {
			dst = appendFallback(dst[:bodyStart], r.Type, js, f.max-headerLen)
		}
		shrunk = true
	}
	sanitize(dst[bodyStart:])
	return dst, shrunk, nil
}

// appendHeader appends everything before MSG, including the space that
// separates it from MSG.
func (f *Formatter) appendHeader(dst []byte, r *source.Record) []byte {
	dst = append(dst, f.h.pri[Severity(r)]...)
	t := r.Time
	if t.IsZero() {
		t = f.now()
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		t = f.now().UTC()
	}
	dst = appendTimestamp(dst, t)
	dst = append(dst, f.h.mid...)
	dst = appendMsgID(dst, r.Type)
	return append(dst, f.h.sd...)
}

// appendTimestamp appends t (UTC, year 1–9999) as 2006-01-02T15:04:05.000Z;
// the fraction is truncated to milliseconds.
func appendTimestamp(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	ms := t.Nanosecond() / 1e6
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+hh/10), byte('0'+hh%10), ':', byte('0'+mm/10), byte('0'+mm%10), ':',
		byte('0'+ss/10), byte('0'+ss%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return b
}

// MsgID returns the MSGID for a log type: spaces become '-' ("url protect"
// → "url-protect"). For robustness with non-canonical types, any other byte
// outside printable US-ASCII becomes '_', the result is cut to 32 bytes
// (RFC 5424) and an empty type gives the NILVALUE "-".
func MsgID(logType string) string {
	return string(appendMsgID(nil, logType))
}

func appendMsgID(b []byte, t string) []byte {
	if t == "" {
		return append(b, '-')
	}
	if len(t) > maxMsgIDLen {
		t = t[:maxMsgIDLen]
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == ' ':
			c = '-'
		case c < 33 || c > 126:
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

// appendJSONStringContent appends s JSON-escaped, without quotes. A byte of
// invalid UTF-8 becomes \ufffd, as encoding/json writes it.
func appendJSONStringContent(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xF))
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
				continue
			}
			b = append(b, s[i:i+size]...)
			i += size - 1
		default:
			b = append(b, c)
		}
	}
	return b
}

func hexDigit(c byte) byte { return "0123456789abcdef"[c&0xF] }

// sanitize replaces every LF, CR and NUL in b by a space. Compact JSON has
// none; in JSON whitespace they are replaced without changing the meaning.
func sanitize(b []byte) {
	for _, c := range [...]byte{'\n', '\r', 0} {
		for i := bytes.IndexByte(b, c); i >= 0; {
			b[i] = ' '
			j := bytes.IndexByte(b[i+1:], c)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
}

// trimJSONSpace removes leading and trailing JSON whitespace (none in
// compact JSON; "{ }" would otherwise give a dangling comma).
func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// trimBOM removes every leading UTF-8 BOM.
func trimBOM(b []byte) []byte {
	for bytes.HasPrefix(b, utf8BOM) {
		b = b[len(utf8BOM):]
	}
	return b
}

// appendMarker appends the visible truncation marker.
func appendMarker(b []byte, removed int) []byte {
	b = append(b, "…[truncated "...)
	b = strconv.AppendInt(b, int64(removed), 10)
	return append(b, " bytes]"...)
}

// markerLen is the length of the marker for removed bytes.
func markerLen(removed int) int {
	n := len("…[truncated  bytes]") + 1
	for removed >= 10 {
		removed /= 10
		n++
	}
	return n
}

// appendCut appends a prefix of s followed by the marker, budget bytes in
// all at most, cutting at a UTF-8 boundary (raw mode).
func appendCut(b, s []byte, budget int) []byte {
	keep := budget - markerLen(len(s))
	if keep < 0 {
		keep = 0
	}
	if keep > len(s) {
		keep = len(s)
	}
	keep = utf8Boundary(s, keep)
	b = append(b, s[:keep]...)
	return appendMarker(b, len(s)-keep)
}

// utf8Boundary moves p back (at most 3 bytes) so that s[:p] does not end
// inside a multibyte UTF-8 sequence.
func utf8Boundary(s []byte, p int) int {
	if p >= len(s) {
		return len(s)
	}
	for k := 0; k < utf8.UTFMax-1 && p > 0 && s[p]&0xC0 == 0x80; k++ {
		p--
	}
	return p
}
