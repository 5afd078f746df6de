package wazuh_test

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/keyvalue"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// Static checks: what a manager cannot tell (it loads a rule with an id
// another file also uses, and decodes nothing of a field no decoder names).

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

type rendered struct {
	name, line, logType, path string
}

// iniFormatter is the formatter the .ini lines were made with
// (generate_tests.py): HOSTNAME mail-gw01, version 0.1.0.
func iniFormatter(t *testing.T, body syslogfmt.BodyMode) *syslogfmt.Formatter {
	t.Helper()
	cfg := syslogfmt.DefaultConfig()
	cfg.Hostname = "mail-gw01"
	cfg.Version = "0.1.0"
	cfg.Body = body
	f, err := syslogfmt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// renderSamples formats every real sample event as the forwarder sends it
// (SYSLOG_BODY=raw for the key_value line) and strips <PRI> as remoted does.
func renderSamples(t *testing.T) []rendered {
	t.Helper()
	f, fraw := iniFormatter(t, syslogfmt.BodyJSON), iniFormatter(t, syslogfmt.BodyRaw)
	var out []rendered
	for _, ev := range mimecasttest.Events(t) {
		fm, path := f, "json"
		if ev.Raw != nil {
			fm, path = fraw, "raw"
		}
		msg, shrunk, err := fm.Append(nil, &source.Record{Type: ev.Type, Time: ev.Time, JSON: ev.JSON, Raw: ev.Raw})
		if err != nil || shrunk {
			t.Fatalf("%s: format: shrunk=%v err=%v", ev.Name, shrunk, err)
		}
		s := string(msg)
		if !strings.HasPrefix(s, "<") || !strings.Contains(s, ">") {
			t.Fatalf("%s: no PRI: %q", ev.Name, s)
		}
		s = s[strings.IndexByte(s, '>')+1:]
		out = append(out, rendered{name: ev.Name, line: s, logType: ev.Type, path: path})
	}
	if len(out) != mimecasttest.AllEvents {
		t.Fatalf("rendered %d samples, want %d", len(out), mimecasttest.AllEvents)
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

type xmlDecoder struct {
	Name     string `xml:"name,attr"`
	Parent   string `xml:"parent"`
	Prematch *struct {
		Offset string `xml:"offset,attr"`
		Text   string `xml:",chardata"`
	} `xml:"prematch"`
	Regex *struct {
		Offset string `xml:"offset,attr"`
		Text   string `xml:",chardata"`
	} `xml:"regex"`
	Order string `xml:"order"`
}

func loadDecoderXML(t *testing.T) []xmlDecoder {
	t.Helper()
	var doc struct {
		Decoders []xmlDecoder `xml:"decoder"`
	}
	readXML(t, filepath.Join("decoders", decoderFile), &doc)
	return doc.Decoders
}

// ruleLevels maps each rule id of the rules file to its level.
func ruleLevels(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range loadRules(t) {
		out[strconv.Itoa(r.ID)] = r.Level
	}
	return out
}

// TestRuleIDs checks the rules' ids, levels and structure.
func TestRuleIDs(t *testing.T) {
	rules := loadRules(t)
	seen := map[int]bool{}
	for _, r := range rules {
		if r.ID < 106000 || r.ID > 106199 {
			t.Errorf("rule %d outside the project's range 106000-106199", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("rule %d defined twice", r.ID)
		}
		seen[r.ID] = true
		if r.NoAlert != "" {
			t.Errorf("rule %d: noalert would let events fall through to the default rules", r.ID)
		}
		// Levels below 3 raise no alert with the default log_alert_level.
		if r.Level >= 3 && len(r.Mitre) == 0 && !strings.Contains(r.Group, "delivery_failed") {
			t.Errorf("rule %d: alert without MITRE id", r.ID)
		}
		for _, f := range referencedFields(r) {
			if !strings.HasPrefix(f, "mimecast.") {
				t.Errorf("rule %d reads %q: only dynamic mimecast.* fields are used (static names are rejected in <field>, $(URL) expands to nothing)", r.ID, f)
			}
		}
	}
	// A rule can only refer to a rule loaded before it (Wazuh: "Signature
	// ID … not found").
	pos := map[int]int{}
	for i, r := range rules {
		pos[r.ID] = i
	}
	for i, r := range rules {
		parents := strings.FieldsFunc(r.IfSid, func(c rune) bool { return c == ',' || c == ' ' })
		if r.IfMatchedSid != 0 {
			parents = append(parents, strconv.Itoa(r.IfMatchedSid))
		}
		for _, p := range parents {
			id, _ := strconv.Atoi(p)
			if j, ok := pos[id]; !ok || j >= i {
				t.Errorf("rule %d refers to %s, which is not a rule before it in this file", r.ID, p)
			}
		}
	}
	if len(rules) < 20 {
		t.Fatalf("%d rules", len(rules))
	}
	if base := rules[0]; base.ID != 106000 || base.Level != 0 || base.DecodedAs != "mimecast" || base.IfSid != "" {
		t.Errorf("the first rule must be 106000, the level-0 decoded_as mimecast base rule")
	}
}

// TestNoCollisionWithStockRuleset checks that no rule id and no decoder name
// of ours is used by the manager's stock ruleset (/var/ossec/ruleset).
func TestNoCollisionWithStockRuleset(t *testing.T) {
	needManager(t)
	ruleID := regexp.MustCompile(`<rule\s+id="(\d+)"`)
	decName := regexp.MustCompile(`<decoder\s+name="([^"]+)"`)
	stockRules, stockDecoders := map[string]string{}, map[string]string{}
	for _, d := range []struct {
		glob string
		re   *regexp.Regexp
		into map[string]string
	}{
		{filepath.Join(ossecDir, "ruleset", "rules", "*.xml"), ruleID, stockRules},
		{filepath.Join(ossecDir, "ruleset", "decoders", "*.xml"), decName, stockDecoders},
	} {
		files, _ := filepath.Glob(d.glob)
		if len(files) < 50 {
			t.Fatalf("%s: only %d files: not a stock ruleset", d.glob, len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range d.re.FindAllSubmatch(b, -1) {
				d.into[string(m[1])] = filepath.Base(f)
			}
		}
	}
	for _, r := range loadRules(t) {
		if f, ok := stockRules[strconv.Itoa(r.ID)]; ok {
			t.Errorf("rule id %d is also used by the stock ruleset (%s)", r.ID, f)
		}
	}
	for _, d := range loadDecoderXML(t) {
		if f, ok := stockDecoders[d.Name]; ok {
			t.Errorf("decoder name %s is also used by the stock ruleset (%s)", d.Name, f)
		}
	}
}

// TestRawDecodersCoverKeyValueFields checks that the key_value decoders
// (SYSLOG_BODY=raw) name every field of Mimecast's documented API 1.0
// events (the real samples, json and key_value) and of the simulator's.
func TestRawDecodersCoverKeyValueFields(t *testing.T) {
	named := map[string]bool{}
	field := regexp.MustCompile(`\(\?i:([A-Za-z0-9_]+)\)=`)
	for _, d := range loadDecoderXML(t) {
		if d.Name != "mimecast-raw" || d.Regex == nil {
			continue
		}
		for _, o := range strings.Split(d.Order, ",") {
			named[strings.ToLower(strings.TrimPrefix(strings.TrimSpace(o), "mimecast."))] = true
		}
		if m := field.FindStringSubmatch(d.Regex.Text); m != nil && !named[strings.ToLower(m[1])] {
			t.Errorf("decoder for %s stores it under another name (%s)", m[1], d.Order)
		}
	}
	keys := map[string]string{} // key → where it was seen
	// Mimecast's documented API 1.0 fields: the real json and key_value
	// samples (the JSON of the key_value event holds its pairs).
	for _, ev := range mimecasttest.Events(t) {
		if !strings.HasPrefix(ev.Name, "v1-") {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ev.JSON, &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			keys[k] = ev.Name
		}
	}
	sim, err := simulator.New(simulator.Options{History: 2 * time.Hour, RecordsPerFile: 5})
	if err != nil {
		t.Fatal(err)
	}
	for k := range sim.V1Published(time.Now()) {
		for _, typ := range simulator.AllTypes() {
			for n := 0; ; n++ {
				ev := sim.V1Event(typ, k, n, "key_value")
				if ev == nil {
					break
				}
				pairs, err := keyvalue.Parse(ev)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pairs {
					keys[string(p.Key)] = "simulator " + typ
				}
			}
		}
	}
	if len(keys) < 60 {
		t.Fatalf("only %d distinct keys found in the samples and the simulator", len(keys))
	}
	for k, where := range keys {
		if !named[strings.ToLower(k)] {
			t.Errorf("key_value field %s (%s) has no decoder: it would be missing from data.mimecast with SYSLOG_BODY=raw", k, where)
		}
	}
}

// endpointSamples maps each stream beyond the SIEM feed to its real sample
// file in mimecasttest and the field holding the event's time.
var endpointSamples = map[string]struct{ file, timeField string }{
	"audit":             {"endpoints/audit_events.ndjson", "eventTime"},
	"dlp":               {"endpoints/dlp_logs.ndjson", "eventTime"},
	"ttp-url":           {"endpoints/ttp_url_logs.ndjson", "date"},
	"ttp-attachment":    {"endpoints/ttp_ap_logs.ndjson", "date"},
	"ttp-impersonation": {"endpoints/ttp_ip_logs.ndjson", "eventTime"},
	"held-release":      {"endpoints/message_release_logs.ndjson", "released"},
	"archive-search":    {"endpoints/archive_search_logs.ndjson", "createTime"},
}

// TestIniUsesFormatterOutputForEndpointSamples checks that the .ini lines
// holding a real sample of the logs beyond the SIEM feed unchanged are
// byte for byte what the forwarder's formatter makes of it.
// renderEndpointSamples formats every real sample of the logs beyond the
// SIEM feed as the forwarder sends it (<PRI> stripped), keyed by MSGID and
// compact sample.
func renderEndpointSamples(t *testing.T) map[string]string {
	t.Helper()
	f := iniFormatter(t, syslogfmt.BodyJSON)
	rendered := map[string]string{}
	for stream, s := range endpointSamples {
		for i, l := range mimecasttest.Lines(t, s.file) {
			js := mimecasttest.Compact(t, l)
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			ts, _ := m[s.timeField].(string)
			at, err := time.Parse("2006-01-02T15:04:05-0700", ts)
			if err != nil {
				if at, err = time.Parse(time.RFC3339, ts); err != nil {
					continue // records without a time are not used unchanged
				}
			}
			msg, _, err := f.Append(nil, &source.Record{Type: stream, Time: at, JSON: js})
			if err != nil {
				t.Fatalf("%s line %d: %v", s.file, i+1, err)
			}
			rendered[stream+" "+string(js)] = string(msg[strings.IndexByte(string(msg), '>')+1:])
		}
	}
	return rendered
}

func TestIniUsesFormatterOutputForEndpointSamples(t *testing.T) {
	rendered := renderEndpointSamples(t)
	matched := 0
	for _, s := range loadIni(t) {
		for _, run := range s.runs {
			for _, l := range run.lines {
				m := msgRe.FindStringSubmatch(l)
				if m == nil || endpointSamples[m[1]].file == "" {
					continue
				}
				body := strings.TrimPrefix(m[2], `{"mimecast":{"logType":"`+m[1]+`",`)
				want, ok := rendered[m[1]+" {"+strings.TrimSuffix(body, "}")]
				if !ok {
					continue // a derived line (fields changed)
				}
				matched++
				if l != want {
					t.Errorf("[%s]: the line differs from the forwarder's output:\n got %s\nwant %s", s.title, l, want)
				}
			}
		}
	}
	if matched < 10 {
		t.Errorf("only %d ini lines hold an unchanged endpoint sample", matched)
	}
}
