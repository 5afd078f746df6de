package jsonl

import (
	"encoding/binary"
	"math/bits"
)

// appendFlat is the fast path of appendCompact for the lines Mimecast
// sends: one object written compactly (no whitespace at its top level)
// whose values are mostly strings, numbers and literals. It does the work
// of the general machine (appendGeneral) for such a line in two loops
// over the top-level members: flatMembers reads the simple ones (plain
// ASCII strings, scalars) and locates them without writing anything, with
// few live variables and every string scanned inline eight bytes at a
// time; the others are read here, one at a time (escapes and non-ASCII
// text by scanStringFrom, invalid UTF-8 by appendFixedString, a nested
// object or array by appendGeneral). The output is src copied in one
// append, except where a string is fixed or a nested value compacted.
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
		// The simple members.
		var more bool
		if i, members, more = flatMembers(src, i, len(dst)-start, members, sc); !more {
			if i < 0 {
				goto fail
			}
			break // i is past the closing brace
		}

		// One member that is not: its name, then ':'.
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
		// The next member (back to the simple ones) or the end.
		if i < n && src[i] == ',' {
			i++
			continue
		}
		if i >= n || src[i] != '}' {
			goto fail
		}
		i++
		break
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

// flatMembers reads the members of the object src from src[i], at a
// name's opening quote, as long as they are simple (no escape or non-ASCII
// byte in the name or a string value, a scalar value, no whitespace), and
// locates them in members for an output where src[p] lands at p+off. It
// returns more with i at the start of the first member that is not
// simple, for appendFlat to read; else i just past the object's closing
// brace, or -1 when it found the line invalid or not compact.
func flatMembers(src []byte, i, off int, members []Member, sc *scan) (_ int, _ []Member, more bool) {
	n := len(src)
	capture, times := sc.capture, sc.time
	for {
		k := i // the name's opening quote
		if k >= n || src[k] != '"' {
			return k, members, true
		}
		ke := stringStop(src, k+1) // its closing quote
		if ke+2 >= n || src[ke] != '"' || src[ke+1] != ':' {
			return k, members, true
		}
		v := ke + 2
		switch c := src[v]; {
		case c == '"':
			e := stringStop(src, v+1)
			if e >= n || src[e] != '"' {
				return k, members, true
			}
			i = e + 1
		case c >= '0' && c <= '9' || c == '-':
			if i = scanNumber(src, v); i < 0 {
				return -1, members, false
			}
		case c == 'n' && n-v >= 4 && string(src[v:v+4]) == "null",
			c == 't' && n-v >= 4 && string(src[v:v+4]) == "true":
			i = v + 4
		case c == 'f' && n-v >= 5 && string(src[v:v+5]) == "false":
			i = v + 5
		default:
			return k, members, true
		}
		if times && ke-k <= 10 {
			if key := src[k+1 : ke]; string(key) == "timestamp" || string(key) == "datetime" {
				sc.member(key, src[v:i])
			}
		}
		if capture {
			if len(members) < MaxMembers {
				members = append(members, Member{Key: k + 1 + off, KeyEnd: ke + off, Value: v + off, ValueEnd: i + off})
			} else {
				sc.tooMany = true
			}
		}
		if i < n && src[i] == ',' {
			i++
			continue
		}
		if i < n && src[i] == '}' {
			return i + 1, members, false
		}
		return -1, members, false
	}
}

// stringStop returns the index of the first byte from src[i] on that is
// '"', '\\', a control byte or not ASCII, or, when there is none in the
// last whole eight bytes, the index of the first of the last (up to
// seven) bytes it did not look at. It is inlined into the loops.
func stringStop(src []byte, i int) int {
	for i+8 <= len(src) {
		if m := stopMask(binary.LittleEndian.Uint64(src[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// stopMask flags (high bit set) the bytes of w (eight bytes of a string,
// as loaded) that end a plain run of string: '"', '\\', a control byte
// (< 0x20) or a byte >= 0x80. Only the lowest flag is exact, which is all
// the scans need: below it, every byte is in [0x20, 0x80) and neither
// '"' nor '\\', so w^quote64 and w^bslash hold bytes in [1, 0x80) there,
// which minus one keep their high bit clear and borrow nothing, and w minus
// space64 borrows nothing either; the first byte that is one of those
// bytes is flagged by its own term.
func stopMask(w uint64) uint64 {
	q, b := w^quote64, w^bslash
	return ((q - lsb64) | (b - lsb64) | (w - space64) | w) & msb64
}
