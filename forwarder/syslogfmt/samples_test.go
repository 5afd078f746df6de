package syslogfmt

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// sample is one real Mimecast event turned into a Record.
type sample struct {
	name string
	rec  source.Record
}

// samplesDir finds <repo root>/../shared/mimecast-samples.
func samplesDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "mimecast-samples")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

func compact(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %q: %v", b, err)
	}
	return buf.Bytes()
}

func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// elasticTypes is the type of each line of the elastic v1 NDJSON file, in
// the order the samples README gives.
var elasticTypes = []string{"receipt", "process", "process", "process", "delivery", "av", "spam",
	"internal email protect", "impersonation protect", "url protect", "attachment protect"}

const v1Layout = "2006-01-02T15:04:05-0700"

// loadSamples turns every real sample into a Record: the 23 API 2.0
// events, the 3 + 11 API 1.0 JSON events and the key_value line (with Raw).
func loadSamples(t testing.TB) []sample {
	t.Helper()
	dir := samplesDir(t)
	var out []sample
	for i, l := range lines(t, filepath.Join(dir, "v2-cg", "sekoia-intake-formats.ndjson")) {
		var m struct {
			Type      *string     `json:"type"`
			EventType *string     `json:"eventType"`
			Timestamp json.Number `json:"timestamp"`
		}
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		typ := ""
		if m.Type != nil {
			typ = *m.Type
		} else if m.EventType != nil {
			typ = *m.EventType
		}
		ms, err := m.Timestamp.Int64()
		if err != nil || typ == "" {
			t.Fatalf("v2 line %d: type %q timestamp %v", i+1, typ, err)
		}
		out = append(out, sample{name: "v2-" + strings.ReplaceAll(typ, " ", "-") + "-" + itoa(i+1),
			rec: source.Record{Type: typ, Time: time.UnixMilli(ms), JSON: compact(t, l)}})
	}
	raw, err := os.ReadFile(filepath.Join(dir, "v1-json", "demisto-content_siem_response_multiple_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for i, d := range doc.Data {
		out = append(out, sample{name: "v1-demisto-" + itoa(i+1), rec: v1Record(t, "receipt", d)})
	}
	el := lines(t, filepath.Join(dir, "v1-json", "elastic-integrations_test-siem-docs-logs.ndjson"))
	if len(el) != len(elasticTypes) {
		t.Fatalf("elastic samples: %d lines, want %d", len(el), len(elasticTypes))
	}
	for i, l := range el {
		out = append(out, sample{name: "v1-elastic-" + itoa(i+1), rec: v1Record(t, elasticTypes[i], l)})
	}
	kv := lines(t, filepath.Join(dir, "v1-key_value", "mimecast-docs-example.log"))
	for i, l := range kv {
		obj := map[string]string{}
		for _, p := range strings.Split(string(l), "|") {
			k, v, _ := strings.Cut(p, "=")
			obj[k] = v
		}
		js, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(v1Layout, obj["datetime"])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{name: "v1-kv-" + itoa(i+1), rec: source.Record{Type: "receipt", Time: ts, JSON: js, Raw: l}})
	}
	if len(out) != 23+3+11+1 {
		t.Fatalf("loaded %d samples, want 38", len(out))
	}
	return out
}

func v1Record(t testing.TB, typ string, b []byte) source.Record {
	t.Helper()
	var m struct {
		Datetime string `json:"datetime"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(v1Layout, m.Datetime)
	if err != nil {
		t.Fatal(err)
	}
	return source.Record{Type: typ, Time: ts, JSON: compact(t, b)}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
