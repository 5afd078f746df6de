package syslogfmt

import (
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// sample is one real Mimecast event turned into a Record.
type sample struct {
	name string
	rec  source.Record
}

// loadSamples turns every real sample event (mimecasttest.Events: the 23
// API 2.0 events, the 3 + 11 API 1.0 JSON events and the key_value line,
// with Raw) into a Record.
func loadSamples(t testing.TB) []sample {
	t.Helper()
	var out []sample
	for _, e := range mimecasttest.Events(t) {
		out = append(out, sample{name: e.Name, rec: source.Record{Type: e.Type, Time: e.Time, JSON: e.JSON, Raw: e.Raw}})
	}
	return out
}
