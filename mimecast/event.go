package mimecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// NormalizeEvent validates that line is exactly one JSON object and appends
// its compact form (insignificant whitespace removed; every string, number
// and key byte preserved as is, nothing re-escaped) to dst[:0]. A leading
// UTF-8 BOM, surrounding whitespace and a trailing CR are ignored. The error
// says why the line is not a JSON object; on error the returned slice is
// dst[:0].
func NormalizeEvent(dst, line []byte) ([]byte, error) {
	line = bytes.TrimPrefix(line, utf8BOM)
	line = bytes.TrimSpace(line) // also drops a trailing CR
	if len(line) == 0 {
		return dst[:0], errors.New("empty line")
	}
	if line[0] != '{' {
		return dst[:0], fmt.Errorf("not a JSON object: starts with %q", line[0])
	}
	buf := bytes.NewBuffer(dst[:0])
	if err := json.Compact(buf, line); err != nil {
		return dst[:0], fmt.Errorf("invalid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// EventTime returns the event's own time, in UTC, read from the TOP-LEVEL
// key "timestamp" (API 2.0: epoch milliseconds, as a JSON number or a
// numeric string; an RFC 3339 string is accepted too) or, failing that,
// "datetime" (API 1.0: "2017-05-26T16:47:41+0100"; offsets "Z", "+01:00",
// "-0400", "+01" or none, meaning UTC; optional fraction of seconds). ok is
// false when neither key holds a usable time.
//
// obj must be a JSON object, normally the output of NormalizeEvent. Only
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
		kEnd := skipString(obj, i)
		if kEnd < 0 {
			break
		}
		key := obj[i+1 : kEnd-1]
		i = skipWS(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			break
		}
		i = skipWS(obj, i+1)
		vEnd := skipValue(obj, i)
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

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i]=='"',
// or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at b[i], or
// -1 when malformed.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := skipString(b, j)
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
		val = val[1 : len(val)-1]
		if len(val) > 0 && (val[0] < '0' || val[0] > '9') && val[0] != '-' {
			return ParseDateTime(val)
		}
		if len(val) >= 10 && val[4] == '-' {
			return ParseDateTime(val)
		}
	}
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

// ParseDateTime parses a Mimecast date-time such as
// "2017-05-26T16:47:41+0100" and returns it in UTC. Accepted: a 'T' or a
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
