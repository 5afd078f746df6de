package logs

import (
	"time"
)

// Endpoint describes one log endpoint.
type Endpoint struct {
	// Stream is the stream name: cursor file, metrics label, MSGID and the
	// logType of the message body.
	Stream string
	// Path is the API path, the same on API 2.0 and API 1.0.
	Path string
	// Metric is the metrics endpoint label of the calls.
	Metric string
	// Records names the array of data[0] that holds the records; empty
	// means the records are data[] itself.
	Records string
	// TimeField is the record's time field (a date-time string).
	TimeField string
	// FromField and ToField are the request's window fields in data[0].
	FromField, ToField string
	// OldestFirst is set when the endpoint accepts "oldestFirst": true.
	OldestFirst bool
	// Permission is what the API application needs, as Mimecast's console
	// words it.
	Permission string
	// MaxLookback is how far back the endpoint serves data.
	MaxLookback time.Duration
}

// day is 24 hours.
const day = 24 * time.Hour

// Endpoints returns the descriptions of every log stream, in a fixed order
// (see the files audit.go, dlp.go, ttp.go, release.go, archive.go).
func Endpoints() []Endpoint {
	return []Endpoint{Audit, DLP, TTPURL, TTPAttachment, TTPImpersonation, HeldRelease, ArchiveSearch}
}

// Streams returns the stream names of Endpoints, in order.
func Streams() []string {
	var out []string
	for _, e := range Endpoints() {
		out = append(out, e.Stream)
	}
	return out
}

// Lookup returns the endpoint of stream.
func Lookup(stream string) (Endpoint, bool) {
	for _, e := range Endpoints() {
		if e.Stream == stream {
			return e, true
		}
	}
	return Endpoint{}, false
}
