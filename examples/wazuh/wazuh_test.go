// Package wazuh_test checks the example Wazuh decoders, rules and ruleset
// tests against the forwarder's real output, without a Wazuh manager.
//
// The decoders' PCRE2 expressions are compiled with Go's regexp (RE2). They
// were written in the common subset on purpose: no look-around, no
// backreferences, no possessive quantifiers, no branch reset; \d, \S, \x3c,
// (?i:...) and lazy quantifiers mean the same in both. Go's regexp picks the
// match a backtracking engine would pick (leftmost-first), so captures agree
// with PCRE2. One dialect difference does not matter here: PCRE2's "$" also
// matches before a final newline, Go's only at the end of the text, and the
// lines never contain a newline.
//
// decodeLine emulates analysisd's DecodeEvent for these decoders
// (src/analysisd/decoders/decoder.c, json_decoder.c in wazuh/wazuh 4.x): a
// PCRE2 prematch "ends" on its last matched byte and the next stage starts one
// byte later, i.e. exactly at the end of the Go match; JSON objects are
// flattened with "."; null values are discarded (json_null_field discard);
// numbers and booleans become strings. ruleEngine emulates the rule tree
// (src/analysisd/rules.c, rules_list.c): children ordered level 0 first, then
// by level, highest first, first match wins; if_matched_sid rules count the earlier events that
// ended at that rule, the current one included, stopping at an event already
// used by a correlation of the same or a higher level.
package wazuh_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
)

// repoRoot walks up from the package directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func samplesDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(repoRoot(t), "..", "shared", "mimecast-samples")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("samples not found (expected <repo>/../shared/mimecast-samples): %v", err)
	}
	return d
}

// ---------------------------------------------------------------- decoders

type xmlDecoder struct {
	Name     string `xml:"name,attr"`
	Parent   string `xml:"parent"`
	Prematch *struct {
		Type   string `xml:"type,attr"`
		Offset string `xml:"offset,attr"`
		Text   string `xml:",chardata"`
	} `xml:"prematch"`
	Regex *struct {
		Type   string `xml:"type,attr"`
		Offset string `xml:"offset,attr"`
		Text   string `xml:",chardata"`
	} `xml:"regex"`
	Order  string `xml:"order"`
	Plugin *struct {
		Offset string `xml:"offset,attr"`
		Text   string `xml:",chardata"`
	} `xml:"plugin_decoder"`
	NullField string `xml:"json_null_field"`
}

type rawField struct {
	re     *regexp.Regexp
	offset string // after_parent or after_prematch
	order  []string
}

type decoders struct {
	parent    *regexp.Regexp
	raw       *regexp.Regexp
	rawFields []rawField
	json      *regexp.Regexp
}

// readXML parses a Wazuh XML file, which may have several root elements.
func readXML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := append(append([]byte("<root>"), b...), "</root>"...)
	if err := xml.Unmarshal(wrapped, v); err != nil {
		t.Fatalf("%s is not well-formed XML: %v", path, err)
	}
}

func compile(t *testing.T, what, expr string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("%s: PCRE2 expression outside the Go/PCRE2 common subset: %v", what, err)
	}
	return re
}

func loadDecoders(t *testing.T) *decoders {
	t.Helper()
	var doc struct {
		Decoders []xmlDecoder `xml:"decoder"`
	}
	readXML(t, "decoders/mimecast_decoders.xml", &doc)
	d := &decoders{}
	for _, x := range doc.Decoders {
		switch {
		case x.Name == "mimecast" && x.Parent == "":
			if x.Prematch == nil || x.Prematch.Type != "pcre2" {
				t.Fatal("parent decoder mimecast needs a pcre2 prematch")
			}
			if !strings.Contains(x.Prematch.Text, " mimecast ") {
				t.Fatalf("parent prematch does not name APP-NAME mimecast: %q", x.Prematch.Text)
			}
			d.parent = compile(t, "mimecast prematch", x.Prematch.Text)
		case x.Parent != "mimecast":
			t.Fatalf("decoder %q: unexpected parent %q", x.Name, x.Parent)
		case x.Name == "mimecast-raw":
			if x.Prematch != nil {
				if d.raw != nil {
					t.Fatal("only the first mimecast-raw sibling may have a prematch (Wazuh: PDUP_INV)")
				}
				if x.Prematch.Offset != "after_parent" {
					t.Fatal("mimecast-raw prematch must use offset after_parent")
				}
				d.raw = compile(t, "mimecast-raw prematch", x.Prematch.Text)
			}
			if x.Regex == nil || x.Regex.Type != "pcre2" {
				t.Fatal("every mimecast-raw sibling needs a pcre2 regex")
			}
			f := rawField{re: compile(t, "mimecast-raw regex "+x.Order, x.Regex.Text), offset: x.Regex.Offset}
			for _, o := range strings.Split(x.Order, ",") {
				f.order = append(f.order, strings.TrimSpace(o))
			}
			if f.re.NumSubexp() != len(f.order) {
				t.Fatalf("regex for %q has %d groups", x.Order, f.re.NumSubexp())
			}
			d.rawFields = append(d.rawFields, f)
		case x.Name == "mimecast-json":
			if x.Prematch == nil || x.Prematch.Offset != "after_parent" {
				t.Fatal("mimecast-json needs its own prematch with offset after_parent (else JSON_Decoder starts at offset 0)")
			}
			if x.Plugin == nil || strings.TrimSpace(x.Plugin.Text) != "JSON_Decoder" || x.Plugin.Offset != "after_prematch" {
				t.Fatal(`mimecast-json needs <plugin_decoder offset="after_prematch">JSON_Decoder</plugin_decoder>`)
			}
			if x.NullField != "discard" {
				t.Fatal("mimecast-json: the rules assume json_null_field discard")
			}
			d.json = compile(t, "mimecast-json prematch", x.Prematch.Text)
		default:
			t.Fatalf("unexpected decoder %q", x.Name)
		}
	}
	if d.parent == nil || d.raw == nil || d.json == nil || len(d.rawFields) < 2 {
		t.Fatal("decoders incomplete")
	}
	return d
}

type field struct{ name, value string }

// event is a decoded line: fields in decoding order (Wazuh's FindField returns
// the first one whose name matches case-insensitively).
type event struct {
	path   string // "raw" or "json"
	fields []field
}

func (e *event) get(name string) (string, bool) {
	for _, f := range e.fields {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// anchored reports a match that starts at 0, as a "^" PCRE2 prematch requires;
// it returns the end of the match.
func anchored(re *regexp.Regexp, s string) (int, bool) {
	loc := re.FindStringIndex(s)
	if loc == nil || loc[0] != 0 {
		return 0, false
	}
	return loc[1], true
}

func (d *decoders) decodeLine(line string) (*event, error) {
	pend, ok := anchored(d.parent, line)
	if !ok {
		return nil, errors.New("parent prematch does not match")
	}
	afterParent := line[pend:]
	if cend, ok := anchored(d.raw, afterParent); ok {
		ev := &event{path: "raw"}
		afterPrematch := afterParent[cend:]
		for _, f := range d.rawFields {
			in := afterPrematch
			if f.offset == "after_parent" {
				in = afterParent
			}
			m := f.re.FindStringSubmatch(in)
			if m == nil {
				continue // get_next: the next sibling still runs
			}
			for i, name := range f.order {
				ev.fields = append(ev.fields, field{name, m[i+1]})
			}
		}
		return ev, nil
	}
	cend, ok := anchored(d.json, afterParent)
	if !ok {
		return nil, errors.New("no child prematch matches")
	}
	ev := &event{path: "json"}
	dec := json.NewDecoder(strings.NewReader(afterParent[cend:]))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ev, fmt.Errorf("JSON_Decoder would find no fields: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return ev, errors.New("MSG is not a JSON object")
	}
	// encoding/json loses key order; Wazuh keeps it. Order only matters for
	// duplicate names differing in case, which the samples do not have.
	flatten(ev, "", obj)
	return ev, nil
}

func flatten(ev *event, prefix string, obj map[string]any) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch x := obj[k].(type) {
		case nil:
			// discarded
		case map[string]any:
			flatten(ev, name, x)
		case string:
			ev.fields = append(ev.fields, field{name, x})
		case bool:
			ev.fields = append(ev.fields, field{name, strconv.FormatBool(x)})
		case json.Number:
			ev.fields = append(ev.fields, field{name, x.String()})
		default:
			b, _ := json.Marshal(x)
			ev.fields = append(ev.fields, field{name, string(b)})
		}
	}
}

// ---------------------------------------------------------------- samples

type rendered struct {
	name, line, logType, path string
}

var v1Types = []string{"receipt", "process", "process", "process", "delivery", "av", "spam",
	"internal email protect", "impersonation protect", "url protect", "attachment protect"}

func renderSamples(t *testing.T) []rendered {
	t.Helper()
	dir := samplesDir(t)
	cfg := syslogfmt.DefaultConfig()
	cfg.Hostname = "mail-gw01"
	cfg.Version = "0.1.0"
	f, err := syslogfmt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rawCfg := cfg
	rawCfg.Body = syslogfmt.BodyRaw
	fraw, err := syslogfmt.New(rawCfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []rendered
	add := func(fm *syslogfmt.Formatter, name, path string, r *source.Record) {
		msg, shrunk, err := fm.Append(nil, r)
		if err != nil || shrunk {
			t.Fatalf("%s: format: shrunk=%v err=%v", name, shrunk, err)
		}
		// remoted strips everything up to the first '>' of a line that starts with '<'.
		s := string(msg)
		if !strings.HasPrefix(s, "<") || !strings.Contains(s, ">") {
			t.Fatalf("%s: no PRI: %q", name, s)
		}
		s = s[strings.IndexByte(s, '>')+1:]
		out = append(out, rendered{name: name, line: s, logType: r.Type, path: path})
	}
	compactJSON := func(b []byte) []byte {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	v1Time := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02T15:04:05-0700", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// API 2.0
	for i, l := range readLines(t, filepath.Join(dir, "v2-cg", "sekoia-intake-formats.ndjson")) {
		var m struct {
			Type      *string `json:"type"`
			EventType *string `json:"eventType"`
			Timestamp int64   `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		typ := ""
		if m.Type != nil {
			typ = *m.Type
		} else if m.EventType != nil {
			typ = *m.EventType
		}
		add(f, fmt.Sprintf("v2 line %d", i+1), "json",
			&source.Record{Type: typ, Time: time.UnixMilli(m.Timestamp), JSON: compactJSON([]byte(l))})
	}
	// API 1.0 json
	for i, l := range readLines(t, filepath.Join(dir, "v1-json", "elastic-integrations_test-siem-docs-logs.ndjson")) {
		var m struct {
			Datetime string `json:"datetime"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		add(f, fmt.Sprintf("v1 elastic line %d", i+1), "json",
			&source.Record{Type: v1Types[i], Time: v1Time(m.Datetime), JSON: compactJSON([]byte(l))})
	}
	b, err := os.ReadFile(filepath.Join(dir, "v1-json", "demisto-content_siem_response_multiple_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for i, e := range doc.Data {
		var m struct {
			Datetime string `json:"datetime"`
		}
		if err := json.Unmarshal(e, &m); err != nil {
			t.Fatal(err)
		}
		add(f, fmt.Sprintf("v1 demisto event %d", i+1), "json",
			&source.Record{Type: "receipt", Time: v1Time(m.Datetime), JSON: compactJSON(e)})
	}
	// API 1.0 key_value, both body modes
	for i, l := range readLines(t, filepath.Join(dir, "v1-key_value", "mimecast-docs-example.log")) {
		js := []byte(`{"datetime":"2017-05-26T16:47:41+0100"}`)
		r := &source.Record{Type: "receipt", Time: v1Time("2017-05-26T16:47:41+0100"), JSON: js, Raw: []byte(l)}
		add(fraw, fmt.Sprintf("v1 key_value line %d (raw body)", i+1), "raw", r)
	}
	if len(out) != 23+11+3+1 {
		t.Fatalf("rendered %d samples, want 38", len(out))
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// ---------------------------------------------------------------- rules

type xmlRule struct {
	ID           int    `xml:"id,attr"`
	Level        int    `xml:"level,attr"`
	Frequency    int    `xml:"frequency,attr"`
	Timeframe    int    `xml:"timeframe,attr"`
	NoAlert      string `xml:"noalert,attr"`
	DecodedAs    string `xml:"decoded_as"`
	IfSid        string `xml:"if_sid"`
	IfMatchedSid int    `xml:"if_matched_sid"`
	Fields       []struct {
		Name string `xml:"name,attr"`
		Type string `xml:"type,attr"`
		Expr string `xml:",chardata"`
	} `xml:"field"`
	SameField      []string `xml:"same_field"`
	DifferentField []string `xml:"different_field"`
	Description    string   `xml:"description"`
	Mitre          []string `xml:"mitre>id"`
	Group          string   `xml:"group"`

	order int
	res   []*regexp.Regexp
}

func loadRules(t *testing.T) []*xmlRule {
	t.Helper()
	var doc struct {
		Groups []struct {
			Name  string     `xml:"name,attr"`
			Rules []*xmlRule `xml:"rule"`
		} `xml:"group"`
	}
	readXML(t, "rules/mimecast_rules.xml", &doc)
	var rules []*xmlRule
	for _, g := range doc.Groups {
		if !strings.Contains(g.Name, "mimecast") {
			t.Errorf("group %q is not the mimecast group", g.Name)
		}
		rules = append(rules, g.Rules...)
	}
	for i, r := range rules {
		r.order = i
		for _, f := range r.Fields {
			if f.Type != "pcre2" {
				t.Errorf("rule %d: field %s: the rules use type=\"pcre2\" (this test evaluates them with Go's regexp)", r.ID, f.Name)
			}
			r.res = append(r.res, compile(t, fmt.Sprintf("rule %d field %s", r.ID, f.Name), f.Expr))
		}
	}
	return rules
}

var expansion = regexp.MustCompile(`\$\(([^)]*)\)`)

// referencedFields lists every field a rule reads: <field name>, same_field,
// different_field and $(...) in the description.
func referencedFields(r *xmlRule) []string {
	var out []string
	for _, f := range r.Fields {
		out = append(out, f.Name)
	}
	out = append(out, r.SameField...)
	out = append(out, r.DifferentField...)
	for _, m := range expansion.FindAllStringSubmatch(r.Description, -1) {
		out = append(out, m[1])
	}
	return out
}

// ruleEngine evaluates decoded events against the rule tree of one session.
type ruleEngine struct {
	rules    []*xmlRule
	children map[int][]*xmlRule
	roots    []*xmlRule
	history  map[int][]*histEvent // events that ended at a rule (sid_prev_matched)
}

type histEvent struct {
	ev      *event
	matched int // level of a correlation this event took part in
}

func newEngine(rules []*xmlRule) *ruleEngine {
	e := &ruleEngine{rules: rules, children: map[int][]*xmlRule{}, history: map[int][]*histEvent{}}
	for _, r := range rules {
		switch {
		case r.IfMatchedSid != 0:
			e.children[r.IfMatchedSid] = append(e.children[r.IfMatchedSid], r)
		case r.IfSid != "":
			for _, s := range strings.FieldsFunc(r.IfSid, func(c rune) bool { return c == ',' || c == ' ' }) {
				id, _ := strconv.Atoi(s)
				e.children[id] = append(e.children[id], r)
			}
		default:
			e.roots = append(e.roots, r)
		}
	}
	// rules.c stores level 0 as 9900 and others as level*100, so level-0
	// rules come first, then the highest level; ties keep load order.
	key := func(r *xmlRule) int {
		if r.Level == 0 {
			return 9900
		}
		return r.Level * 100
	}
	byLevel := func(rs []*xmlRule) {
		sort.SliceStable(rs, func(i, j int) bool { return key(rs[i]) > key(rs[j]) })
	}
	byLevel(e.roots)
	for _, rs := range e.children {
		byLevel(rs)
	}
	return e
}

func (e *ruleEngine) fieldsMatch(r *xmlRule, ev *event) bool {
	for i, f := range r.Fields {
		v, ok := ev.get(f.Name)
		if !ok || !r.res[i].MatchString(v) {
			return false
		}
	}
	return true
}

// correlates implements Search_LastEvents for rule r and the current event.
func (e *ruleEngine) correlates(r *xmlRule, ev *event) bool {
	for _, f := range append(append([]string{}, r.SameField...), r.DifferentField...) {
		if _, ok := ev.get(f); !ok {
			return false
		}
	}
	prev := e.history[r.IfMatchedSid]
	count := 1 // the current event
	var used []*histEvent
	for i := len(prev) - 1; i >= 0; i-- {
		p := prev[i]
		ok := true
		for _, f := range r.SameField {
			a, _ := ev.get(f)
			b, has := p.ev.get(f)
			if !has || a != b {
				ok = false
			}
		}
		for _, f := range r.DifferentField {
			a, _ := ev.get(f)
			b, has := p.ev.get(f)
			if !has || a == b {
				ok = false
			}
		}
		if !ok {
			continue
		}
		if p.matched >= r.Level {
			return false
		}
		count++
		used = append(used, p)
		if count >= r.Frequency {
			for _, u := range used {
				u.matched = r.Level
			}
			return true
		}
	}
	return false
}

func (e *ruleEngine) match(r *xmlRule, ev *event, decoder string) *xmlRule {
	if r.DecodedAs != "" && r.DecodedAs != decoder {
		return nil
	}
	if !e.fieldsMatch(r, ev) {
		return nil
	}
	if r.IfMatchedSid != 0 && !e.correlates(r, ev) {
		return nil
	}
	for _, c := range e.children[r.ID] {
		if m := e.match(c, ev, decoder); m != nil {
			return m
		}
	}
	return r
}

// process returns the rule the event ends at (nil: none) and records it.
func (e *ruleEngine) process(ev *event) *xmlRule {
	for _, r := range e.roots {
		if m := e.match(r, ev, "mimecast"); m != nil {
			e.history[m.ID] = append(e.history[m.ID], &histEvent{ev: ev})
			return m
		}
	}
	return nil
}

// ---------------------------------------------------------------- ini files

type iniRun struct {
	key   string // "log 1 pass"
	pass  bool
	lines []string
}

type iniSection struct {
	file, title string
	rule, alert int
	decoder     string
	runs        []*iniRun
}

func loadIni(t *testing.T) []*iniSection {
	t.Helper()
	files, err := filepath.Glob("tests/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatalf("no tests/*.ini: %v", err)
	}
	var out []*iniSection
	for _, file := range files {
		var cur *iniSection
		for n, l := range readLines(t, file) {
			if strings.HasPrefix(l, ";") || strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
				continue
			}
			if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
				cur = &iniSection{file: file, title: l[1 : len(l)-1], rule: -1, alert: -1}
				out = append(out, cur)
				continue
			}
			key, val, ok := strings.Cut(l, "=")
			if !ok || cur == nil {
				t.Fatalf("%s:%d: not a key = value line in a section", file, n+1)
			}
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			switch {
			case strings.HasPrefix(key, "log "):
				f := strings.Fields(key)
				if len(f) != 3 || (f[2] != "pass" && f[2] != "fail") {
					t.Fatalf("%s:%d: bad key %q", file, n+1, key)
				}
				var run *iniRun
				for _, r := range cur.runs {
					if r.key == key {
						run = r
					}
				}
				if run == nil {
					run = &iniRun{key: key, pass: f[2] == "pass"}
					cur.runs = append(cur.runs, run)
				}
				run.lines = append(run.lines, val)
			case key == "rule":
				cur.rule, _ = strconv.Atoi(val)
			case key == "alert":
				cur.alert, _ = strconv.Atoi(val)
			case key == "decoder":
				cur.decoder = val
			default:
				t.Fatalf("%s:%d: unknown key %q", file, n+1, key)
			}
		}
	}
	for _, s := range out {
		if s.rule < 0 || s.alert < 0 || s.decoder == "" || len(s.runs) == 0 {
			t.Fatalf("%s [%s]: needs rule, alert, decoder and log lines", s.file, s.title)
		}
	}
	return out
}

// ---------------------------------------------------------------- tests

// TestSamplesDecode renders every real sample through the forwarder's
// formatter and checks that the decoders take the line (PRI stripped as
// remoted does) down the right path with the right fields.
func TestSamplesDecode(t *testing.T) {
	d := loadDecoders(t)
	for _, s := range renderSamples(t) {
		ev, err := d.decodeLine(s.line)
		if err != nil {
			t.Errorf("%s: %v\n%s", s.name, err, s.line)
			continue
		}
		if ev.path != s.path {
			t.Errorf("%s: decoded as %s, want %s", s.name, ev.path, s.path)
		}
		lt, _ := ev.get("mimecast.logType")
		want := s.logType
		if s.path == "raw" {
			want = strings.ReplaceAll(want, " ", "-") // the MSGID
		}
		if lt != want {
			t.Errorf("%s: mimecast.logType = %q, want %q", s.name, lt, want)
		}
		if len(ev.fields) < 5 {
			t.Errorf("%s: only %d fields decoded", s.name, len(ev.fields))
		}
	}
}

// TestIniUsesFormatterOutput checks that the ini files hold every real sample
// exactly as the forwarder renders it (PRI stripped), so the ruleset tests
// exercise the real wire format and not a hand-made approximation.
func TestIniUsesFormatterOutput(t *testing.T) {
	lines := map[string]bool{}
	for _, s := range loadIni(t) {
		for _, run := range s.runs {
			for _, l := range run.lines {
				lines[l] = true
			}
		}
	}
	for _, s := range renderSamples(t) {
		if !lines[s.line] {
			t.Errorf("%s: the ini files do not contain the forwarder's line\n%s", s.name, s.line)
		}
	}
}

// TestNoDefaultDecoderCollision checks that default Wazuh decoders that are
// tried before ours (etc/decoders loads after ruleset/decoders) do not take the
// forwarder's lines. Their OS_Regex prematches are translated to RE2 with full
// backtracking, which matches at least what OS_Regex matches (\w is
// [A-Za-z0-9_@-], \. is any character, \s blank).
func TestNoDefaultDecoderCollision(t *testing.T) {
	defaults := map[string]*regexp.Regexp{
		// ruleset/decoders/0051-checkpoint-smart1_decoders.xml:
		// ^\d* \d+-\d+-\d+T\d+:\d+:\w+ \.* \w+ \d+ - [
		"checkpoint-smart1": regexp.MustCompile(`^[0-9]* [0-9]+-[0-9]+-[0-9]+T[0-9]+:[0-9]+:[A-Za-z0-9_@-]+ .* [A-Za-z0-9_@-]+ [0-9]+ - \[`),
		// ruleset/decoders/0006-json_decoders.xml: json ^{\s*" and json-msgraph
		"json":         regexp.MustCompile(`^\{[ \t]*"`),
		"json-msgraph": regexp.MustCompile(`"integration":"ms-graph"`),
	}
	var lines []string
	for _, s := range renderSamples(t) {
		lines = append(lines, s.line)
	}
	for _, s := range loadIni(t) {
		for _, run := range s.runs {
			if run.pass {
				lines = append(lines, run.lines...)
			}
		}
	}
	// Numeric PROCID and MSGID "-" is the shape checkpoint-smart1 wants; the
	// fractional seconds still keep it off.
	lines = append(lines, `1 2026-11-28T16:10:00.123Z host mimecast 4242 - [origin software="mimecast-forwarder"] {"mimecast":{}}`)
	for _, l := range lines {
		for name, re := range defaults {
			if re.MatchString(l) {
				t.Errorf("default decoder %s would take: %s", name, l)
			}
		}
	}
	// Sanity: the translation does match checkpoint's own test line.
	if !defaults["checkpoint-smart1"].MatchString(`1 2019-05-15T16:25:50Z HOSTNAME CheckPoint 19710 - [action:"Drop"; ]`) {
		t.Fatal("checkpoint-smart1 translation is wrong")
	}
}

// TestRawDecoderKeyValue checks the key_value path on the real line and on a
// line where a backslash-wrapped value contains "|" and a fake "|Act=".
func TestRawDecoderKeyValue(t *testing.T) {
	d := loadDecoders(t)
	hdr := `1 2017-05-26T15:47:41.000Z host mimecast - receipt [origin software="mimecast-forwarder" swVersion="0.1.0"] `
	kv := readLines(t, filepath.Join(samplesDir(t), "v1-key_value", "mimecast-docs-example.log"))[0]
	ev, err := d.decodeLine(hdr + kv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"mimecast.logType": "receipt", "mimecast.datetime": "2017-05-26T16:47:41+0100", "mimecast.Act": "Acc",
		"mimecast.Sender": "from@mimecast.com", "mimecast.Rcpt": "auser@mimecast.com", "mimecast.IP": "123.123.123.123",
		"mimecast.Subject": `\message subject\`, "mimecast.SpamScore": "1", "mimecast.MsgId": "<81ce15$8r2j59@mail01.example.com>",
		"mimecast.SpamProcessingDetail": `{"spf":{"info":"SPF_FAIL","allow":true},"dkim":{"info":"DKIM_UNKNOWN","allow":true}}`,
	}
	for k, v := range want {
		if got, _ := ev.get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	tricky := `datetime=2017-05-26T16:47:41+0100|Subject=\a | b |Act=Fake|Rcpt=x\|Act=Rej|Rcpt=real@example.com|Virus=`
	ev, err = d.decodeLine(hdr + tricky)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"mimecast.Act": "Rej", "mimecast.Rcpt": "real@example.com",
		"mimecast.Subject": `\a | b |Act=Fake|Rcpt=x\`, "mimecast.Virus": ""} {
		if got, _ := ev.get(k); got != v {
			t.Errorf("tricky line: %s = %q, want %q", k, got, v)
		}
	}
	// Not taken by the decoders: other APP-NAME, no fraction allowed but other
	// shapes, BSD syslog.
	for _, l := range []string{
		"1 2026-11-28T16:10:00.123Z host other - receipt - {}",
		"Nov 28 16:10:00 host mimecast: {}",
		"1 2026-11-28 16:10:00.123Z host mimecast - receipt - {}",
	} {
		if _, err := d.decodeLine(l); err == nil {
			t.Errorf("decoded a line it must not: %q", l)
		}
	}
}

// TestRulesStructure checks ids, levels, MITRE, groups and that every field
// a rule reads exists in at least one rendered real sample or, for fields no
// real sample carries, in the ini test lines.
func TestRulesStructure(t *testing.T) {
	rules := loadRules(t)
	d := loadDecoders(t)
	seen := map[int]bool{}
	for _, r := range rules {
		if r.ID < 106000 || r.ID > 106099 {
			t.Errorf("rule %d outside 106000-106099", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("rule %d defined twice", r.ID)
		}
		seen[r.ID] = true
		if r.NoAlert != "" {
			t.Errorf("rule %d: noalert would let events fall through to the default rules", r.ID)
		}
		if r.Level > 0 && len(r.Mitre) == 0 && !strings.Contains(r.Group, "delivery_failed") {
			t.Errorf("rule %d: alert without MITRE id", r.ID)
		}
		if (len(r.SameField) > 0 || len(r.DifferentField) > 0 || r.Frequency > 0) && (r.IfMatchedSid == 0 || r.Frequency < 2 || r.Timeframe == 0) {
			t.Errorf("rule %d: correlation needs if_matched_sid, frequency and timeframe", r.ID)
		}
		for _, f := range referencedFields(r) {
			if !strings.HasPrefix(f, "mimecast.") {
				t.Errorf("rule %d reads %q: only dynamic mimecast.* fields are used (static names are rejected in <field>, $(URL) expands to nothing)", r.ID, f)
			}
		}
	}
	if len(rules) < 20 || !seen[106000] {
		t.Fatalf("%d rules, base 106000 present=%v", len(rules), seen[106000])
	}
	base := rules[0]
	if base.ID != 106000 || base.Level != 0 || base.DecodedAs != "mimecast" || base.IfSid != "" {
		t.Errorf("106000 must be the level-0 decoded_as base rule")
	}

	inSamples := map[string]bool{}
	for _, s := range renderSamples(t) {
		ev, err := d.decodeLine(s.line)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ev.fields {
			inSamples[strings.ToLower(f.name)] = true
		}
	}
	inIni := map[string]bool{}
	for _, s := range loadIni(t) {
		for _, run := range s.runs {
			for _, l := range run.lines {
				if ev, err := d.decodeLine(l); err == nil {
					for _, f := range ev.fields {
						inIni[strings.ToLower(f.name)] = true
					}
				}
			}
		}
	}
	// Fields no real sample carries (non-null), and why; they must then be in
	// the ini lines, which set them on copies of real samples.
	onlyInIni := map[string]string{
		"mimecast.rejtype":        "API 1.0 rejection fields: no real API 1.0 rejected receipt is public",
		"mimecast.rejcode":        "API 1.0 rejection fields: no real API 1.0 rejected receipt is public",
		"mimecast.rejinfo":        "API 1.0 rejection fields: no real API 1.0 rejected receipt is public",
		"mimecast.deliveryerrors": "null in every API 2.0 delivery sample (all delivered); null is discarded",
	}
	for _, r := range rules {
		for _, f := range referencedFields(r) {
			lf := strings.ToLower(f)
			switch {
			case inSamples[lf]:
				if _, ok := onlyInIni[lf]; ok {
					t.Errorf("%s is in the samples now: drop it from onlyInIni", f)
				}
			case onlyInIni[lf] != "" && inIni[lf]:
			default:
				t.Errorf("rule %d reads %s, which no rendered sample (or documented ini line) has", r.ID, f)
			}
		}
	}
}

// TestIniCases runs every ini case through the emulated decoders and rules:
// "pass" runs must end at the section's rule with its level, "fail" runs must
// not; every rule has a pass case.
func TestIniCases(t *testing.T) {
	rules := loadRules(t)
	d := loadDecoders(t)
	byID := map[int]*xmlRule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	tested := map[int]bool{}
	for _, s := range loadIni(t) {
		r, ok := byID[s.rule]
		if !ok {
			t.Errorf("%s [%s]: rule %d does not exist", s.file, s.title, s.rule)
			continue
		}
		if s.alert != r.Level || s.decoder != "mimecast" {
			t.Errorf("%s [%s]: alert %d decoder %s, rule has level %d", s.file, s.title, s.alert, s.decoder, r.Level)
		}
		for _, run := range s.runs {
			e := newEngine(rules) // one wazuh-logtest session per run
			var last *xmlRule
			decoded := true
			for _, l := range run.lines {
				ev, err := d.decodeLine(l)
				if err != nil {
					decoded = false
					last = nil
					continue
				}
				last = e.process(ev)
			}
			hit := decoded && last != nil && last.ID == s.rule && last.Level == s.alert
			if run.pass && !hit {
				got := "nothing"
				if last != nil {
					got = strconv.Itoa(last.ID)
				}
				t.Errorf("%s [%s] %s: ended at %s (decoded=%v), want %d", s.file, s.title, run.key, got, decoded, s.rule)
			}
			if !run.pass && hit {
				t.Errorf("%s [%s] %s: fired %d but must not", s.file, s.title, run.key, s.rule)
			}
			if run.pass && hit {
				tested[s.rule] = true
			}
		}
	}
	for _, r := range rules {
		if !tested[r.ID] {
			t.Errorf("rule %d has no passing ini case", r.ID)
		}
	}
}

// TestCheckScript runs examples/check.sh (promtool, docker-compose,
// systemd-analyze, rsyslogd, XML). Outside CI it is skipped when a tool is
// missing; with CI=true a missing tool fails.
func TestCheckScript(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: check.sh runs external tools")
	}
	tools := []string{"bash", "promtool", "docker-compose", "systemd-analyze", "rsyslogd", "openssl", "python3"}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true but %s is not installed: check.sh cannot run", tool)
			}
			t.Skipf("%s not installed; check.sh needs %s (set CI=true to make this a failure)", tool, strings.Join(tools, ", "))
		}
	}
	cmd := exec.Command("bash", filepath.Join("..", "check.sh"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check.sh failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("all checks passed")) {
		t.Fatalf("check.sh did not report success:\n%s", out)
	}
}
