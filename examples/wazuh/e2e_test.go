package wazuh_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/keyvalue"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// sentEvent is one event the simulator published, as the forwarder sends it.
type sentEvent struct {
	logType string
	body    string            // MSG: {"mimecast":{…}} or the key_value line
	fields  map[string]string // what data.mimecast must hold, Wazuh's view
	raw     bool              // key_value line with SYSLOG_BODY=raw
}

// e2eCase is one way of reaching the manager.
type e2eCase struct {
	proto   string // tcp or udp
	api     string // v2 or v1
	format  string // v1: json or key_value
	history time.Duration
}

func (c e2eCase) name() string {
	n := c.proto + "-" + c.api
	if c.api == "v1" {
		n += "-" + strings.ReplaceAll(c.format, "_", "")
	}
	return n
}

// TestEndToEnd runs simulator → forwarder (`run --once`, default flow
// control) → the manager's remoted, over TCP and UDP, for API 2.0 (all ten
// types) and API 1.0 (json, and key_value sent raw), and checks in
// archives.json and alerts.json that every event arrived once, was decoded
// by the mimecast decoder with every non-empty field intact, and raised the
// alert its detection calls for.
func TestEndToEnd(t *testing.T) {
	needManager(t)
	levels := ruleLevels(t)
	cases := []e2eCase{
		{proto: "tcp", api: "v2", history: 5 * time.Hour}, // 1,000 events: every detection appears
		{proto: "udp", api: "v2", history: time.Hour},
		{proto: "tcp", api: "v1", format: "json", history: time.Hour},
		{proto: "tcp", api: "v1", format: "key_value", history: time.Hour},
		{proto: "udp", api: "v1", format: "json", history: time.Hour},
		{proto: "udp", api: "v1", format: "key_value", history: time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			sim, err := simulator.NewServer(simulator.Options{History: c.history, LiveInterval: -1, RecordsPerFile: 5, RateLimit: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sim.Close)
			host := fmt.Sprintf("e2e-%s-%d", c.name(), time.Now().UnixNano())
			archives, alerts := newTail(t, archivesPath()), newTail(t, alertsPath())

			stderr := runForwarder(t, 2*time.Minute, forwarderVars(t, sim, c, host), "run", "--once")
			want := published(t, sim, c)
			n := forwardedCount(t, stderr)
			if n != len(want) {
				t.Fatalf("forwarder sent %d records, the simulator published %d", n, len(want))
			}

			got := archives.collect(t, n, 20*time.Second, fromHost(host))
			checkArchived(t, got, want)
			if t.Failed() {
				return
			}
			fired := alerts.collect(t, n, 3*time.Second, fromHost(host))
			families := checkAlerts(t, fired, want, levels, func(logType string, f map[string]string) (detection, bool) {
				return expectedDetection(c.api, logType, f)
			})
			if c.api == "v2" && c.proto == "tcp" {
				for _, fam := range []string{"receipt rejected", "held", "av", "spam", "url blocked", "attachment", "impersonation"} {
					if families[fam] == 0 {
						t.Errorf("no %s alert in %d events: the simulator's history should hold some", fam, n)
					}
				}
			}
			t.Logf("%d events archived and decoded, %d alerts: %v", len(got), len(fired), families)
		})
	}
}

// forwarderVars is the environment of `run --once` against sim for c.
func forwarderVars(t *testing.T, sim *simulator.Simulator, c e2eCase, host string) map[string]string {
	v := map[string]string{
		"MIMECAST_BASE_URL":            sim.URL(),
		"MIMECAST_REQUESTS_PER_MINUTE": "0",
		"SYSLOG_ADDRESS":               c.proto + "://127.0.0.1:5514",
		"SYSLOG_HOSTNAME":              host,
		"STATE_DIR":                    t.TempDir(),
		"METRICS_ADDRESS":              "",
		// Every file published up to now, also between 00:00 and 01:00
		// UTC (a caught-up stream keeps yesterday for MIMECAST_DAY_GRACE).
		"MIMECAST_DAY_GRACE": "0",
	}
	if c.api == "v2" {
		id, secret := sim.Credentials()
		v["MIMECAST_API"], v["MIMECAST_CLIENT_ID"], v["MIMECAST_CLIENT_SECRET"] = "v2", id, secret
		v["MIMECAST_TYPES"] = strings.Join(mimecast.Types, ",") // the SIEM feed; TestEndToEndLogs has the rest
		return v
	}
	v["MIMECAST_TYPES"] = "siem-v1"
	appID, appKey, accessKey, secretKey := sim.V1Credentials()
	v["MIMECAST_API"], v["MIMECAST_APP_ID"], v["MIMECAST_APP_KEY"] = "v1", appID, appKey
	v["MIMECAST_ACCESS_KEY"], v["MIMECAST_SECRET_KEY"] = accessKey, secretKey
	v["MIMECAST_FILE_FORMAT"] = c.format
	if c.format == "key_value" {
		v["SYSLOG_BODY"] = "raw"
	}
	return v
}

// published lists every event sim serves for c, keyed by its MSG.
func published(t *testing.T, sim *simulator.Simulator, c e2eCase) map[string]*sentEvent {
	t.Helper()
	now := time.Now()
	out := map[string]*sentEvent{}
	add := func(typ string, ev []byte, raw bool) {
		s := &sentEvent{logType: typ, raw: raw, fields: map[string]string{}}
		if raw {
			s.body = string(ev)
			pairs, err := keyvalue.Parse(ev)
			if err != nil {
				t.Fatalf("simulator key_value line: %v\n%s", err, ev)
			}
			for _, p := range pairs {
				v := string(p.Value)
				if p.Wrapped {
					v = `\` + v + `\` // the decoders keep the wrapping
				}
				if v != "" {
					s.fields[string(p.Key)] = v
				}
			}
			s.fields["logType"] = syslogfmt.MsgID(typ)
		} else {
			inner := strings.TrimPrefix(string(ev), "{")
			if inner != "}" {
				inner = "," + inner
			}
			s.body = `{"mimecast":{"logType":"` + typ + `"` + inner + "}"
			v, err := decodeJSON([]byte(s.body))
			if err != nil {
				t.Fatalf("simulator event: %v\n%s", err, ev)
			}
			flatten("", v.(map[string]any)["mimecast"], s.fields)
		}
		if _, dup := out[s.body]; dup {
			t.Fatalf("the simulator published the same event twice: %s", s.body)
		}
		out[s.body] = s
	}
	for _, typ := range simulator.AllTypes() {
		if c.api == "v2" {
			for f, n := range sim.Records(typ, now) {
				if f.Deliverable(n) {
					add(typ, sim.Event(typ, f.Index, n), false)
				}
			}
			continue
		}
		for k := range sim.V1Published(now) {
			for n := 0; ; n++ {
				ev := sim.V1Event(typ, k, n, c.format)
				if ev == nil {
					break
				}
				add(typ, ev, c.format == "key_value")
			}
		}
	}
	return out
}

// msgRe splits what remoted archived (the message without <PRI>) into
// header and MSG: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG.
var msgRe = regexp.MustCompile(`^1 \S+ \S+ mimecast \S+ (\S+) (?:-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+) (.*)$`)

// checkArchived checks that got holds every event of want exactly once,
// decoded by the mimecast decoder with all its fields.
func checkArchived(t *testing.T, got []*wazuhEvent, want map[string]*sentEvent) {
	t.Helper()
	seen := map[string]int{}
	bad := 0
	for _, ev := range got {
		m := msgRe.FindStringSubmatch(ev.FullLog)
		if m == nil {
			t.Errorf("archived full_log is not the forwarder's RFC5424 line: %.200s", ev.FullLog)
			continue
		}
		body := m[2]
		s, ok := want[body]
		if !ok {
			t.Errorf("archived an event the simulator did not publish: %.200s", ev.FullLog)
			continue
		}
		seen[body]++
		if m[1] != syslogfmt.MsgID(s.logType) {
			t.Errorf("MSGID %q, want %q", m[1], syslogfmt.MsgID(s.logType))
		}
		if ev.Decoder.Name != "mimecast" {
			t.Errorf("decoded by %q, want mimecast: %.200s", ev.Decoder.Name, ev.FullLog)
			continue
		}
		if diffs := diffFields(s.fields, dataMimecast(ev), s.raw); len(diffs) > 0 {
			if bad++; bad <= 5 {
				t.Errorf("data.mimecast differs from what was sent (%d fields): %s\nsent: %s", len(diffs), strings.Join(diffs, "; "), s.body)
			}
		}
	}
	for body, s := range want {
		switch seen[body] {
		case 1:
		case 0:
			t.Errorf("%s event not archived: %.200s", s.logType, body)
		default:
			t.Errorf("%s event archived %d times: %.200s", s.logType, seen[body], body)
		}
	}
	if bad > 5 {
		t.Errorf("… %d events in all with missing or different fields", bad)
	}
}

// detection is an alert that an event must raise: a family of rules (the
// first is the detection itself, the others its correlations and
// refinements, which replace it in alerts.json when they fire).
type detection struct {
	family string
	rules  []string
}

// expectedDetection says which alert, if any, an event must raise: the
// conditions the README gives for each detection rule, on the fields as
// Wazuh sees them.
func expectedDetection(api, logType string, f map[string]string) (detection, bool) {
	get := func(k string) string {
		for kk, v := range f {
			if strings.EqualFold(kk, k) {
				return v
			}
		}
		return ""
	}
	lt := strings.ReplaceAll(logType, "-", " ")
	if api == "v2" {
		switch {
		case lt == "receipt" && get("action") == "Rej":
			return detection{"receipt rejected", []string{"106001", "106003", "106005"}}, true
		case lt == "process" && get("action") == "Hld":
			return detection{"held", []string{"106010"}}, true
		case lt == "delivery" && get("delivered") == "false":
			return detection{"delivery failed", []string{"106012"}}, true
		case lt == "av" && get("virusFound") != "":
			return detection{"av", []string{"106020", "106022", "106024"}}, true
		case lt == "url protect" && regexp.MustCompile(`(?i)^block`).MatchString(get("action")):
			return detection{"url blocked", []string{"106030", "106032"}}, true
		case lt == "internal email protect" && get("scanResults") != "":
			return detection{"internal email protect", []string{"106034"}}, true
		case lt == "impersonation protect":
			return detection{"impersonation", []string{"106040", "106042", "106044", "106046", "106048", "106050", "106052"}}, true
		case lt == "attachment protect":
			return detection{"attachment", []string{"106060", "106062", "106064", "106066", "106068"}}, true
		case lt == "spam":
			return detection{"spam", []string{"106080", "106082"}}, true
		}
		return detection{}, false
	}
	switch {
	case lt == "receipt" && get("Act") == "Rej":
		return detection{"receipt rejected", []string{"106002", "106004", "106006"}}, true
	case lt == "process" && get("Act") == "Hld":
		return detection{"held", []string{"106011"}}, true
	case lt == "delivery" && get("Delivered") == "false":
		return detection{"delivery failed", []string{"106013"}}, true
	case lt == "av" && get("Virus") != "":
		return detection{"av", []string{"106021", "106023", "106025"}}, true
	case lt == "url protect" && regexp.MustCompile(`(?i)malicious|block|phish|suspicious|dangerous`).MatchString(get("reason")):
		return detection{"url blocked", []string{"106031", "106033"}}, true
	case lt == "internal email protect" && get("ScanResultInfo") != "":
		return detection{"internal email protect", []string{"106035"}}, true
	case lt == "impersonation protect":
		return detection{"impersonation", []string{"106041", "106043", "106045", "106047", "106049", "106051", "106053"}}, true
	case lt == "attachment protect":
		return detection{"attachment", []string{"106061", "106063", "106065", "106067", "106069"}}, true
	case lt == "spam":
		return detection{"spam", []string{"106081", "106083"}}, true
	}
	return detection{}, false
}

// checkAlerts checks that every event of want with a detection (detect)
// raised exactly one alert of its family at the rule's level, and that no
// other event raised one of ours (but for a correlation detect allows
// without requiring it). It returns the alert count per family.
func checkAlerts(t *testing.T, fired []*wazuhEvent, want map[string]*sentEvent, levels map[string]int,
	detect func(logType string, fields map[string]string) (detection, bool)) map[string]int {
	t.Helper()
	byBody := map[string]*wazuhEvent{}
	for _, a := range fired {
		m := msgRe.FindStringSubmatch(a.FullLog)
		if m == nil {
			t.Errorf("alert on a line that is not ours: %.200s", a.FullLog)
			continue
		}
		if _, dup := byBody[m[2]]; dup {
			t.Errorf("two alerts for one event: rule %s: %.200s", a.Rule.ID, a.FullLog)
		}
		byBody[m[2]] = a
	}
	families := map[string]int{}
	for body, s := range want {
		det, must := detect(s.logType, s.fields)
		a := byBody[body]
		switch {
		case a == nil:
			if must {
				t.Errorf("%s event raised no alert (want %s, rule %v): %.200s", s.logType, det.family, det.rules, body)
			}
			continue
		case !slices.Contains(det.rules, a.Rule.ID):
			if must {
				t.Errorf("%s event raised rule %s, want one of %v: %.200s", s.logType, a.Rule.ID, det.rules, body)
			} else {
				t.Errorf("%s event raised rule %s but has no detection: %.200s", s.logType, a.Rule.ID, body)
			}
			continue
		}
		if lv, ok := levels[a.Rule.ID]; !ok || lv != a.Rule.Level {
			t.Errorf("alert of rule %s has level %d, the rules file says %d", a.Rule.ID, a.Rule.Level, lv)
		}
		families[det.family]++
	}
	return families
}
