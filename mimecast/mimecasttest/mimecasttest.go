// Package mimecasttest provides real Mimecast SIEM samples and small shared
// helpers for tests, as net/http/httptest does for HTTP.
//
// The samples are verbatim copies of public test data (see testdata/README.md
// for where each file came from), embedded in the package so that a clean
// clone of the repository runs its tests with nothing else on the machine.
// Files are named relative to the testdata directory with slashes, e.g.
// "v2-cg/sekoia-intake-formats.ndjson" or "endpoints/dlp_logs.ndjson".
//
// Besides the samples: SyncBuffer and Clock, and the credential leak checks
// of credentials.go (a Trap server for hostile redirects, Echo,
// CredentialForms and NoLeak).
//
// The package imports only the standard library, so any package of the
// module (mimecast/..., forwarder/..., cmd/...) can use it in its tests,
// internal or external, without an import cycle. Keep it that way.
//
// Functions that take a testing.TB stop the test with tb.Fatal when a sample
// is missing or not what the helper promises: that is a broken repository,
// not a condition a test should handle.
package mimecasttest

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"testing"
)

// The samples the tests use, relative to the testdata directory.
const (
	// V2CG is the API 2.0 SIEM batch sample (/siem/v1/batch/events/cg):
	// 23 events, one JSON object a line, covering all 10 log types.
	V2CG = "v2-cg/sekoia-intake-formats.ndjson"
	// V1JSONDemisto is one API 1.0 get-siem-logs JSON file as found inside
	// the zip, {"type":"MTA","data":[...]}, with 3 receipt events.
	V1JSONDemisto = "v1-json/demisto-content_siem_response_multiple_events.json"
	// V1JSONElastic holds 11 API 1.0 JSON events, one a line, of the types
	// V1ElasticTypes gives.
	V1JSONElastic = "v1-json/elastic-integrations_test-siem-docs-logs.ndjson"
	// V1KeyValue is one API 1.0 key_value (pipe-delimited) receipt line.
	V1KeyValue = "v1-key_value/mimecast-docs-example.log"
)

// V2CGEvents is the number of events (lines) in V2CG.
const V2CGEvents = 23

//go:embed testdata
var testdata embed.FS

// FS returns the samples as a read-only file system whose root is the
// testdata directory.
func FS() fs.FS {
	sub, err := fs.Sub(testdata, "testdata")
	if err != nil {
		// fs.Sub fails only for an invalid directory name, a constant here.
		panic(fmt.Sprintf("mimecasttest: %v", err))
	}
	return sub
}

// ReadFile returns the content of the sample named name (see the package
// documentation for names). The caller may modify the returned slice.
func ReadFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := fs.ReadFile(FS(), name)
	if err != nil {
		tb.Fatalf("mimecasttest: sample %s: %v", name, err)
		return nil
	}
	return b
}

// Lines returns the lines of the sample named name with surrounding white
// space removed, skipping empty lines: the events of an NDJSON or key_value
// file. Each line is a separate copy.
func Lines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(ReadFile(tb, name)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, bytes.Clone(l))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("mimecasttest: sample %s: %v", name, err)
	}
	return out
}

// V2CGLines returns the V2CGEvents events of V2CG, one JSON object each, as
// they stand in the file.
func V2CGLines(tb testing.TB) [][]byte {
	tb.Helper()
	lines := Lines(tb, V2CG)
	if len(lines) != V2CGEvents {
		tb.Fatalf("mimecasttest: %s has %d events, want %d", V2CG, len(lines), V2CGEvents)
	}
	return lines
}

// KeyValueLine returns the key_value line of V1KeyValue without its line end.
func KeyValueLine(tb testing.TB) []byte {
	tb.Helper()
	lines := Lines(tb, V1KeyValue)
	if len(lines) != 1 {
		tb.Fatalf("mimecasttest: %s has %d lines, want 1", V1KeyValue, len(lines))
	}
	return lines[0]
}

// V1ElasticTypes returns the log type of each line of V1JSONElastic, in
// order (API 1.0 events do not name their type; the zip member's name
// does).
func V1ElasticTypes() []string {
	return []string{"receipt", "process", "process", "process", "delivery", "av", "spam",
		"internal email protect", "impersonation protect", "url protect", "attachment protect"}
}
