package syslogfmt

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// The MSG's "logType" is the record's type, written first by the formatter.
// An event with its own top-level "logType" member would give the mimecast
// object two keys of that name, which JSON receivers read differently (the
// first or the last wins, or the document is refused). The formatter's
// logType wins: the event's own member is kept, in place and with its value
// unchanged, under the first name of originalLogType, originalLogType2,
// originalLogType3, … that no top-level member of the event uses (one name
// per own logType member, should the event have several; see
// hasLogTypeKey for how the name must be written).
const (
	logTypeKey        = "logType"
	renamedLogTypeKey = "originalLogType"
)

// ownLogType reports whether the record's JSON, whose members are inner,
// has a top-level member named "logType" (hasLogTypeKey): from r.Fields
// when the source located the JSON's members, without reading inner.
func ownLogType(r *source.Record, inner []byte) bool {
	if len(r.JSON) == 0 || len(r.Fields) == 0 {
		return hasLogTypeKey(inner)
	}
	for _, f := range r.Fields {
		if string(f.Key) == logTypeKey {
			return true
		}
	}
	return false
}

// hasLogTypeKey reports whether inner (the members of a JSON object) has a
// top-level member named "logType" written without escapes, as every
// source writes its keys (Mimecast's JSON, jsonl.Normalize which
// keeps key bytes as received, keyvalue.AppendJSON which escapes no
// letter). A name that spells logType with \u escapes is not recognised:
// looking for \u escapes in every record would cost the hot path a fifth
// of the formatting time. The fast path, taken by nearly every record,
// looks for the rare 'T' with bytes.IndexByte (bytes.Index would stop at
// every '"').
func hasLogTypeKey(inner []byte) bool {
	if !hasLiteralLogType(inner) {
		return false
	}
	found := false
	eachMember(inner, func(key []byte, _, _ int) bool {
		found = string(key) == `"`+logTypeKey+`"`
		return !found
	})
	return found
}

// hasLiteralLogType reports whether b contains "logType" (quotes included).
func hasLiteralLogType(b []byte) bool {
	const before, after = `"log`, `ype"`
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], 'T')
		if j < 0 {
			return false
		}
		i += j
		if i >= len(before) && i+1+len(after) <= len(b) &&
			string(b[i-len(before):i]) == before && string(b[i+1:i+1+len(after)]) == after {
			return true
		}
	}
}

// renameLogTypes returns a copy of inner in which every top-level member
// named logType is renamed as the package documentation says.
func renameLogTypes(inner []byte) []byte {
	out := make([]byte, 0, len(inner)+16)
	prev := 0
	n := 1 // of the next name to try; names are never given twice
	eachMember(inner, func(key []byte, start, end int) bool {
		if string(key) != `"`+logTypeKey+`"` {
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
		end := jsonl.SkipString(inner, i)
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
		if i = jsonl.SkipValue(inner, i); i < 0 {
			return
		}
	}
}
