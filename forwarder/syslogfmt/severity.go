package syslogfmt

import (
	"bytes"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// Syslog severities used by Severity (RFC 5424 §6.2.1).
const (
	SeverityWarning       = 4
	SeverityNotice        = 5
	SeverityInformational = 6
)

// Severity returns the syslog severity of r according to the table in the
// package documentation. It reads only top-level fields, with
// case-sensitive names, without allocating: those of r.Fields when the
// source located them (see source.Record.Fields), else those of r.JSON in
// one pass.
func Severity(r *source.Record) int {
	switch r.Type {
	case "spam":
		return SeverityNotice
	case "av", "url protect", "attachment protect", "impersonation protect",
		"internal email protect", "receipt", "process", "delivery":
	default:
		return SeverityInformational
	}
	var f fields
	if len(r.Fields) == 0 {
		f.scan(r.JSON)
	} else {
		f.fromFields(r.Fields, len(r.JSON) == 0)
	}
	switch r.Type {
	case "av":
		if present(f.virus) {
			return SeverityWarning
		}
		return SeverityNotice
	case "url protect":
		if oneOf(f.action, "block", "blocked") || oneOf(f.blockReason, "malicious") || oneOf(f.urlCategory, "blocked") {
			return SeverityWarning
		}
		return SeverityInformational
	case "attachment protect":
		if oneOf(f.result, "safe", "clean") {
			return SeverityInformational
		}
		return SeverityWarning
	case "impersonation protect":
		if oneOf(f.taggedMalicious, "true") {
			return SeverityWarning
		}
		return SeverityNotice
	case "internal email protect":
		if present(f.urlCategory) || present(f.scanResult) || present(f.virus) {
			return SeverityWarning
		}
		return SeverityNotice
	case "receipt":
		if contains(f.rejectionType, "virus") || contains(f.rejectionType, "malicious") {
			return SeverityWarning
		}
		if oneOf(f.action, "rej") || spamVerdict(f.spamDetail) {
			return SeverityNotice
		}
		return SeverityInformational
	case "process":
		if oneOf(f.action, "hld", "hold") {
			return SeverityNotice
		}
		return SeverityInformational
	case "delivery":
		if oneOf(f.delivered, "false") || present(f.rejectionType) {
			return SeverityNotice
		}
		return SeverityInformational
	}
	return SeverityInformational
}

// spamVerdict reports whether a spamProcessingDetail value (a nested
// object, or the same object as an escaped JSON string) holds the verdict
// "decision":"SPAM".
func spamVerdict(v []byte) bool {
	for {
		i := bytes.Index(v, []byte("decision"))
		if i < 0 {
			return false
		}
		v = v[i+len("decision"):]
		if bytes.HasPrefix(v, []byte(`":"SPAM"`)) || bytes.HasPrefix(v, []byte(`\":\"SPAM\"`)) {
			return true
		}
	}
}

// fields holds the raw values (string content without quotes, or the
// literal) of the top-level fields Severity looks at; nil when absent.
type fields struct {
	action, virus, urlCategory, blockReason, result, taggedMalicious,
	scanResult, rejectionType, delivered, spamDetail []byte
}

// fromFields fills f from Record.Fields. Of a repeated key the first
// value counts when firstWins (API 1.0 pairs without JSON: the JSON form
// renames the later ones), else the last (the members of a JSON object, as
// scan reads them from the JSON).
func (f *fields) fromFields(members []source.Field, firstWins bool) {
	for _, m := range members {
		if p := f.slot(m.Key); p != nil && (!firstWins || *p == nil) {
			*p = m.Value
			if *p == nil {
				*p = []byte{}
			}
		}
	}
}

// slot returns where the value of the member named k goes, or nil.
func (f *fields) slot(k []byte) *[]byte {
	switch string(k) {
	case "action", "Act", "Action":
		return &f.action
	case "virusFound", "Virus":
		return &f.virus
	case "urlCategory", "UrlCategory":
		return &f.urlCategory
	case "blockReason", "reason":
		return &f.blockReason
	case "result", "Result":
		return &f.result
	case "taggedMalicious", "TaggedMalicious":
		return &f.taggedMalicious
	case "scanResults", "ScanResultInfo":
		return &f.scanResult
	case "rejectionType", "RejType":
		return &f.rejectionType
	case "delivered", "Delivered":
		return &f.delivered
	case "spamProcessingDetail", "SpamProcessingDetail":
		return &f.spamDetail
	}
	return nil
}

func (f *fields) scan(obj []byte) {
	// Walk the top-level members of a compact JSON object without
	// decoding it; stop early on malformed input, never panic. Keys are
	// the raw bytes between the quotes (escapes not decoded, so a key
	// spelled with escapes never matches). String values are kept without
	// their quotes (still escaped), other values as their literal text.
	if len(obj) == 0 || obj[0] != '{' {
		return
	}
	for i := 1; ; {
		if i < len(obj) && obj[i] == ',' {
			i++
		}
		if i >= len(obj) || obj[i] != '"' {
			return
		}
		end := jsonl.SkipString(obj, i)
		if end < 0 || end >= len(obj) || obj[end] != ':' {
			return
		}
		k := obj[i+1 : end-1]
		i = end + 1
		var v []byte
		if i < len(obj) && obj[i] == '"' {
			vend := jsonl.SkipString(obj, i)
			if vend < 0 {
				return
			}
			v = obj[i+1 : vend-1]
			i = vend
		} else {
			vend := jsonl.SkipValue(obj, i)
			if vend < 0 {
				return
			}
			v = obj[i:vend]
			i = vend
		}
		if p := f.slot(k); p != nil {
			*p = v
		}
	}
}

// present reports a value that is neither absent, null, "", "null" nor "-".
func present(v []byte) bool {
	return v != nil && len(v) > 0 && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte("-"))
}

// oneOf reports whether v equals one of the words, ASCII case-insensitively.
func oneOf(v []byte, words ...string) bool {
	for _, w := range words {
		if len(v) == len(w) && bytes.EqualFold(v, []byte(w)) {
			return true
		}
	}
	return false
}

// contains reports whether v contains the lower-case ASCII word,
// case-insensitively.
func contains(v []byte, word string) bool {
	for i := 0; i+len(word) <= len(v); i++ {
		if bytes.EqualFold(v[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}
