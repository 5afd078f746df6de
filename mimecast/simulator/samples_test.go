package simulator

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// TestFieldsCoverRealSamples checks that, per type, the generated events use
// every field of the real Mimecast samples (except anonymisation artefacts).
func TestFieldsCoverRealSamples(t *testing.T) {
	artefacts := map[string]bool{"ANONYMIZEDId": true, "11111111111111111111111111111111111111@example.com": true}
	want := map[string]map[string]bool{}
	for _, line := range mimecasttest.V2CGLines(t) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
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
