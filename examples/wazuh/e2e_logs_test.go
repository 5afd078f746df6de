package wazuh_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// TestEndToEndLogs runs the logs beyond the SIEM feed (audit, DLP, TTP URL,
// attachment and impersonation, held release, archive search) and the Cloud
// Integrated streams through the simulator, the forwarder (`run --once`)
// and remoted over TCP, API 2.0, and checks in archives.json that every
// event arrived once, decoded by the mimecast decoder with every non-empty
// field, and in alerts.json that each raised the alert its detection calls
// for (expectedLogDetection) and no other.
func TestEndToEndLogs(t *testing.T) {
	needManager(t)
	levels := ruleLevels(t)
	sim, err := simulator.NewServer(simulator.Options{History: 2 * time.Hour, LiveInterval: -1, RecordsPerFile: 5, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	host := fmt.Sprintf("e2e-logs-%d", time.Now().UnixNano())
	streams := append(simulator.LogStreams(), ciStreams()...)
	vars := forwarderVars(t, sim, e2eCase{proto: "tcp", api: "v2"}, host)
	vars["MIMECAST_TYPES"] = strings.Join(streams, ",")
	vars["MIMECAST_LOOKBACK"] = "2h"
	archives, alerts := newTail(t, archivesPath()), newTail(t, alertsPath())

	start := time.Now()
	stderr := runForwarder(t, 2*time.Minute, vars, "run", "--once")
	n := forwardedCount(t, stderr)
	// What the simulator serves for the look-back, with a margin on both
	// sides: the run's own windows end at the moment it reads them.
	want := map[string]*sentEvent{}
	for _, stream := range simulator.LogStreams() {
		for _, ev := range sim.LogEvents(stream, start.Add(-2*time.Hour-time.Minute), time.Now()) {
			addSent(t, want, stream, ev)
		}
	}
	for _, typ := range simulator.CITypes() {
		for f, i := range sim.Records(typ, time.Now()) {
			if f.Deliverable(i) {
				addSent(t, want, "ci-"+typ, sim.Event(typ, f.Index, i))
			}
		}
	}
	if n < 100 || n > len(want) {
		t.Fatalf("forwarder sent %d records; the simulator serves %d in and around the look-back", n, len(want))
	}
	got := archives.collect(t, n, 20*time.Second, fromHost(host))
	if len(got) != n {
		t.Errorf("Wazuh archived %d of the %d events sent", len(got), n)
	}
	seen := map[string]*sentEvent{}
	for _, ev := range got {
		m := msgRe.FindStringSubmatch(ev.FullLog)
		if m == nil {
			t.Errorf("archived full_log is not the forwarder's line: %.200s", ev.FullLog)
			continue
		}
		s, ok := want[m[2]]
		switch {
		case !ok:
			t.Errorf("archived an event the simulator did not serve: %.200s", ev.FullLog)
			continue
		case seen[m[2]] != nil:
			t.Errorf("archived twice: %.200s", ev.FullLog)
		case ev.Decoder.Name != "mimecast":
			t.Errorf("decoded by %q: %.200s", ev.Decoder.Name, ev.FullLog)
		}
		seen[m[2]] = s
		if diffs := diffFields(s.fields, dataMimecast(ev), false); len(diffs) > 0 {
			t.Errorf("%s: data.mimecast differs from what was sent: %s\nsent: %.300s", s.logType, strings.Join(diffs, "; "), s.body)
		}
	}
	// Every log event well inside the look-back must have arrived.
	for _, stream := range simulator.LogStreams() {
		for _, ev := range sim.LogEvents(stream, start.Add(-2*time.Hour+time.Minute), start.Add(-time.Minute)) {
			if body := logBody(stream, ev); seen[body] == nil {
				t.Errorf("%s event not archived: %.200s", stream, body)
			}
		}
	}
	perStream := map[string]int{}
	for _, s := range seen {
		perStream[s.logType]++
	}
	for _, stream := range streams {
		if perStream[stream] == 0 {
			t.Errorf("no %s event archived", stream)
		}
	}

	fired := alerts.collect(t, n, 3*time.Second, fromHost(host))
	families := checkAlerts(t, fired, seen, levels, expectedLogDetection)
	for _, fam := range []string{"failed logon", "dlp block", "malicious click", "malicious attachment", "impersonation", "malicious released"} {
		if families[fam] == 0 {
			t.Errorf("no %s alert among %d events: the simulator's events should hold some", fam, len(seen))
		}
	}
	t.Logf("%d events archived (%v), %d alerts: %v", len(got), perStream, len(fired), families)
}

func ciStreams() []string {
	var out []string
	for _, typ := range simulator.CITypes() {
		out = append(out, "ci-"+typ)
	}
	return out
}

// logBody is the MSG the forwarder makes of ev of stream.
func logBody(stream string, ev []byte) string {
	inner := strings.TrimPrefix(string(ev), "{")
	if inner != "}" {
		inner = "," + inner
	}
	return `{"mimecast":{"logType":"` + stream + `"` + inner + "}"
}

// addSent records ev of stream in want as the forwarder sends it.
func addSent(t *testing.T, want map[string]*sentEvent, stream string, ev []byte) {
	t.Helper()
	s := &sentEvent{logType: stream, body: logBody(stream, ev), fields: map[string]string{}}
	v, err := decodeJSON([]byte(s.body))
	if err != nil {
		t.Fatalf("simulator %s event: %v\n%s", stream, err, ev)
	}
	flatten("", v.(map[string]any)["mimecast"], s.fields)
	want[s.body] = s
}

// expectedLogDetection is expectedDetection for the logs beyond the SIEM
// feed: the conditions of rules 106101–106161 on the fields as Wazuh sees
// them. Correlations may replace the detection (same family).
func expectedLogDetection(logType string, f map[string]string) (detection, bool) {
	get := func(k string) string { return f[k] }
	match := func(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
	switch logType {
	case "audit":
		switch at := get("auditType"); {
		case match(`(?i)(logon|login|authentication).*(fail|denied|locked)|(fail|denied|locked).*(logon|login|authentication)`, at):
			return detection{"failed logon", []string{"106101", "106102"}}, true
		case match(`(?i)support (login|logon|access)`, at):
			return detection{"support logon", []string{"106103"}}, true
		case match(`(?i)^integrations_and_apis$`, get("category")) && match(`(?i)creat|add|updat|modif|chang|delet|remov|enabl|disabl|revok|regenerat|key|secret`, at):
			return detection{"api change", []string{"106104"}}, true
		case match(`(?i)^(user_account_and_role_logs|profile_group_logs|account_logs|policy_logs|policies_logs)$`, get("category")) &&
			match(`(?i)role|permission|polic|creat|add|updat|modif|chang|delet|remov|enabl|disabl`, at):
			return detection{"account change", []string{"106105"}}, true
		case match(`(?i)export|download`, at):
			return detection{"export", []string{"106106", "106107"}}, true
		}
	case "dlp":
		if match(`(?i)^(hold|held|block|blocked|bounce|bounced|reject|rejected|quarantine)`, get("action")) {
			return detection{"dlp block", []string{"106111"}}, true
		}
	case "ttp-url":
		if match(`(?i)^malicious$`, get("scanResult")) {
			return detection{"malicious click", []string{"106121", "106122", "106123"}}, true
		}
	case "ttp-attachment":
		if match(`(?i)^malicious$`, get("result")) {
			return detection{"malicious attachment", []string{"106131"}}, true
		}
	case "ttp-impersonation":
		if match(`(?i)^true$`, get("taggedMalicious")) {
			return detection{"impersonation", []string{"106141"}}, true
		}
	case "held-release":
		if match(`(?i)^released$`, get("status")) &&
			match(`(?i)malicious|malware|virus|impersonation|phish|attachment protect|url protect|dangerous|spoof|threat`, get("heldReason")) {
			return detection{"malicious released", []string{"106151"}}, true
		}
	case "archive-search":
		// 106161 needs 10 searches of one admin within an hour: allowed,
		// not predicted per event.
		if get("emailAddr") != "" {
			return detection{"archive searches", []string{"106161"}}, false
		}
	}
	return detection{}, false
}
