package logs

import (
	"fmt"
	"strings"
	"time"
)

// RequestLayout is the date-time format of the request's window fields
// (Mimecast's documentation: 2011-12-03T10:15:30+0000); always UTC.
const RequestLayout = "2006-01-02T15:04:05-0700"

var layouts = []string{
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.999999999-0700",
	time.RFC3339Nano, // Z, +00:00, +07:00, with or without fraction
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
}

// ParseTime parses a Mimecast date-time: offsets written +0000, +00:00,
// +0700 or Z, with or without fractional seconds; no offset means UTC. The
// result is in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised date-time %q", s)
}

// formatTime formats t for a request.
func formatTime(t time.Time) string { return t.UTC().Format(RequestLayout) }
