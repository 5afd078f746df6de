package jsonl

import (
	"encoding/binary"
	"math/bits"
)

// appendFlat is the fast path of appendCompact for the lines Mimecast
// sends: one object written compactly (no whitespace at its top level)
// whose values are mostly strings, numbers and literals. It does the work
// of the general machine (appendGeneral) for such a line in a loop over
// the top-level members that keeps its state in registers: every string
// is scanned inline eight bytes at a time, and only what is rare leaves
// the loop (escapes and non-ASCII text to scanStringFrom, invalid UTF-8 to
// appendFixedString, a nested object or array to appendGeneral).
//
// src must start with '{' and sc must not be nil. ok reports that the
// result is the general machine's: the same output appended to dst, and
// sc filled the same way. When ok is false (whitespace at the top level,
// invalid JSON, an event too large, ...) dst is returned unchanged in
// length, sc is to be reset (see scan.reset) and the general machine
// decides.
func appendFlat(dst, src []byte, sc *scan) (out []byte, ok bool) {
	orig := len(dst)
	n := len(src)
	start := 0 // src[start:i] is still to be copied to dst
	members := sc.members
	capture, times := sc.capture, sc.time
	var bad bool
	i := 1
	if n > 1 && src[1] == '}' {
		i = 2
		goto end
	}
	for {
		// The member's name, then ':'.
		if i >= n || src[i] != '"' {
			goto fail
		}
		k := i
		if j := stringStop(src, i+1); j < n && src[j] == '"' {
			i, bad = j+1, false
		} else if i, bad = scanStringFrom(src, j); i < 0 {
			goto fail
		}
		ke := i - 1 // src[k+1:ke] is the name
		m := Member{Key: len(dst) + k + 1 - start}
		timeKey := false
		if bad {
			if dst, ok = appendFixedString(dst, src[start:k], src[k:i], n-i, sc); !ok {
				goto fail
			}
			start = i
		} else if times {
			key := src[k+1 : ke]
			timeKey = string(key) == "timestamp" || string(key) == "datetime"
		}
		m.KeyEnd = len(dst) + i - 1 - start
		if i+1 >= n || src[i] != ':' {
			goto fail
		}
		i++

		// The value.
		v := i
		m.Value = len(dst) + i - start
		switch c := src[i]; {
		case c == '"':
			if j := stringStop(src, i+1); j < n && src[j] == '"' {
				i, bad = j+1, false
			} else if i, bad = scanStringFrom(src, j); i < 0 {
				goto fail
			}
			if bad {
				if dst, ok = appendFixedString(dst, src[start:v], src[v:i], n-i, sc); !ok {
					goto fail
				}
				start = i
			}
		case c >= '0' && c <= '9' || c == '-':
			if i = scanNumber(src, i); i < 0 {
				goto fail
			}
		case c == 'n':
			if n-i < 4 || string(src[i:i+4]) != "null" {
				goto fail
			}
			i += 4
		case c == 't':
			if n-i < 4 || string(src[i:i+4]) != "true" {
				goto fail
			}
			i += 4
		case c == 'f':
			if n-i < 5 || string(src[i:i+5]) != "false" {
				goto fail
			}
			i += 5
		case c == '{' || c == '[':
			// Rare in API 2.0: the general machine compacts the value
			// alone, one level deeper. SkipValue's end is the value's
			// only if that validates; else the general machine decides
			// for the whole line.
			j := SkipValue(src, i)
			if j < 0 {
				goto fail
			}
			dst = append(dst, src[start:i]...)
			var sub scan
			if dst, ok = appendGeneral(dst, src[i:j], &sub, maxDepth-1); !ok || sub.replaced > 0 && sc.limit > 0 {
				goto fail // (the limit is the general machine's to enforce)
			}
			sc.replaced += sub.replaced
			i, start, timeKey = j, j, false // a container holds no time
		default:
			goto fail
		}
		if timeKey {
			sc.member(src[k+1:ke], src[v:i])
		}
		if capture {
			if len(members) < MaxMembers {
				m.ValueEnd = len(dst) + i - start
				members = append(members, m)
			} else {
				sc.tooMany = true
			}
		}

		// The next member or the end.
		if i < n && src[i] == ',' {
			i++
			continue
		}
		if i < n && src[i] == '}' {
			i++
			break
		}
		goto fail
	}
end:
	if i != n {
		goto fail
	}
	sc.members = members
	return append(dst, src[start:]...), true
fail:
	sc.members = members[:0] // keep what append grew
	return dst[:orig], false
}

// stringStop returns the index of the first byte from src[i] on that is
// '"', '\\', a control byte or not ASCII, or, when there is none in the
// last whole eight bytes, the index of the first of the last (up to
// seven) bytes it did not look at. Inlined into appendFlat's loop.
func stringStop(src []byte, i int) int {
	for i+8 <= len(src) {
		w := binary.LittleEndian.Uint64(src[i:])
		q, b := w^quote64, w^bslash
		// As in scanStringFrom: the lowest flag is exact.
		if m := ((q-lsb64)&^q | (b-lsb64)&^b | (w - space64) | w) & msb64; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}
