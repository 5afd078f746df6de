package wazuh_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func logtestSocket() string { return filepath.Join(ossecDir, "queue", "sockets", "logtest") }

// TestContentLoads checks that the manager started with the decoders and
// rules installed and logged no error or warning while loading them. The
// minimal test manager has no MITRE database; its four "Mitre" errors at
// every start are not ours.
func TestContentLoads(t *testing.T) {
	needManager(t)
	log := env.install.loadLog
	for _, want := range []string{"wazuh-analysisd: INFO: Started", "Listening on port 5514/TCP", "Listening on port 5514/UDP"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q after the restart:\n%s", want, log)
		}
	}
	problem := regexp.MustCompile(`(?i)\b(ERROR|CRITICAL|WARNING)\b`)
	mitre := regexp.MustCompile(`(?i)mitre`)
	for _, l := range strings.Split(log, "\n") {
		if problem.MatchString(l) && !mitre.MatchString(l) {
			t.Errorf("the manager complained while loading our content: %s", l)
		}
	}
	if out, err := wazuhControl("status"); err != nil {
		t.Errorf("a daemon is down after loading our content: %v\n%s", err, out)
	}
}

// runtests runs examples/wazuh/runtests.py on the manager's logtest socket.
func runtests(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", append([]string{"runtests.py", "--socket", logtestSocket()}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("runtests.py: %v\n%s", err, out)
	}
	return string(out), code
}

var summaryRe = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// TestRuntests runs every .ini case through the real logtest socket with
// Wazuh's runtests.py semantics (a repeated key is one session, the last
// event is checked; rule, alert level and decoder are compared).
func TestRuntests(t *testing.T) {
	needManager(t)
	cases := 0
	for _, s := range loadIni(t) {
		cases += len(s.runs)
	}
	out, code := runtests(t)
	m := summaryRe.FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != fmt.Sprint(cases) || m[2] != "0" {
		t.Fatalf("runtests.py: exit %d, want 0 with %d cases passed:\n%s", code, cases, out)
	}
}

// TestRuntestsReportsFailures checks that runtests.py fails a pass case that
// ends elsewhere and a fail case that ends at the expected rule.
func TestRuntestsReportsFailures(t *testing.T) {
	needManager(t)
	var line string
	for _, s := range loadIni(t) {
		if s.rule == 106020 {
			line = s.runs[0].lines[0]
		}
	}
	if line == "" {
		t.Fatal("no case for rule 106020 in the ini files")
	}
	ini := filepath.Join(t.TempDir(), "broken.ini")
	content := "[wrong rule expected]\nlog 1 pass = " + line + "\nrule = 106080\nalert = 5\ndecoder = mimecast\n\n" +
		"[right rule, but a fail case]\nlog 1 fail = " + line + "\nrule = 106020\nalert = 12\ndecoder = mimecast\n\n" +
		"[right rule]\nlog 1 pass = " + line + "\nrule = 106020\nalert = 12\ndecoder = mimecast\n"
	if err := os.WriteFile(ini, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runtests(t, ini)
	m := summaryRe.FindStringSubmatch(out)
	if code != 1 || m == nil || m[1] != "1" || m[2] != "2" {
		t.Fatalf("runtests.py on a file with 2 failing cases: exit %d, want 1 and \"1 passed, 2 failed\":\n%s", code, out)
	}
	if !strings.Contains(out, "FAILED: [wrong rule expected]") || !strings.Contains(out, "got rule=106020 alert=12 decoder=mimecast") {
		t.Errorf("runtests.py does not say what failed:\n%s", out)
	}
}

// logtest is a client of the manager's logtest socket: one session.
type logtest struct {
	t     *testing.T
	token string
}

type logtestOutput struct {
	Decoder struct{ Name string } `json:"decoder"`
	Data    map[string]any        `json:"data"`
	Rule    struct {
		ID    string `json:"id"`
		Level int    `json:"level"`
	} `json:"rule"`
}

// call sends one request: 4-byte little-endian length, then JSON.
func (lt *logtest) call(command string, params map[string]any) json.RawMessage {
	lt.t.Helper()
	req, _ := json.Marshal(map[string]any{"version": 1, "origin": map[string]string{"name": "wazuh_test", "module": "go"},
		"command": command, "parameters": params})
	c, err := net.DialTimeout("unix", logtestSocket(), 10*time.Second)
	if err != nil {
		lt.t.Fatalf("logtest socket: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(req)))
	if _, err := c.Write(append(hdr[:], req...)); err != nil {
		lt.t.Fatalf("logtest socket: %v", err)
	}
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		lt.t.Fatalf("logtest socket: %v", err)
	}
	body := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		lt.t.Fatalf("logtest socket: %v", err)
	}
	var ans struct {
		Error   int             `json:"error"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Error != 0 {
		lt.t.Fatalf("logtest %s: error %d %s (%v)", command, ans.Error, ans.Message, err)
	}
	return ans.Data
}

// decode sends one event in the session and returns analysisd's output.
func (lt *logtest) decode(line string) *logtestOutput {
	lt.t.Helper()
	p := map[string]any{"event": line, "log_format": "syslog", "location": "127.0.0.1"}
	if lt.token != "" {
		p["token"] = lt.token
	}
	var d struct {
		Token  string        `json:"token"`
		Output logtestOutput `json:"output"`
	}
	if err := json.Unmarshal(lt.call("log_processing", p), &d); err != nil {
		lt.t.Fatal(err)
	}
	if lt.token == "" {
		lt.token = d.Token
		lt.t.Cleanup(func() { lt.call("remove_session", map[string]any{"token": lt.token}) })
	}
	return &d.Output
}

// TestRulesReadDecodedFields checks that every field a rule reads (its
// <field>s, same/different_field and $(…) in its description) is one that
// the real manager decodes from a real sample, or, for the fields no real
// sample carries, from the .ini lines that set it on a copy of one. This
// catches rules written against a wrong field name.
func TestRulesReadDecodedFields(t *testing.T) {
	needManager(t)
	decoded := func(lines []string) map[string]bool {
		lt := &logtest{t: t}
		out := map[string]bool{}
		for _, l := range lines {
			o := lt.decode(l)
			if o.Decoder.Name != "mimecast" {
				t.Fatalf("decoded by %q: %.200s", o.Decoder.Name, l)
			}
			fields := map[string]string{}
			flatten("", o.Data, fields)
			for k := range fields {
				out[strings.ToLower(k)] = true
			}
		}
		return out
	}
	var samples []string
	for _, s := range renderSamples(t) {
		samples = append(samples, s.line)
	}
	for _, l := range renderEndpointSamples(t) {
		samples = append(samples, l)
	}
	inSamples := decoded(samples)
	var iniLines []string
	seen := map[string]bool{}
	for _, s := range loadIni(t) {
		for _, run := range s.runs {
			if l := run.lines[len(run.lines)-1]; run.pass && !seen[l] {
				seen[l] = true
				iniLines = append(iniLines, l)
			}
		}
	}
	inIni := decoded(iniLines)
	// Fields no real sample carries (non-null), and why.
	onlyInIni := map[string]string{
		"mimecast.rejtype":               "API 1.0 rejection fields: no real API 1.0 rejected receipt is public",
		"mimecast.rejcode":               "API 1.0 rejection fields: no real API 1.0 rejected receipt is public",
		"mimecast.rejinfo":               "API 1.0 rejection fields: no real API 1.0 rejected receipt is public",
		"mimecast.deliveryerrors":        "null in every API 2.0 delivery sample (all delivered); null is discarded",
		"mimecast.operator.emailaddress": "held-release operator is an object {emailAddress} in real API 2.0 data; the samples kept here have the documented string",
	}
	for _, r := range loadRules(t) {
		for _, f := range referencedFields(r) {
			lf := strings.ToLower(f)
			switch {
			case inSamples[lf]:
				if _, ok := onlyInIni[lf]; ok {
					t.Errorf("%s is in the samples now: drop it from onlyInIni", f)
				}
			case onlyInIni[lf] != "" && inIni[lf]:
			default:
				t.Errorf("rule %d reads %s, which the manager decodes from no real sample (nor documented ini line)", r.ID, f)
			}
		}
	}
}
