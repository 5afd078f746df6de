package jsonl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Normalize validates that line is exactly one JSON object and appends
// its compact form (insignificant whitespace removed; every string, number
// and key byte preserved as is, nothing re-escaped) to dst[:0]. The one
// change inside strings: every byte that is not part of a valid UTF-8
// sequence is replaced by the escape \ufffd (U+FFFD), one per byte, as
// encoding/json's encoder does, so that the result is always valid UTF-8.
// A leading UTF-8 BOM, surrounding whitespace and a trailing CR are
// ignored. The error says why the line is not a JSON object; on error the
// returned slice is dst[:0].
func Normalize(dst, line []byte) ([]byte, error) {
	return normalize(dst, line, nil)
}

// NormalizeTime is Normalize followed by EventTime on its
// result, in one pass over the line: out and err are those of
// Normalize, t and ok those of EventTime(out) (zero and false on
// error).
func NormalizeTime(dst, line []byte) (out []byte, t time.Time, ok bool, err error) {
	out, info, err := NormalizeInfo(dst, line, 0)
	return out, info.Time, info.TimeOK, err
}

// Info is what NormalizeInfo learnt about an event on the way.
type Info struct {
	Time   time.Time // as EventTime
	TimeOK bool
	// Replaced counts the bytes of invalid UTF-8 replaced by \ufffd.
	Replaced int
	// Members locates the top-level members of the output, in order,
	// when asked for (NormalizeMembers, Scanner.Normalize). It is nil when
	// they were not asked for, on error, and for an object of more than
	// MaxMembers top-level members (its positions would take more memory
	// than the line: then read the output itself).
	Members []Member
}

// MaxMembers is the most top-level members NormalizeMembers locates (a
// Mimecast event has fewer than 100): it bounds the memory of
// Info.Members to 32 KiB on 64-bit platforms whatever the line.
const MaxMembers = 1024

// Member locates one top-level member of an object by offsets into the
// output of NormalizeMembers (offsets, not slices, stay right while the
// output grows): out[Key:KeyEnd] is the name between its quotes, still
// escaped, and out[Value:ValueEnd] the value as written (a string with
// its quotes, an object or array whole). A repeated name is listed each
// time.
type Member struct {
	Key, KeyEnd, Value, ValueEnd int
}

// KeyIn returns the member's name in out (without quotes, still escaped).
func (m Member) KeyIn(out []byte) []byte { return out[m.Key:m.KeyEnd] }

// ValueIn returns the member's value in out the way the formatter's field
// scans read it: the content of a string without its quotes, still
// escaped; any other value as its literal text.
func (m Member) ValueIn(out []byte) []byte {
	if out[m.Value] == '"' {
		return out[m.Value+1 : m.ValueEnd-1]
	}
	return out[m.Value:m.ValueEnd]
}

// ErrTooLarge is wrapped by NormalizeInfo when the compact form would
// be longer than its limit (only replacing invalid UTF-8 makes it longer
// than the line).
var ErrTooLarge = errors.New("event too large")

// NormalizeInfo is NormalizeTime that also reports how many
// invalid UTF-8 bytes were replaced. The compact form is never longer than
// the line, except by the replacements (one byte becomes six); limit > 0
// bounds that growth: a string whose replacements would make out longer
// than limit bytes refuses the event with an error wrapping ErrTooLarge,
// without growing dst for it. So a dst with a capacity of max(len(line),
// limit) is never reallocated.
func NormalizeInfo(dst, line []byte, limit int) (out []byte, info Info, err error) {
	sc := scan{time: true, limit: limit}
	return normalizeInfo(dst, line, &sc)
}

// NormalizeMembers is NormalizeInfo that also locates the top-level
// members of its output in info.Members, in the same pass. They are
// appended to members[:0], so a caller that passes back the previous
// info.Members (or keeps members when that is nil) allocates nothing once
// it is large enough.
func NormalizeMembers(dst, line []byte, limit int, members []Member) (out []byte, info Info, err error) {
	sc := scan{time: true, limit: limit, capture: true, members: members[:0]}
	return normalizeInfo(dst, line, &sc)
}

func normalizeInfo(dst, line []byte, sc *scan) (out []byte, info Info, err error) {
	if out, err = normalize(dst, line, sc); err != nil {
		return out, Info{}, err
	}
	info.Time, info.TimeOK = sc.result()
	info.Replaced = sc.replaced
	if sc.capture && !sc.tooMany {
		info.Members = sc.members
	}
	return out, info, nil
}

// normalize implements Normalize and, when sc is not nil, fills sc
// for NormalizeInfo.
func normalize(dst, line []byte, sc *scan) ([]byte, error) {
	line = bytes.TrimPrefix(line, utf8BOM)
	line = bytes.TrimSpace(line) // also drops a trailing CR
	if len(line) == 0 {
		return dst[:0], errors.New("empty line")
	}
	if line[0] != '{' {
		return dst[:0], fmt.Errorf("not a JSON object: starts with %q", line[0])
	}
	if out, ok := appendCompact(dst[:0], line, sc); ok {
		return out, nil
	}
	if sc != nil && sc.overflow {
		return dst[:0], fmt.Errorf("%w: more than %d bytes once invalid UTF-8 is replaced", ErrTooLarge, sc.limit)
	}
	// Invalid (rare): let encoding/json say why, in its words. Should it
	// accept the line after all, its output is the reference, with invalid
	// UTF-8 replaced.
	buf := bytes.NewBuffer(dst[:0])
	if err := json.Compact(buf, line); err != nil {
		return dst[:0], fmt.Errorf("invalid JSON: %w", err)
	}
	out := buf.Bytes()
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte(`\ufffd`))
	}
	if sc != nil {
		*sc = scan{capture: sc.capture, members: sc.members[:0]}
		sc.ts, sc.tsOK = EventTime(out)
		if sc.capture {
			sc.members = appendMembers(sc.members, out)
			sc.tooMany = len(sc.members) > MaxMembers
		}
	}
	return out, nil
}

// appendMembers appends the top-level members of the compact object obj,
// found by walking it with SkipString and SkipValue, up to one more than
// MaxMembers: what appendCompact captures in its pass, for output it did
// not write.
func appendMembers(members []Member, obj []byte) []Member {
	if len(obj) == 0 || obj[0] != '{' {
		return members
	}
	for i := 1; len(members) <= MaxMembers; {
		if i < len(obj) && obj[i] == ',' {
			i++
		}
		if i >= len(obj) || obj[i] != '"' {
			return members
		}
		kEnd := SkipString(obj, i)
		if kEnd < 0 || kEnd >= len(obj) || obj[kEnd] != ':' {
			return members
		}
		vEnd := SkipValue(obj, kEnd+1)
		if vEnd < 0 {
			return members
		}
		members = append(members, Member{Key: i + 1, KeyEnd: kEnd - 1, Value: kEnd + 1, ValueEnd: vEnd})
		i = vEnd
	}
	return members
}

// scan is what appendCompact collects on the way, when asked: what
// EventTime would find (the first top-level "timestamp" that parses, else
// the first top-level "datetime" string that parses) when time is set, the
// top-level members' positions in the output when capture is set, and
// the invalid UTF-8 bytes it replaced. limit > 0 bounds the output.
type scan struct {
	time       bool
	capture    bool
	members    []Member
	tooMany    bool // more than MaxMembers: members is incomplete
	ts, dt     time.Time
	tsOK, dtOK bool
	replaced   int
	limit      int
	overflow   bool // the output would have been longer than limit
}

// member looks at one top-level member (key without quotes, value as
// written), as EventTime does.
func (s *scan) member(key, val []byte) {
	if s.tsOK {
		return // EventTime stops at the first usable timestamp
	}
	switch string(key) {
	case "timestamp":
		s.ts, s.tsOK = parseTimestamp(val)
	case "datetime":
		if !s.dtOK && len(val) >= 2 && val[0] == '"' {
			s.dt, s.dtOK = ParseDateTime(val[1 : len(val)-1])
		}
	}
}

func (s *scan) result() (time.Time, bool) {
	if s.tsOK {
		return s.ts, true
	}
	return s.dt, s.dtOK
}

// EventTime returns the event's own time, in UTC, read from the TOP-LEVEL
// key "timestamp" (API 2.0: epoch milliseconds, as a JSON number or a
// numeric string; an RFC 3339 string is accepted too) or, failing that,
// "datetime" (API 1.0: "2017-05-26T16:47:41+0100"; offsets "Z", "+01:00",
// "-0400", "+01" or none, meaning UTC; optional fraction of seconds). ok is
// false when neither key holds a usable time.
//
// obj must be a JSON object, normally the output of Normalize. Only
// top-level keys are looked at: nested objects and strings mentioning those
// names are skipped without being decoded, and nothing is allocated.
func EventTime(obj []byte) (time.Time, bool) {
	var dt time.Time
	var dtOK bool
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return time.Time{}, false
	}
	i++
	for {
		i = skipWS(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			break
		}
		if obj[i] == ',' {
			i++
			continue
		}
		if obj[i] != '"' {
			break // malformed
		}
		kEnd := SkipString(obj, i)
		if kEnd < 0 {
			break
		}
		key := obj[i+1 : kEnd-1]
		i = skipWS(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			break
		}
		i = skipWS(obj, i+1)
		vEnd := SkipValue(obj, i)
		if vEnd < 0 {
			break
		}
		val := obj[i:vEnd]
		switch string(key) { // no allocation: compiler optimises string(b) in switch
		case "timestamp":
			if t, ok := parseTimestamp(val); ok {
				return t, true
			}
		case "datetime":
			if !dtOK && len(val) >= 2 && val[0] == '"' {
				dt, dtOK = ParseDateTime(val[1 : len(val)-1])
			}
		}
		i = vEnd
	}
	return dt, dtOK
}

// TimeScan finds an event's time by EventTime's rule from top-level
// members given one at a time, for a source that holds the members without
// a JSON object (API 1.0 key_value pairs with the raw body). The zero value
// is ready to use.
type TimeScan struct{ sc scan }

// String offers one member whose value is the string text (unquoted,
// unescaped). Offer only the first member of each name: EventTime reads
// the JSON that renames repeated names.
func (t *TimeScan) String(key, text []byte) {
	s := &t.sc
	if s.tsOK {
		return
	}
	switch string(key) {
	case "timestamp":
		s.ts, s.tsOK = parseTimestampText(text)
	case "datetime":
		if !s.dtOK {
			s.dt, s.dtOK = ParseDateTime(text)
		}
	}
}

// Result returns the time found, as EventTime would: ok is false when no
// member held a usable time.
func (t *TimeScan) Result() (time.Time, bool) { return t.sc.result() }

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// SkipString returns the index just past the JSON string starting at
// b[i]=='"', or -1. Escapes are skipped, not checked. The formatter's field
// scans (forwarder/syslogfmt) use it too.
func SkipString(b []byte, i int) int {
	j := i + 1
	for {
		for j+8 <= len(b) { // eight bytes at a time while none is '"' or '\\'
			w := binary.LittleEndian.Uint64(b[j:])
			if m := hasZero(w^quote64) | hasZero(w^bslash); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			return -1
		}
		switch b[j] {
		case '\\':
			j += 2
		case '"':
			return j + 1
		default:
			j++
		}
	}
}

// SkipValue returns the index just past the JSON value starting at
// b[i] (strings, objects and arrays skipped whole; scalars up to the next
// ',', '}', ']' or white space), or -1 when malformed.
func SkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := SkipString(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// parseTimestamp reads epoch milliseconds from a JSON number or string.
func parseTimestamp(val []byte) (time.Time, bool) {
	if len(val) >= 2 && val[0] == '"' {
		return parseTimestampText(val[1 : len(val)-1])
	}
	return parseEpochMillis(val)
}

// parseTimestampText reads the text of a "timestamp" string: epoch
// milliseconds, or a date-time.
func parseTimestampText(val []byte) (time.Time, bool) {
	if len(val) > 0 && (val[0] < '0' || val[0] > '9') && val[0] != '-' {
		return ParseDateTime(val)
	}
	if len(val) >= 10 && val[4] == '-' {
		return ParseDateTime(val)
	}
	return parseEpochMillis(val)
}

// parseEpochMillis reads epoch milliseconds written as a JSON number.
func parseEpochMillis(val []byte) (time.Time, bool) {
	if len(val) == 0 {
		return time.Time{}, false
	}
	var ms int64
	neg := false
	j := 0
	if val[0] == '-' {
		neg = true
		j = 1
	}
	digits := 0
	for ; j < len(val) && val[j] >= '0' && val[j] <= '9'; j++ {
		if digits >= 18 {
			return time.Time{}, false
		}
		ms = ms*10 + int64(val[j]-'0')
		digits++
	}
	if digits == 0 {
		return time.Time{}, false
	}
	if j < len(val) { // fraction or exponent: rare, take the slow path
		f, err := strconv.ParseFloat(string(val), 64)
		if err != nil || f > 1e17 || f < -1e17 {
			return time.Time{}, false
		}
		return time.UnixMilli(int64(f)).UTC(), true
	}
	if neg {
		ms = -ms
	}
	return time.UnixMilli(ms).UTC(), true
}

// ParseDateTime parses an ISO 8601 date-time such as
// "2017-05-26T16:47:41+0100" (the spelling of Mimecast API 1.0) and
// returns it in UTC. Accepted: a 'T' or a
// space between date and time, an optional fraction of seconds, and an
// offset "Z", "+hh:mm", "+hhmm", "+hh" (or '-'), or none (UTC).
func ParseDateTime(b []byte) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		i++
		scale := 100000000
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if scale > 0 {
				nsec += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	offset := 0
	rest := b[i:]
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case rest[0] == '+' || rest[0] == '-':
		var hh, mm int
		var ok bool
		switch len(rest) {
		case 3: // +hh
			hh, ok = num(rest[1:3])
		case 5: // +hhmm
			hh, ok = num(rest[1:3])
			if ok {
				mm, ok = num(rest[3:5])
			}
		case 6: // +hh:mm
			if rest[3] != ':' {
				return time.Time{}, false
			}
			hh, ok = num(rest[1:3])
			if ok {
				mm, ok = num(rest[4:6])
			}
		}
		if !ok || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		offset = hh*3600 + mm*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// maxDepth is the deepest nesting of objects and arrays accepted, as in
// encoding/json (whose scanner refuses depth 10001).
const maxDepth = 10000

// SWAR constants: one byte repeated over a 64-bit word.
const (
	lsb64   = 0x0101010101010101
	msb64   = 0x8080808080808080
	quote64 = '"' * lsb64
	bslash  = '\\' * lsb64
	space64 = ' ' * lsb64
)

// appendCompact is the hot path of Normalize: it validates src as
// exactly one JSON value surrounded by optional JSON whitespace, with the
// same verdict as encoding/json's scanner (json.Valid), and appends to dst
// what json.Compact would: src without its insignificant whitespace, every
// other byte copied unchanged, except that in a string holding invalid
// UTF-8 each such byte becomes \ufffd. Input that is already compact is
// validated and copied in one append. ok is false when src is not valid
// JSON (or sc.limit is exceeded: sc.overflow); dst is then returned
// unchanged in length.
//
// When sc is not nil, it counts the replaced bytes and, with sc.time, every
// "timestamp" and "datetime" member of the top-level object with a scalar
// value is passed to sc.member; with sc.capture it locates the top-level
// members.
//
// An object is first tried by the fast path appendFlat, which vouches for
// a compact one; whatever it does not vouch for goes to the general
// machine, appendGeneral, from the start.
func appendCompact(dst, src []byte, sc *scan) (out []byte, ok bool) {
	if sc == nil {
		sc = &scan{}
	}
	if len(src) > 0 && src[0] == '{' {
		if out, ok = appendFlat(dst, src, sc); ok {
			return out, true
		}
		sc.reset()
	}
	return appendGeneral(dst, src, sc, maxDepth)
}

// reset forgets what a failed appendFlat collected, keeping the request
// (time, capture, limit) and the members' memory.
func (s *scan) reset() {
	*s = scan{time: s.time, capture: s.capture, members: s.members[:0], limit: s.limit}
}

// appendGeneral is appendCompact without its fast path, for values nested
// at most maxDepth levels deep.
func appendGeneral(dst, src []byte, sc *scan, maxDepth int) (out []byte, ok bool) {
	orig := len(dst)
	var small [4]uint64 // container kinds (bit set = array) for the first 256 levels
	kinds := small[:]
	depth := 0
	start := 0 // src[start:i] is still to be copied
	i := 0
	n := len(src)
	var key []byte // of the top-level member whose value is being read, for sc
	vStart := -1   // start of that value when it is a scalar, else -1
	capture := sc != nil && sc.capture
	var m Member      // the top-level member being read, for sc.members
	inMember := false // m.Key and m.KeyEnd are set, its value not yet read

	// skipSpace moves i past JSON whitespace, copying what precedes it.
	skipSpace := func() {
		if i < n && isSpace(src[i]) {
			dst = append(dst, src[start:i]...)
			for i < n && isSpace(src[i]) {
				i++
			}
			start = i
		}
	}

value:
	if i < n && src[i] <= ' ' {
		skipSpace()
	}
	if i >= n {
		return dst[:orig], false
	}
	if key != nil {
		vStart = i
	}
	if inMember && depth == 1 {
		m.Value = len(dst) + i - start // where src[i] lands in the output
	}
	switch c := src[i]; {
	case c == '{':
		key, vStart = nil, -1 // a container value holds no time
		if depth >= maxDepth {
			return dst[:orig], false
		}
		if depth>>6 >= len(kinds) {
			kinds = append(kinds, 0)
		}
		kinds[depth>>6] &^= 1 << (depth & 63)
		depth++
		i++
		if i < n && src[i] <= ' ' {
			skipSpace()
		}
		if i < n && src[i] == '}' {
			depth--
			i++
			goto next
		}
		goto key
	case c == '[':
		key, vStart = nil, -1 // a container value holds no time
		if depth >= maxDepth {
			return dst[:orig], false
		}
		if depth>>6 >= len(kinds) {
			kinds = append(kinds, 0)
		}
		kinds[depth>>6] |= 1 << (depth & 63)
		depth++
		i++
		if i < n && src[i] <= ' ' {
			skipSpace()
		}
		if i < n && src[i] == ']' {
			depth--
			i++
			goto next
		}
		goto value
	case c == '"':
		k := i
		var bad bool
		if i, bad = scanString(src, i); i < 0 {
			return dst[:orig], false
		}
		if bad {
			if dst, ok = appendFixedString(dst, src[start:k], src[k:i], n-i, sc); !ok {
				return dst[:orig], false
			}
			start = i
		}
	case c == '-' || c >= '0' && c <= '9':
		if i = scanNumber(src, i); i < 0 {
			return dst[:orig], false
		}
	case c == 't':
		if n-i < 4 || string(src[i:i+4]) != "true" {
			return dst[:orig], false
		}
		i += 4
	case c == 'f':
		if n-i < 5 || string(src[i:i+5]) != "false" {
			return dst[:orig], false
		}
		i += 5
	case c == 'n':
		if n-i < 4 || string(src[i:i+4]) != "null" {
			return dst[:orig], false
		}
		i += 4
	default:
		return dst[:orig], false
	}

next: // after a value: a separator, the end of a container, or the end
	if vStart >= 0 {
		sc.member(key, src[vStart:i])
		vStart = -1
	}
	if inMember && depth == 1 {
		m.ValueEnd = len(dst) + i - start
		if len(sc.members) < MaxMembers {
			sc.members = append(sc.members, m)
		} else {
			sc.tooMany = true
		}
		inMember = false
	}
	key = nil
	if i < n && src[i] <= ' ' {
		skipSpace()
	}
	if depth == 0 {
		if i != n {
			return dst[:orig], false
		}
		return append(dst, src[start:]...), true
	}
	if i >= n {
		return dst[:orig], false
	}
	if kinds[(depth-1)>>6]&(1<<((depth-1)&63)) != 0 { // in an array
		switch src[i] {
		case ',':
			i++
			goto value
		case ']':
			depth--
			i++
			goto next
		}
		return dst[:orig], false
	}
	switch src[i] {
	case ',':
		i++
		if i < n && src[i] <= ' ' {
			skipSpace()
		}
		goto key
	case '}':
		depth--
		i++
		goto next
	}
	return dst[:orig], false

key: // an object member's name, then ':'
	if i >= n || src[i] != '"' {
		return dst[:orig], false
	}
	{
		k := i
		if capture && depth == 1 {
			m.Key = len(dst) + k + 1 - start
			inMember = true
		}
		var bad bool
		if i, bad = scanString(src, i); i < 0 {
			return dst[:orig], false
		}
		if bad {
			if dst, ok = appendFixedString(dst, src[start:k], src[k:i], n-i, sc); !ok {
				return dst[:orig], false
			}
			start = i
		} else if sc != nil && sc.time && depth == 1 {
			if k := src[k+1 : i-1]; string(k) == "timestamp" || string(k) == "datetime" {
				key = k
			}
		}
		if capture && depth == 1 {
			m.KeyEnd = len(dst) + i - 1 - start
		}
	}
	if i < n && src[i] <= ' ' {
		skipSpace()
	}
	if i >= n || src[i] != ':' {
		return dst[:orig], false
	}
	i++
	goto value
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanString validates the JSON string starting at src[i] == '"' and
// returns the index just past its closing quote, or -1. As encoding/json,
// it refuses control bytes (< 0x20) and unknown escapes, and accepts any
// other byte; bad reports bytes that are not valid UTF-8 (see
// appendFixedString).
func scanString(src []byte, i int) (end int, bad bool) {
	return scanStringFrom(src, i+1)
}

// scanStringFrom is scanString from src[i], inside the string.
func scanStringFrom(src []byte, i int) (end int, bad bool) {
	n := len(src)
	for {
		// Eight bytes at a time while none is '"', '\\', a control byte or
		// a non-ASCII byte.
		for i+8 <= n {
			if m := stopMask(binary.LittleEndian.Uint64(src[i:])); m != 0 {
				// The lowest flag is exact.
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= n {
			return -1, bad
		}
		switch c := src[i]; {
		case c == '"':
			return i + 1, bad
		case c == '\\':
			if i+1 >= n {
				return -1, bad
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n || !isHex(src[i+2]) || !isHex(src[i+3]) || !isHex(src[i+4]) || !isHex(src[i+5]) {
					return -1, bad
				}
				i += 6
			default:
				return -1, bad
			}
		case c < ' ':
			return -1, bad
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				bad = true
			}
			i += size
		default:
			i++
		}
	}
}

// replacement is what encoding/json's encoder writes for a byte of invalid
// UTF-8.
const replacement = `\ufffd`

// appendFixedString appends pending (bytes to copy as they are) and then the
// valid JSON string str (quotes included) with each byte of invalid UTF-8
// replaced by \ufffd, counting them in sc. ok is false, with sc.overflow,
// when that and the rest bytes of input still to come (which give at most
// as many bytes of output, or fail again here) could make the output longer
// than sc.limit (> 0); dst is then unchanged in length.
func appendFixedString(dst, pending, str []byte, rest int, sc *scan) ([]byte, bool) {
	bad := 0
	for i := 0; i < len(str); {
		r, size := utf8.DecodeRune(str[i:])
		if r == utf8.RuneError && size == 1 {
			bad++
		}
		i += size
	}
	if sc != nil {
		if need := len(dst) + len(pending) + len(str) + bad*(len(replacement)-1) + rest; sc.limit > 0 && need > sc.limit {
			sc.overflow = true
			return dst, false
		}
		sc.replaced += bad
	}
	dst = append(dst, pending...)
	last := 0
	for i := 0; i < len(str); {
		r, size := utf8.DecodeRune(str[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, str[last:i]...)
			dst = append(dst, replacement...)
			last = i + 1
		}
		i += size
	}
	return append(dst, str[last:]...), true
}

// hasZero flags (high bit set) the zero bytes of w; a flag above a true one
// may be spurious.
func hasZero(w uint64) uint64 { return (w - lsb64) & ^w & msb64 }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber validates the JSON number starting at src[i] and returns the
// index just past it, or -1. What follows the number is not looked at.
func scanNumber(src []byte, i int) int {
	n := len(src)
	if src[i] == '-' {
		i++
		if i >= n {
			return -1
		}
	}
	switch {
	case src[i] == '0':
		i++
	case src[i] >= '1' && src[i] <= '9':
		i++
		for i < n && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < n && src[i] == '.' {
		i++
		if i >= n || src[i] < '0' || src[i] > '9' {
			return -1
		}
		for i < n && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	}
	if i < n && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < n && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= n || src[i] < '0' || src[i] > '9' {
			return -1
		}
		for i < n && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	}
	return i
}
