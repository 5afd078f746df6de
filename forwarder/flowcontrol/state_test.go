package flowcontrol

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realState is wazuh-analysisd.state as written by a Wazuh 4.7.4 manager.
func realState(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wazuh-analysisd-4.7.4.state"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stateWith is the real file with some values replaced.
func stateWith(t *testing.T, kv ...string) string {
	t.Helper()
	s := realState(t)
	for i := 0; i < len(kv); i += 2 {
		old := "\n" + kv[i] + "='"
		at := strings.Index(s, old)
		if at < 0 {
			t.Fatalf("key %s not in the real state file", kv[i])
		}
		end := at + len(old) + strings.IndexByte(s[at+len(old):], '\'')
		s = s[:at+len(old)] + kv[i+1] + s[end:]
	}
	return s
}

func writeState(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadAnalysisdStateReal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wazuh-analysisd.state")
	mtime := time.Date(2026, 12, 5, 23, 31, 2, 0, time.UTC)
	writeState(t, path, realState(t), mtime)
	st, err := ReadAnalysisdState(path)
	if err != nil {
		t.Fatal(err)
	}
	want := AnalysisdState{EventQueueSize: 16384, ModTime: st.ModTime}
	if st != want || !st.ModTime.Equal(mtime) {
		t.Errorf("state = %+v, want %+v at %s", st, want, mtime)
	}

	writeState(t, path, stateWith(t, "events_received", "200000", "events_processed", "180123",
		"events_dropped", "177845", "event_queue_usage", "0.97", "rule_matching_queue_usage", "0.50"), time.Time{})
	st, err = ReadAnalysisdState(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.EventsReceived != 200000 || st.EventsProcessed != 180123 || st.EventsDropped != 177845 ||
		st.EventQueueUsage != 0.97 || st.EventQueueSize != 16384 || st.RuleMatchingQueueUsage != 0.50 {
		t.Errorf("state = %+v", st)
	}
	if st.QueueUsage() != 0.97 {
		t.Errorf("QueueUsage = %v, want the fuller queue, 0.97", st.QueueUsage())
	}
	writeState(t, path, stateWith(t, "event_queue_usage", "0.10", "rule_matching_queue_usage", "0.80"), time.Time{})
	if st, err = ReadAnalysisdState(path); err != nil || st.QueueUsage() != 0.80 {
		t.Errorf("QueueUsage = %v (%v), want the rule-matching queue's 0.80", st.QueueUsage(), err)
	}
	writeState(t, path, stateWith(t, "rule_matching_queue_usage", "1.5"), time.Time{})
	if _, err = ReadAnalysisdState(path); err == nil || !strings.Contains(err.Error(), "rule_matching_queue_usage") {
		t.Errorf("rule_matching_queue_usage 1.5: err = %v, want it named", err)
	}
}

func TestReadAnalysisdStateErrors(t *testing.T) {
	dir := t.TempDir()
	real := realState(t)
	queue := strings.Index(real, "# Event queue\n")
	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "file is empty"},
		{"truncated at a line end", real[:queue], "no event_queue_usage, event_queue_size (truncated, or not a wazuh-analysisd.state file)"},
		{"truncated in a line", real[:queue+20], `line 95: want key='value', got "event_"`},
		{"only comments", "# State file for wazuh-analysisd\n\n", "no events_received, events_processed, events_dropped, event_queue_usage, event_queue_size"},
		{"garbage", "\x00\x01\x02 binary\n", `line 1: want key='value', got "\x00\x01\x02 binary"`},
		{"unquoted", strings.Replace(real, "events_dropped='0'", "events_dropped=0", 1), "value of events_dropped is not quoted"},
		{"bad count", stateWith(t, "events_dropped", "-5"), `events_dropped "-5": not a count`},
		{"usage above 1", stateWith(t, "event_queue_usage", "1.50"), `event_queue_usage "1.50": want a fraction 0..1`},
		{"usage not a number", stateWith(t, "event_queue_usage", "nan"), `event_queue_usage "nan": want a fraction 0..1`},
		{"another file", "[Unit]\nDescription=x\n", "line 1: want key='value'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			writeState(t, path, tc.content, time.Time{})
			_, err := ReadAnalysisdState(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s and saying %q", err, path, tc.want)
			}
		})
	}

	missing := filepath.Join(dir, "missing.state")
	if _, err := ReadAnalysisdState(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v, want fs.ErrNotExist naming the path", err)
	}
	if _, err := ReadAnalysisdState(dir); err == nil || !strings.Contains(err.Error(), "is a directory, want the file wazuh-analysisd.state in it") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big")
	writeState(t, big, strings.Repeat("# padding\n", 7000)+real, time.Time{})
	if _, err := ReadAnalysisdState(big); err == nil || !strings.Contains(err.Error(), "larger than 65536 bytes") {
		t.Errorf("oversized file: %v", err)
	}
	if os.Geteuid() != 0 { // root reads anything
		unreadable := filepath.Join(dir, "unreadable")
		writeState(t, unreadable, real, time.Time{})
		if err := os.Chmod(unreadable, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadAnalysisdState(unreadable); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("unreadable file: %v, want fs.ErrPermission", err)
		}
	}
}
