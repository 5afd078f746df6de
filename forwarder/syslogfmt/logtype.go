package syslogfmt

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// The MSG's "logType" is the record's type, written first by the formatter.
// An event with its own top-level "logType" member would give the mimecast
// object two keys of that name, which JSON receivers read differently (the
// first or the last wins, or the document is refused). The formatter's
// logType wins: the event's own member is kept, in place and with its value
// unchanged, under the first name of originalLogType, originalLogType2,
// originalLogType3, … that no top-level member of the event uses (one name
// per own logType member, should the event have several).
const (
	logTypeKey        = "logType"
	renamedLogTypeKey = "originalLogType"
)

var (
	logTypeQuoted = []byte(`"` + logTypeKey + `"`)
	unicodeEscape = []byte(`\u`)
)

// hasLogTypeKey reports whether inner (the members of a JSON object) has a
// top-level member named logType, however its name is escaped. Its fast
// path, taken by nearly every record, is two substring searches: without
// the literal "logType" nor a \u escape no key can spell it.
func hasLogTypeKey(inner []byte) bool {
	if !bytes.Contains(inner, logTypeQuoted) && !bytes.Contains(inner, unicodeEscape) {
		return false
	}
	found := false
	eachMember(inner, func(key []byte, _, _ int) bool {
		found = keyIs(key, logTypeKey)
		return !found
	})
	return found
}

// renameLogTypes returns a copy of inner in which every top-level member
// named logType is renamed as the package documentation says.
func renameLogTypes(inner []byte) []byte {
	out := make([]byte, 0, len(inner)+16)
	prev := 0
	n := 1 // of the next name to try; names are never given twice
	eachMember(inner, func(key []byte, start, end int) bool {
		if !keyIs(key, logTypeKey) {
			return true
		}
		var name string
		for {
			name = renamedLogTypeKey
			if n > 1 {
				name += strconv.Itoa(n)
			}
			n++
			if !hasKey(inner, name) {
				break
			}
		}
		out = append(out, inner[prev:start]...)
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, '"')
		prev = end
		return true
	})
	return append(out, inner[prev:]...)
}

// hasKey reports whether inner has a top-level member named name.
func hasKey(inner []byte, name string) bool {
	found := false
	eachMember(inner, func(key []byte, _, _ int) bool {
		found = keyIs(key, name)
		return !found
	})
	return found
}

// keyIs reports whether the JSON string key (quotes included) decodes to
// name.
func keyIs(key []byte, name string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key[1:len(key)-1]) == name
	}
	var s string
	return json.Unmarshal(key, &s) == nil && s == name
}

// eachMember calls fn with the name (a JSON string, quotes included) and
// its position inner[start:end] of every top-level member of inner, the
// members of a JSON object, until fn returns false or inner ends or is
// malformed.
func eachMember(inner []byte, fn func(key []byte, start, end int) bool) {
	i := 0
	for {
		for i < len(inner) && (isJSONSpace(inner[i]) || inner[i] == ',') {
			i++
		}
		if i >= len(inner) || inner[i] != '"' {
			return
		}
		end := mimecast.SkipJSONString(inner, i)
		if end < 0 || !fn(inner[i:end], i, end) {
			return
		}
		i = end
		for i < len(inner) && isJSONSpace(inner[i]) {
			i++
		}
		if i >= len(inner) || inner[i] != ':' {
			return
		}
		i++
		for i < len(inner) && isJSONSpace(inner[i]) {
			i++
		}
		if i = mimecast.SkipJSONValue(inner, i); i < 0 {
			return
		}
	}
}
