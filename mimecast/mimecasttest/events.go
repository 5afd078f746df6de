package mimecasttest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Event is one real sample event with what a source knows about it.
type Event struct {
	// Name is unique among the events of Events: "v2-<type>-<line>" (spaces
	// in the type become dashes), "v1-demisto-<n>", "v1-elastic-<line>" or
	// "v1-kv-<line>", numbered from 1.
	Name string
	// Type is the log type: the event's own type/eventType (API 2.0) or the
	// type its API 1.0 file names (receipt, process, url protect, ...).
	Type string
	// Time is the event's time: API 2.0 timestamp (epoch milliseconds) or
	// API 1.0 datetime (with its numeric offset).
	Time time.Time
	// JSON is the event as compact JSON. For the key_value event it is the
	// pairs as a JSON object of strings (keys sorted).
	JSON []byte
	// Raw is the original line of a key_value event; nil otherwise.
	Raw []byte
}

// v1Layout is the API 1.0 datetime layout.
const v1Layout = "2006-01-02T15:04:05-0700"

// AllEvents is the number of events Events returns.
const AllEvents = V2CGEvents + 3 + 11 + 1

// Events returns every SIEM sample event: the V2CGEvents API 2.0 events of
// V2CG, then the 3 events of V1JSONDemisto, the 11 of V1JSONElastic and the
// line of V1KeyValue (AllEvents in all).
func Events(tb testing.TB) []Event {
	tb.Helper()
	var out []Event
	for i, l := range V2CGLines(tb) {
		var m struct {
			Type      *string     `json:"type"`
			EventType *string     `json:"eventType"`
			Timestamp json.Number `json:"timestamp"`
		}
		if err := json.Unmarshal(l, &m); err != nil {
			tb.Fatalf("mimecasttest: %s line %d: %v", V2CG, i+1, err)
		}
		typ := ""
		if m.Type != nil {
			typ = *m.Type
		} else if m.EventType != nil {
			typ = *m.EventType
		}
		ms, err := m.Timestamp.Int64()
		if err != nil || typ == "" {
			tb.Fatalf("mimecasttest: %s line %d: type %q, timestamp %v", V2CG, i+1, typ, err)
		}
		out = append(out, Event{Name: "v2-" + strings.ReplaceAll(typ, " ", "-") + "-" + strconv.Itoa(i+1),
			Type: typ, Time: time.UnixMilli(ms), JSON: Compact(tb, l)})
	}
	var doc struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ReadFile(tb, V1JSONDemisto), &doc); err != nil {
		tb.Fatalf("mimecasttest: %s: %v", V1JSONDemisto, err)
	}
	for i, d := range doc.Data {
		out = append(out, v1Event(tb, "v1-demisto-"+strconv.Itoa(i+1), "receipt", d))
	}
	types := V1ElasticTypes()
	el := Lines(tb, V1JSONElastic)
	if len(el) != len(types) {
		tb.Fatalf("mimecasttest: %s has %d events, want %d", V1JSONElastic, len(el), len(types))
	}
	for i, l := range el {
		out = append(out, v1Event(tb, "v1-elastic-"+strconv.Itoa(i+1), types[i], l))
	}
	line := KeyValueLine(tb)
	obj := map[string]string{}
	for _, p := range strings.Split(string(line), "|") {
		k, v, _ := strings.Cut(p, "=")
		obj[k] = v
	}
	js, err := json.Marshal(obj)
	if err != nil {
		tb.Fatalf("mimecasttest: %s: %v", V1KeyValue, err)
	}
	ts, err := time.Parse(v1Layout, obj["datetime"])
	if err != nil {
		tb.Fatalf("mimecasttest: %s: %v", V1KeyValue, err)
	}
	out = append(out, Event{Name: "v1-kv-1", Type: "receipt", Time: ts, JSON: js, Raw: line})
	if len(out) != AllEvents {
		tb.Fatalf("mimecasttest: %d sample events, want %d", len(out), AllEvents)
	}
	return out
}

// v1Event builds the Event of an API 1.0 JSON event of type typ.
func v1Event(tb testing.TB, name, typ string, b []byte) Event {
	tb.Helper()
	var m struct {
		Datetime string `json:"datetime"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("mimecasttest: %s: %v", name, err)
	}
	ts, err := time.Parse(v1Layout, m.Datetime)
	if err != nil {
		tb.Fatalf("mimecasttest: %s: %v", name, err)
	}
	return Event{Name: name, Type: typ, Time: ts, JSON: Compact(tb, b)}
}

// Compact returns the JSON text b without insignificant white space (as the
// forwarder sends events), failing tb if b is not valid JSON.
func Compact(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		tb.Fatalf("mimecasttest: compact %.80q: %v", b, err)
	}
	return buf.Bytes()
}
