package simulator

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// samplesFile finds <repo root>/../shared/mimecast-samples/v2-cg/… (the repo
// root is the directory holding go.mod).
func samplesFile(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "mimecast-samples", "v2-cg", "sekoia-intake-formats.ndjson")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("samples not available: %v", err)
	}
	return p
}

// TestFieldsCoverRealSamples checks that, per type, the generated events use
// every field of the real Mimecast samples (except anonymisation artefacts).
func TestFieldsCoverRealSamples(t *testing.T) {
	f, err := os.Open(samplesFile(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	artefacts := map[string]bool{"ANONYMIZEDId": true, "11111111111111111111111111111111111111@example.com": true}
	want := map[string]map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("sample: %v", err)
		}
		typ, _ := m["type"].(string)
		if typ == "" {
			typ, _ = m["eventType"].(string)
		}
		if want[typ] == nil {
			want[typ] = map[string]bool{}
		}
		for k := range m {
			switch k {
			case "type", "subtype", "eventType", "subType":
				continue
			}
			if !artefacts[k] {
				want[typ][k] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) != 10 {
		t.Fatalf("samples cover %d types", len(want))
	}
	s, err := New(Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for typ, keys := range want {
		got := map[string]bool{}
		for file := 0; file < 20; file++ {
			for n := 0; n < s.opts.RecordsPerFile; n++ {
				var m map[string]any
				if err := json.Unmarshal(s.Event(typ, file, n), &m); err != nil {
					t.Fatal(err)
				}
				for k := range m {
					got[k] = true
				}
			}
		}
		var missing []string
		for k := range keys {
			if !got[k] {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s: generated events never have %v", typ, missing)
		}
	}
}
