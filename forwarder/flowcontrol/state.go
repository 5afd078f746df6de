package flowcontrol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxStateFileBytes bounds how much of the state file is read (Wazuh 4.7
// writes about 2.4 KB).
const maxStateFileBytes = 64 << 10

// AnalysisdState is one snapshot of wazuh-analysisd.state.
type AnalysisdState struct {
	// EventsReceived counts the events analysisd read from its socket
	// since it started (events_received).
	EventsReceived uint64
	// EventsProcessed counts the events that went through rule matching
	// (events_processed).
	EventsProcessed uint64
	// EventsDropped counts the events dropped since analysisd started
	// (events_dropped).
	EventsDropped uint64
	// EventQueueUsage is how full the input queue of syslog and log file
	// events is, 0..1 (event_queue_usage; two decimals).
	EventQueueUsage float64
	// EventQueueSize is that queue's capacity in events (event_queue_size).
	EventQueueSize uint64
	// RuleMatchingQueueUsage is how full the queue between decoding and
	// rule matching is, 0..1 (rule_matching_queue_usage; 0 when the file
	// has no such key). Rule matching is the slower stage: this queue
	// fills first, and only when it is full does the event queue fill and
	// drop.
	RuleMatchingQueueUsage float64
	// ModTime is when analysisd wrote the snapshot (the file's
	// modification time).
	ModTime time.Time
}

// ErrStale is wrapped by the error of CheckFresh.
var ErrStale = errors.New("state file not rewritten")

// CheckFresh returns an error wrapping ErrStale if st, read from path, was
// written staleAfter or longer before now.
func (st AnalysisdState) CheckFresh(path string, now time.Time, staleAfter time.Duration) error {
	if age := now.Sub(st.ModTime); age >= staleAfter {
		return fmt.Errorf("%w: %s was last written %s ago: is wazuh-analysisd running? (in Docker mount the directory, not the file)",
			ErrStale, path, age.Truncate(time.Second))
	}
	return nil
}

// QueueUsage is the fuller of the event queue and the rule-matching queue,
// 0..1: how close analysisd is to dropping.
func (st AnalysisdState) QueueUsage() float64 {
	return max(st.EventQueueUsage, st.RuleMatchingQueueUsage)
}

// requiredKeys are the keys ReadAnalysisdState needs; a file without one of
// them is truncated or something else.
var requiredKeys = []string{"events_received", "events_processed", "events_dropped", "event_queue_usage", "event_queue_size"}

// ReadAnalysisdState reads and parses the state file of wazuh-analysisd
// (normally /var/ossec/var/run/wazuh-analysisd.state): key='value' lines,
// '#' comments and blank lines. Unknown keys are ignored.
func ReadAnalysisdState(path string) (AnalysisdState, error) {
	f, err := os.Open(path)
	if err != nil {
		return AnalysisdState{}, fmt.Errorf("wazuh analysisd state: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return AnalysisdState{}, fmt.Errorf("wazuh analysisd state: %w", err)
	}
	if fi.IsDir() {
		return AnalysisdState{}, fmt.Errorf("wazuh analysisd state %s: is a directory, want the file wazuh-analysisd.state in it", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateFileBytes+1))
	if err != nil {
		return AnalysisdState{}, fmt.Errorf("wazuh analysisd state %s: %w", path, err)
	}
	if len(b) > maxStateFileBytes {
		return AnalysisdState{}, fmt.Errorf("wazuh analysisd state %s: larger than %d bytes, not a wazuh-analysisd.state file", path, maxStateFileBytes)
	}
	st, err := parseAnalysisdState(b)
	if err != nil {
		return AnalysisdState{}, fmt.Errorf("wazuh analysisd state %s: %w", path, err)
	}
	st.ModTime = fi.ModTime()
	return st, nil
}

// parseAnalysisdState parses the content of wazuh-analysisd.state.
func parseAnalysisdState(b []byte) (AnalysisdState, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return AnalysisdState{}, errors.New("file is empty")
	}
	values := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			return AnalysisdState{}, fmt.Errorf("line %d: want key='value', got %q", n, clip(line))
		}
		if len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
			return AnalysisdState{}, fmt.Errorf("line %d: value of %s is not quoted: %q", n, key, clip(val))
		}
		values[key] = val[1 : len(val)-1]
	}
	if err := sc.Err(); err != nil {
		return AnalysisdState{}, err
	}
	var missing []string
	for _, k := range requiredKeys {
		if _, ok := values[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return AnalysisdState{}, fmt.Errorf("no %s (truncated, or not a wazuh-analysisd.state file)", strings.Join(missing, ", "))
	}
	var st AnalysisdState
	var errs []error
	count := func(key string) uint64 {
		v, err := strconv.ParseUint(values[key], 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: not a count", key, clip(values[key])))
		}
		return v
	}
	st.EventsReceived = count("events_received")
	st.EventsProcessed = count("events_processed")
	st.EventsDropped = count("events_dropped")
	st.EventQueueSize = count("event_queue_size")
	fraction := func(key string) float64 {
		u, err := strconv.ParseFloat(values[key], 64)
		if err != nil || u < 0 || u > 1 || u != u {
			errs = append(errs, fmt.Errorf("%s %q: want a fraction 0..1", key, clip(values[key])))
		}
		return u
	}
	st.EventQueueUsage = fraction("event_queue_usage")
	if _, ok := values["rule_matching_queue_usage"]; ok {
		st.RuleMatchingQueueUsage = fraction("rule_matching_queue_usage")
	}
	return st, errors.Join(errs...)
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
