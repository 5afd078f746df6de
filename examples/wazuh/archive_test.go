package wazuh_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wazuhEvent is one line of the manager's archives.json or alerts.json.
type wazuhEvent struct {
	FullLog  string                        `json:"full_log"`
	Location string                        `json:"location"`
	Decoder  struct{ Name, Parent string } `json:"decoder"`
	Data     map[string]any                `json:"data"`
	Rule     struct {
		ID    string `json:"id"`
		Level int    `json:"level"`
	} `json:"rule"`
}

// tail reads what the manager appends to one of its JSON logs from the
// moment it is created. It follows the daily rotation: when the path names
// another file, what is left of the old one is read first.
type tail struct {
	path string
	f    *os.File
	rd   *bufio.Reader
	part []byte // an incomplete last line, kept until its LF arrives
}

// newTail starts reading path at its current end.
func newTail(t *testing.T, path string) *tail {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	tl := &tail{path: path, f: f, rd: bufio.NewReaderSize(f, 1<<20)}
	t.Cleanup(func() { tl.f.Close() })
	return tl
}

// lines returns the complete lines appended since the last call.
func (tl *tail) lines() ([][]byte, error) {
	var out [][]byte
	for {
		chunk, err := tl.rd.ReadBytes('\n')
		tl.part = append(tl.part, chunk...)
		if err == nil {
			out = append(out, bytes.TrimRight(tl.part, "\n"))
			tl.part = nil
			continue
		}
		if !errors.Is(err, io.EOF) {
			return out, err
		}
		rotated, rerr := tl.rotated()
		if rerr != nil || !rotated {
			return out, rerr
		}
		// The old file is complete: anything unterminated in it was cut by
		// the rotation. Continue with the new file from its start.
		tl.part = nil
		f, err := os.Open(tl.path)
		if err != nil {
			return out, err
		}
		tl.f.Close()
		tl.f, tl.rd = f, bufio.NewReaderSize(f, 1<<20)
	}
}

// rotated reports whether the path now names another file than the one open.
func (tl *tail) rotated() (bool, error) {
	a, err := tl.f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(tl.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // between the rename and the new file
	}
	if err != nil {
		return false, err
	}
	sa, oka := a.Sys().(*syscall.Stat_t)
	sb, okb := b.Sys().(*syscall.Stat_t)
	return oka && okb && (sa.Ino != sb.Ino || sa.Dev != sb.Dev), nil
}

// collect reads events until keep has accepted want of them, or until
// nothing new was accepted for quiet (the manager decodes a few thousand
// events a second, so a long silence means the rest will not come).
func (tl *tail) collect(t *testing.T, want int, quiet time.Duration, keep func(*wazuhEvent) bool) []*wazuhEvent {
	t.Helper()
	var got []*wazuhEvent
	last := time.Now()
	for len(got) < want && time.Since(last) < quiet {
		lines, err := tl.lines()
		if err != nil {
			t.Fatalf("reading %s: %v", tl.path, err)
		}
		for _, l := range lines {
			ev := new(wazuhEvent)
			if err := json.Unmarshal(l, ev); err != nil {
				t.Fatalf("%s: line is not JSON: %v\n%.300s", tl.path, err, l)
			}
			if keep(ev) {
				got = append(got, ev)
				last = time.Now()
			}
		}
		if len(lines) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return got
}

func archivesPath() string { return filepath.Join(ossecDir, "logs", "archives", "archives.json") }
func alertsPath() string   { return filepath.Join(ossecDir, "logs", "alerts", "alerts.json") }

// fromHost keeps the events whose full_log came from a forwarder that used
// hostname as its RFC5424 HOSTNAME.
func fromHost(hostname string) func(*wazuhEvent) bool {
	mark := " " + hostname + " mimecast "
	return func(ev *wazuhEvent) bool { return strings.Contains(ev.FullLog, mark) }
}

// flatten turns a decoded JSON object into Wazuh's view of it: nested keys
// joined by ".", null and "" left out (Wazuh drops them), arrays kept as
// compact JSON text, numbers as Wazuh's JSON_Decoder prints them (a whole
// number that fits a C int as "%d", any other as "%f"), booleans as text.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, vv, out)
		}
	case nil:
	case string:
		if x != "" {
			out[prefix] = x
		}
	case json.Number:
		out[prefix] = wazuhNumber(x)
	case bool:
		out[prefix] = strconv.FormatBool(x)
	case []any:
		out[prefix] = cjsonArray(x)
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

// cjsonArray is the text Wazuh keeps of an array: cJSON prints it again,
// numbers in their shortest form (2.0 becomes 2).
func cjsonArray(a []any) string {
	var norm func(v any) any
	norm = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return x
			}
			return f
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = norm(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = norm(e)
			}
			return out
		}
		return v
	}
	b, _ := json.Marshal(norm(a))
	return string(b)
}

// wazuhNumber is the text JSON_Decoder makes of a JSON number (cJSON's
// valueint saturates at INT_MAX, so larger whole numbers print as "%f").
func wazuhNumber(n json.Number) string {
	f, err := n.Float64()
	if err != nil {
		return n.String()
	}
	if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// decodeJSON parses b with numbers kept as json.Number.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// dataMimecast returns data.mimecast of an archived event, flattened. The
// archive's own JSON is parsed again with json.Number so that its values
// compare as text.
func dataMimecast(ev *wazuhEvent) map[string]string {
	out := map[string]string{}
	m, _ := ev.Data["mimecast"].(map[string]any)
	b, _ := json.Marshal(m)
	v, err := decodeJSON(b)
	if err == nil {
		flatten("", v, out)
	}
	return out
}

// diffFields lists the fields of want that got lacks or holds with another
// value; names compare case-insensitively when fold is set (the key_value
// decoders name a field as the decoder file spells it).
func diffFields(want, got map[string]string, fold bool) []string {
	norm := func(k string) string {
		if fold {
			return strings.ToLower(k)
		}
		return k
	}
	g := make(map[string]string, len(got))
	for k, v := range got {
		g[norm(k)] = v
	}
	var diffs []string
	for k, v := range want {
		gv, ok := g[norm(k)]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s missing (want %q)", k, v))
		case gv != v:
			diffs = append(diffs, fmt.Sprintf("%s = %q, want %q", k, gv, v))
		}
	}
	sort.Strings(diffs)
	return diffs
}
