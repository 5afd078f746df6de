package syslogfmt

import (
	"strconv"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
)

// span is the content (between the quotes, still escaped) of one JSON
// string value: inner[start:end].
type span struct{ start, end int }

// stringValues returns the spans of every string value (not object keys),
// at any depth, of the compact JSON text b. ok is false if b is not
// tokenizable (an unterminated string).
func stringValues(b []byte) (spans []span, ok bool) {
	for i := 0; i < len(b); {
		if b[i] != '"' {
			i++
			continue
		}
		end := jsonl.SkipString(b, i)
		if end < 0 {
			return nil, false
		}
		if end >= len(b) || b[end] != ':' {
			spans = append(spans, span{i + 1, end - 1})
		}
		i = end
	}
	return spans, true
}

// cutPoint returns the largest p ≤ limit such that s[:p] (the escaped
// content of a JSON string) ends neither inside a multibyte UTF-8 sequence
// nor inside an escape sequence, and does not end with a UTF-16 high
// surrogate escape whose low half was cut off.
func cutPoint(s []byte, limit int) int {
	if limit >= len(s) {
		return len(s)
	}
	if limit < 0 {
		return 0
	}
	p := utf8Boundary(s, limit)
	// Inside "\x": the byte before p is an escaping backslash.
	if oddBackslashes(s, p-1) {
		p--
	} else {
		// Inside "\uXXXX": a 'u' 1–4 bytes back that follows an escaping
		// backslash.
		for k := 1; k <= 4 && p-k >= 1; k++ {
			if q := p - k; s[q] == 'u' && oddBackslashes(s, q-1) {
				p = q - 1
				break
			}
		}
	}
	// Do not keep a high surrogate whose low surrogate is cut off: some
	// decoders (cJSON in Wazuh) reject the whole document.
	if p >= 6 && s[p-5] == 'u' && (s[p-4] == 'd' || s[p-4] == 'D') &&
		isHighSurrogateDigit(s[p-3]) && oddBackslashes(s, p-6) {
		p -= 6
	}
	return p
}

func isHighSurrogateDigit(c byte) bool {
	return c == '8' || c == '9' || c == 'a' || c == 'b' || c == 'A' || c == 'B'
}

// oddBackslashes reports whether s[i] is a backslash that starts an escape
// sequence, i.e. the run of backslashes ending at s[i] has odd length.
func oddBackslashes(s []byte, i int) bool {
	n := 0
	for ; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// shrunkLen returns the new length of a string value of content s when cut
// at limit bytes, and the cut position (len(s) if left alone: cutting only
// happens when the cut string plus marker is shorter).
func shrunkLen(s []byte, limit int) (newLen, cut int) {
	if len(s) <= limit {
		return len(s), len(s)
	}
	cut = cutPoint(s, limit)
	if n := cut + markerLen(len(s)-cut); n < len(s) {
		return n, cut
	}
	return len(s), len(s)
}

// appendShrunk appends inner (the members of the record's JSON object) with
// its longest string values shortened so that at most budget bytes are
// appended. It finds, by binary search, the largest length limit L such
// that cutting every string value longer than L to L bytes (at a UTF-8 and
// escape boundary) plus a marker fits; the total length is monotone in L.
// ok is false if even L = 0 does not fit (e.g. thousands of numbers) or
// inner cannot be tokenized; dst is then unchanged in length.
func appendShrunk(dst, inner []byte, budget int) ([]byte, bool) {
	if budget <= 0 {
		return dst, false
	}
	spans, ok := stringValues(inner)
	if !ok || len(spans) == 0 {
		return dst, false
	}
	longest := 0
	for _, sp := range spans {
		longest = max(longest, sp.end-sp.start)
	}
	total := func(limit int) int {
		n := len(inner)
		for _, sp := range spans {
			s := inner[sp.start:sp.end]
			nl, _ := shrunkLen(s, limit)
			n -= len(s) - nl
		}
		return n
	}
	if total(0) > budget {
		return dst, false
	}
	lo, hi := 0, longest // total(lo) fits; find the largest fitting limit
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if total(mid) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	start := len(dst)
	prev := 0
	for _, sp := range spans {
		s := inner[sp.start:sp.end]
		_, cut := shrunkLen(s, lo)
		if cut == len(s) {
			continue
		}
		dst = append(dst, inner[prev:sp.start+cut]...)
		dst = appendMarker(dst, len(s)-cut)
		prev = sp.end
	}
	dst = append(dst, inner[prev:]...)
	if len(dst)-start > budget { // cannot happen (total is exact); stay safe
		return dst[:start], false
	}
	return dst, true
}

// appendFallback appends the body used when shortening string values cannot
// make the message fit:
//
//	{"mimecast":{"logType":"<type>","truncated":true,"originalBytes":<len(JSON)>,"head":"<start of the original JSON, as a JSON string>…[truncated N bytes]"}}
//
// in at most budget bytes (guaranteed by New's worst-case check). logType is
// cut to 64 bytes.
func appendFallback(dst []byte, typ string, js []byte, budget int) []byte {
	start := len(dst)
	dst = append(dst, jsonPrefix...)
	t := appendJSONStringContent(nil, typ)
	if len(t) > maxFallbackTypeLen {
		t = t[:cutPoint(t, maxFallbackTypeLen)]
	}
	dst = append(dst, t...)
	dst = append(dst, `","truncated":true,"originalBytes":`...)
	dst = strconv.AppendInt(dst, int64(len(js)), 10)
	dst = append(dst, `,"head":"`...)
	room := budget - (len(dst) - start) - markerLen(len(js)) - len(`"}}`)
	used, i := 0, 0
	for i < len(js) {
		c := js[i]
		switch {
		case c == '"' || c == '\\':
			if used+2 > room {
				break
			}
			dst = append(dst, '\\', c)
			used += 2
			i++
			continue
		case c < 0x20:
			if used+6 > room {
				break
			}
			dst = append(dst, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xF))
			used += 6
			i++
			continue
		default:
			size := 1
			if c >= utf8.RuneSelf {
				_, size = utf8.DecodeRune(js[i:])
			}
			if used+size > room {
				break
			}
			dst = append(dst, js[i:i+size]...)
			used += size
			i += size
			continue
		}
		break // the next character does not fit
	}
	dst = appendMarker(dst, len(js)-i)
	return append(dst, `"}}`...)
}
