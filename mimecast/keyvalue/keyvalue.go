// Package keyvalue parses Mimecast API 1.0 SIEM log lines in the
// "key_value" file format:
//
//	datetime=2017-05-26T16:47:41+0100|aCode=7O7I7MvGP1mj8plHRDuHEA|Subject=\message subject\|SpamProcessingDetail={"spf":{"info":"SPF_FAIL"}}|SpamScore=1
//
// and turns them into compact JSON objects whose values are all strings.
//
// # Grammar
//
// A line is a sequence of pairs "key=value" separated by '|'. A key is one
// or more of [A-Za-z0-9_.-]; the value is everything after the FIRST '='
// up to the separator, so values may contain '='. Because Mimecast does not
// escape '|' inside values, a '|' only separates two pairs when it is
// followed by a key and '=' ("|Key="); any other '|' belongs to the value.
// Two value forms are recognised before that rule applies:
//
//   - backslash-wrapped free text (Subject=\message subject\): the value
//     ends at the first '\' that is followed by "|Key=" or by the end of
//     the line; the wrapping backslashes are removed (Pair.Wrapped records
//     them) and the text inside, '|' included, is kept verbatim;
//   - embedded JSON (a value starting with '{' or '['): when a balanced
//     JSON-looking value (brackets counted outside strings) ends right
//     before "|Key=" or the end of the line, it is the value, whatever '|'
//     or "|Key=" its strings contain. The JSON is kept as text.
//
// Otherwise a value ends before the next "|Key=" or at the end of the line.
// A value that itself contains "|Key=" outside those two forms cannot be
// told apart from a separator and is split there.
//
// Parsing never panics, allocates only the returned slice, runs in time
// linear in the line's length (the look-ahead for wrapped and JSON values
// is bounded per line; see scanBudget) and is deterministic. For every line Parse accepts, Format(pairs) reproduces the
// line byte for byte (except a leading UTF-8 byte order mark, which Parse
// ignores).
package keyvalue

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Pair is one key=value pair of a line. Key and Value alias the line
// passed to Parse.
type Pair struct {
	Key []byte
	// Value is the value without its wrapping backslashes.
	Value []byte
	// Wrapped reports that the value was wrapped in backslashes
	// (Subject=\text\) in the line.
	Wrapped bool
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// ErrEmpty is returned by Parse for an empty line.
var ErrEmpty = errors.New("empty key_value line")

// Parse splits line (without its line terminator) into pairs, following
// the grammar in the package documentation. The only errors are an empty
// line (ErrEmpty) and a line that does not start with "key=": such a line
// holds no pair at all. The pairs alias line.
func Parse(line []byte) ([]Pair, error) {
	return parse(nil, line)
}

// AppendParse is Parse appending the pairs to dst[:0], so that a caller
// parsing line after line reuses one slice instead of allocating one per
// line.
func AppendParse(dst []Pair, line []byte) ([]Pair, error) {
	return parse(dst[:0], line)
}

func parse(pairs []Pair, line []byte) ([]Pair, error) {
	if len(line) >= 3 && line[0] == bom[0] && line[1] == bom[1] && line[2] == bom[2] {
		line = line[3:]
	}
	if len(line) == 0 {
		return nil, ErrEmpty
	}
	k := keyLen(line, 0)
	if k == 0 {
		return nil, fmt.Errorf("key_value line does not start with key=: starts with %s", preview(line))
	}
	if pairs == nil {
		pairs = make([]Pair, 0, countSeparators(line)+1)
	}
	budget := scanBudget(len(line))
	for i := 0; ; {
		// k > 0: checked for the first pair, by the separator test for
		// the others, which gives the key's length so that no key is
		// scanned twice.
		p := Pair{Key: line[i : i+k]}
		end, next := valueEnd(line, i+k+1, &p, &budget)
		pairs = append(pairs, p)
		if end >= len(line) {
			return pairs, nil
		}
		i, k = end+1, next // skip the '|'
	}
}

// scanBudget bounds the bytes that the look-ahead for wrapped and JSON
// values may scan in one line. Each such scan may run to the end of the
// line, so without a bound a crafted line (`a={|a={|a={|…`) would cost time
// quadratic in its length. Real lines never come near it; past it, values
// are split by the plain rule. The budget depends on the line only, so
// parsing stays deterministic.
func scanBudget(n int) int { return 8*n + 64<<10 }

// valueEnd finds the end of the value starting at line[v], fills p.Value and
// p.Wrapped, and returns the index of the separating '|' (or len(line)) and
// the length of the key that follows it (0 at the end of the line).
// budget is the look-ahead left (see scanBudget).
func valueEnd(line []byte, v int, p *Pair, budget *int) (end, nextKey int) {
	if v < len(line) && *budget > 0 {
		switch line[v] {
		case '\\':
			for j := v + 1; j < len(line); j++ {
				if *budget--; *budget <= 0 {
					break
				}
				if line[j] != '\\' {
					continue
				}
				k := sepKeyLen(line, j+1)
				if k > 0 || j+1 == len(line) {
					p.Value = line[v+1 : j]
					p.Wrapped = true
					return j + 1, k
				}
			}
		case '{', '[':
			if e := jsonEnd(line, v, budget); e > 0 {
				if k := sepKeyLen(line, e); k > 0 || e == len(line) {
					p.Value = line[v:e]
					return e, k
				}
			}
		}
	}
	if j, k := nextSep(line, v); j >= 0 {
		p.Value = line[v:j]
		return j, k
	}
	p.Value = line[v:]
	return len(line), 0
}

// jsonEnd returns the index just past the balanced bracketed value starting
// at line[i], or -1 (also when the budget runs out). Brackets inside
// strings are ignored.
func jsonEnd(line []byte, start int, budget *int) int {
	end := len(line)
	if *budget < end-start {
		end = start + *budget
	}
	depth := 0
	j := start
	for ; j < end; j++ {
		switch line[j] {
		case '"':
			for j++; j < end && line[j] != '"'; j++ {
				if line[j] == '\\' {
					j++
				}
			}
			if j >= end {
				*budget -= j - start
				return -1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				*budget -= j + 1 - start
				return j + 1
			}
		}
	}
	*budget -= j - start
	return -1
}

// sepKeyLen returns, when line[i] is a '|' that separates two pairs (one
// followed by a key and '='), the length of that key; else 0.
func sepKeyLen(line []byte, i int) int {
	if i < len(line) && line[i] == '|' {
		return keyLen(line, i+1)
	}
	return 0
}

// keyLen returns the length of the key starting at line[i] when it is
// followed by '=', else 0.
func keyLen(line []byte, i int) int {
	j := i
	for j < len(line) && keyBytes[line[j]] {
		j++
	}
	if j == i || j >= len(line) || line[j] != '=' {
		return 0
	}
	return j - i
}

// keyBytes marks the bytes a key is made of: [A-Za-z0-9_.-].
var keyBytes = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	return t
}()

// nextSep returns the index of the first separator at or after i and the
// length of the key that follows it, or -1 and 0.
func nextSep(line []byte, i int) (sep, key int) {
	for i < len(line) {
		j := bytes.IndexByte(line[i:], '|')
		if j < 0 {
			return -1, 0
		}
		if k := keyLen(line, i+j+1); k > 0 {
			return i + j, k
		}
		i += j + 1
	}
	return -1, 0
}

func countSeparators(line []byte) int {
	n := 0
	for i, _ := nextSep(line, 0); i >= 0; i, _ = nextSep(line, i+1) {
		n++
	}
	return n
}

func preview(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// Format appends the key_value form of pairs to dst and returns it: pairs
// joined by '|', each "key=value", wrapped values between backslashes. For
// pairs returned by Parse it reproduces the parsed line.
func Format(dst []byte, pairs []Pair) []byte {
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '|')
		}
		dst = append(dst, p.Key...)
		dst = append(dst, '=')
		if p.Wrapped {
			dst = append(dst, '\\')
		}
		dst = append(dst, p.Value...)
		if p.Wrapped {
			dst = append(dst, '\\')
		}
	}
	return dst
}

// AppendJSON appends pairs to dst as one compact JSON object and returns
// the extended slice. Keys appear in the line's order and every value is a
// JSON string holding the value's text (an embedded JSON value stays text;
// wrapping backslashes are not included). Bytes that are not valid UTF-8
// become U+FFFD; control characters are escaped, so the output holds no
// raw LF, CR or NUL.
//
// Duplicate keys: JSON objects should not repeat a name and most
// consumers keep only one of them, so, to lose nothing silently, the
// first occurrence keeps its name and every later one is renamed
// "<key>_2", "<key>_3", … (the first suffix not used by any key of the
// line nor already given). The output therefore always has exactly
// len(pairs) distinct names.
func AppendJSON(dst []byte, pairs []Pair) []byte {
	dst = append(dst, '{')
	if len(pairs) <= smallLine && !hasDuplicate(pairs) {
		for i, p := range pairs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, p.Key)
			dst = append(dst, ':')
			dst = appendString(dst, p.Value)
		}
		return append(dst, '}')
	}
	all := make(map[string]struct{}, len(pairs))
	for _, p := range pairs {
		all[string(p.Key)] = struct{}{}
	}
	emitted := make(map[string]struct{}, len(pairs))
	next := make(map[string]int) // next suffix to try, per duplicated key
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, ',')
		}
		if _, dup := emitted[string(p.Key)]; !dup {
			emitted[string(p.Key)] = struct{}{}
			dst = appendString(dst, p.Key)
		} else {
			dst = appendString(dst, []byte(rename(p.Key, all, emitted, next)))
		}
		dst = append(dst, ':')
		dst = appendString(dst, p.Value)
	}
	return append(dst, '}')
}

// smallLine is the number of pairs up to which duplicates are looked for
// by comparing keys pairwise instead of building maps.
const smallLine = 48

func hasDuplicate(pairs []Pair) bool {
	for i := 1; i < len(pairs); i++ {
		for _, q := range pairs[:i] {
			if string(q.Key) == string(pairs[i].Key) {
				return true
			}
		}
	}
	return false
}

// rename returns the first "<key>_<n>" (n >= 2) that is neither a key of
// the line (all) nor already emitted, and marks it emitted. next remembers
// where the search for each key stopped, so that many duplicates of one key
// cost linear, not quadratic, time.
func rename(key []byte, all, emitted map[string]struct{}, next map[string]int) string {
	n := max(next[string(key)], 2)
	for ; ; n++ {
		name := string(key) + "_" + strconv.Itoa(n)
		if _, ok := all[name]; ok {
			continue
		}
		if _, ok := emitted[name]; ok {
			continue
		}
		emitted[name] = struct{}{}
		next[string(key)] = n + 1
		return name
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
