package mimecasttest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestREADMENamesEveryFile checks that testdata/README.md gives the origin
// of every embedded file.
func TestREADMENamesEveryFile(t *testing.T) {
	readme := string(ReadFile(t, "README.md"))
	n := 0
	err := fs.WalkDir(FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "README.md" {
			return err
		}
		n++
		if !strings.Contains(readme, "`"+name+"`") && !strings.Contains(readme, "`"+path.Base(name)+"`") {
			t.Errorf("testdata/README.md does not name %s", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 4 SIEM files + the index + 22 endpoint files + endpoints/SOURCES.md.
	if n != 28 {
		t.Errorf("%d sample files embedded, want 28", n)
	}
}

func TestV2CGLines(t *testing.T) {
	lines := V2CGLines(t)
	types := map[string]int{}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		typ, _ := m["type"].(string)
		if typ == "" {
			typ, _ = m["eventType"].(string)
		}
		types[typ]++
	}
	if len(types) != 10 || types[""] != 0 {
		t.Errorf("types %v, want 10 named types", types)
	}
}

func TestKeyValueLine(t *testing.T) {
	l := string(KeyValueLine(t))
	if !strings.HasPrefix(l, "datetime=2017-05-26T16:47:41+0100|") || strings.ContainsAny(l, "\r\n") {
		t.Errorf("KeyValueLine = %q", l)
	}
}

func TestEvents(t *testing.T) {
	evs := Events(t)
	names := map[string]bool{}
	perType := map[string]int{}
	for _, e := range evs {
		if names[e.Name] {
			t.Errorf("duplicate name %s", e.Name)
		}
		names[e.Name] = true
		perType[e.Type]++
		if !json.Valid(e.JSON) || strings.ContainsAny(string(e.JSON), "\n\t") {
			t.Errorf("%s: JSON not compact and valid: %.100s", e.Name, e.JSON)
		}
		if e.Time.Year() < 2017 || e.Time.Year() > 2025 {
			t.Errorf("%s: time %v", e.Name, e.Time)
		}
		if (e.Raw != nil) != strings.HasPrefix(e.Name, "v1-kv-") {
			t.Errorf("%s: Raw %q", e.Name, e.Raw)
		}
	}
	if len(evs) != AllEvents || AllEvents != 38 {
		t.Errorf("%d events, want %d (38)", len(evs), AllEvents)
	}
	// 3 demisto + 1 elastic + 1 key_value API 1.0 receipts, plus API 2.0 ones.
	if perType["receipt"] < 5 || perType["url protect"] < 2 || perType["journal"] != 1 {
		t.Errorf("events per type %v", perType)
	}
	first, last := evs[0], evs[len(evs)-1]
	if first.Name != "v2-attachment-protect-1" || first.Type != "attachment protect" {
		t.Errorf("first event %s (%s)", first.Name, first.Type)
	}
	want := time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC)
	if last.Name != "v1-kv-1" || !last.Time.Equal(want) {
		t.Errorf("last event %s at %v, want v1-kv-1 at %v", last.Name, last.Time, want)
	}
}

// fatalTB records a Fatalf instead of stopping the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestReadFileMissing(t *testing.T) {
	tb := &fatalTB{TB: t}
	if b := ReadFile(tb, "v2-cg/no-such-file.ndjson"); b != nil || !strings.Contains(tb.msg, "no-such-file") {
		t.Errorf("ReadFile of a missing sample = %q, Fatalf %q", b, tb.msg)
	}
	tb = &fatalTB{TB: t}
	if ls := Lines(tb, "../go.mod"); ls != nil || tb.msg == "" {
		t.Errorf("Lines outside testdata = %q, Fatalf %q", ls, tb.msg)
	}
}

func TestSyncBufferConcurrent(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 400 {
		t.Errorf("%d bytes, want 400", got)
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Advance(90 * time.Second)
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Errorf("after Advance: %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("after Set: %v", got)
	}
}
