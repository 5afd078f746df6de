package mimecast

import (
	"fmt"
	"strings"
)

// Types lists the canonical Mimecast log types in API 2.0 spelling, in a
// fixed order. They are the values of source.Record.Type for both APIs.
// The slice must not be modified.
var Types = []string{
	"receipt",
	"process",
	"delivery",
	"av",
	"spam",
	"internal email protect",
	"impersonation protect",
	"url protect",
	"attachment protect",
	"journal",
}

// StreamName returns the stream name of a log type: the type with every
// space replaced by '-' (e.g. "url protect" → "url-protect"). Stream names
// key cursor files and label metrics.
func StreamName(typ string) string {
	return strings.ReplaceAll(typ, " ", "-")
}

// CanonicalType returns the canonical type named by name, which may be a
// canonical type or a stream name in any letter case, with surrounding
// spaces ignored. ok is false when name names no known type.
func CanonicalType(name string) (typ string, ok bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	n = strings.ReplaceAll(n, "-", " ")
	n = strings.Join(strings.Fields(n), " ")
	for _, t := range Types {
		if t == n {
			return t, true
		}
	}
	return "", false
}

// ParseTypes parses a comma-separated list of log types, each given as a
// canonical type ("url protect") or a stream name ("url-protect"), in any
// letter case. The result holds canonical types in the order of Types,
// without duplicates. An empty list (or only blanks) is an error, and so is
// any unknown name: the error names every unknown one and lists the valid
// names.
func ParseTypes(csv string) ([]string, error) {
	want := make(map[string]bool)
	var unknown []string
	for _, part := range strings.Split(csv, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		t, ok := CanonicalType(part)
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", strings.TrimSpace(part)))
			continue
		}
		want[t] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown Mimecast log type(s) %s; valid types: %s (or the same with '-' for spaces)",
			strings.Join(unknown, ", "), strings.Join(Types, ", "))
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no Mimecast log type given; valid types: %s", strings.Join(Types, ", "))
	}
	out := make([]string, 0, len(want))
	for _, t := range Types {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}
