package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// TestCheck runs check against a simulator and a receiver: everything ok,
// a refused secret, a receiver that is down, and API 1.0.
func TestCheck(t *testing.T) {
	sim := newSim(t, simulator.Options{})
	rcv := newReceiver(t)
	ctx := testCtx(t, 30*time.Second)
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downAddr := "tcp://" + down.Addr().String()
	down.Close()

	stateDir := t.TempDir()
	freshState := filepath.Join(stateDir, "wazuh-analysisd.state")
	writeWazuhState(t, freshState, wazuhState(t, 3, "0.12"))
	staleState := filepath.Join(stateDir, "old.state")
	writeWazuhState(t, staleState, wazuhState(t, 0, "0.00"))
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(staleState, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	missingState := filepath.Join(stateDir, "missing.state")

	// v2Vars names the ten SIEM types: one line for the API, then one per
	// stream.
	var siem []string
	for _, typ := range mimecast.Types {
		siem = append(siem, mimecast.StreamName(typ))
	}
	v2ok := append([]string{"ok   Mimecast API 2.0 at " + sim.URL() + ": authenticated, 10 of 10 streams readable"}, readableLines(siem...)...)
	lines := func(l ...any) []string {
		var out []string
		for _, x := range l {
			switch x := x.(type) {
			case string:
				out = append(out, x)
			case []string:
				out = append(out, x...)
			}
		}
		return out
	}

	const wrongSecret = "WrongSecret-CHECK-4411"
	cases := []struct {
		name     string
		vars     map[string]string
		wantCode int
		want     []string // stdout lines, in order, each a prefix
	}{
		{"all ok v2", v2Vars(t, sim, rcv.addr()), 0, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ["+rcv.addr()+"]",
			"ok   STATE_DIR ",
		)},
		{"all ok v1", v1Vars(t, sim, rcv.addr()), 0, []string{
			"ok   configuration is valid",
			"ok   Mimecast API 1.0 at " + sim.URL() + ": authenticated, 1 of 1 streams readable",
			"ok   stream siem-v1: readable",
			"ok   syslog receiver reachable: [" + rcv.addr() + "]",
			"ok   STATE_DIR ",
		}},
		{"wrong secret", with(v2Vars(t, sim, rcv.addr()), "MIMECAST_CLIENT_SECRET", wrongSecret), 1, []string{
			"ok   configuration is valid",
			"FAIL Mimecast API 2.0: mimecast refused the credentials: ",
			"ok   syslog receiver reachable: ",
			"ok   STATE_DIR ",
		}},
		{"wrong v1 secret key", with(v1Vars(t, sim, rcv.addr()), "MIMECAST_SECRET_KEY", "V3JvbmdTZWNyZXQtQ0hFQ0stNDQxMQ=="), 1, []string{
			"ok   configuration is valid",
			"FAIL Mimecast API 1.0: ",
			"ok   syslog receiver reachable: ",
			"ok   STATE_DIR ",
		}},
		{"receiver down", v2Vars(t, sim, downAddr), 1, lines(
			"ok   configuration is valid",
			v2ok,
			"FAIL syslog receiver: ",
			"ok   STATE_DIR ",
		)},
		{"corrupt cursor", withCorruptCursor(t, v2Vars(t, sim, rcv.addr()), "url-protect"), 1, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ",
			"FAIL checkpoint: ",
		)},
		{"wazuh state readable", with(v2Vars(t, sim, rcv.addr()), "WAZUH_ANALYSISD_STATE", freshState), 0, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ["+rcv.addr()+"], output rate limit: adaptive, from 1000 up to 50000 events/s, following "+freshState,
			"ok   WAZUH_ANALYSISD_STATE "+freshState+": written ",
			"ok   STATE_DIR ",
		)},
		{"wazuh state missing", with(v2Vars(t, sim, rcv.addr()), "WAZUH_ANALYSISD_STATE", missingState), 1, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ",
			"FAIL WAZUH_ANALYSISD_STATE: wazuh analysisd state: open "+missingState+": no such file or directory (run sends 1000 events/s until it can use the file)",
			"ok   STATE_DIR ",
		)},
		{"wazuh state stale", with(v2Vars(t, sim, rcv.addr()), "WAZUH_ANALYSISD_STATE", staleState, "SYSLOG_MAX_EPS", "700"), 1, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ["+rcv.addr()+"], output rate limit: adaptive, from 700 up to 700 events/s",
			"FAIL WAZUH_ANALYSISD_STATE: state file not rewritten: "+staleState+" was last written 1h0m0s ago: is wazuh-analysisd running? (in Docker mount the directory, not the file) (run sends 700 events/s until it can use the file)",
			"ok   STATE_DIR ",
		)},
		{"rate limit shown", with(v2Vars(t, sim, rcv.addr()), "SYSLOG_MAX_EPS", "0"), 0, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ["+rcv.addr()+"], output rate limit: unlimited",
			"ok   STATE_DIR ",
		)},
		{"state dir not created yet", with(v2Vars(t, sim, rcv.addr()), "STATE_DIR", filepath.Join(t.TempDir(), "new")), 0, lines(
			"ok   configuration is valid",
			v2ok,
			"ok   syslog receiver reachable: ",
			"ok   STATE_DIR ",
		)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, ctx, tc.vars, nil, "check")
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), r.stdout)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
				}
			}
			for _, s := range []string{wrongSecret, "V3JvbmdTZWNyZXQtQ0hFQ0stNDQxMQ==", tc.vars["MIMECAST_CLIENT_SECRET"], tc.vars["MIMECAST_SECRET_KEY"], tc.vars["MIMECAST_APP_KEY"]} {
				if s != "" && (strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s)) {
					t.Errorf("check printed the secret %q", s)
				}
			}
		})
	}
	// The wrong-secret line names the problem and the variables to check.
	r := runCmd(t, ctx, cases[2].vars, nil, "check")
	if !strings.Contains(r.stdout, "HTTP 401") || !strings.Contains(r.stdout, "check MIMECAST_CLIENT_ID, MIMECAST_CLIENT_SECRET") {
		t.Errorf("FAIL line does not name the problem:\n%s", r.stdout)
	}
	r = runCmd(t, ctx, cases[4].vars, nil, "check")
	if !strings.Contains(r.stdout, "connection refused") || !strings.Contains(r.stdout, downAddr) {
		t.Errorf("receiver FAIL line does not name the receiver and the problem:\n%s", r.stdout)
	}
	r = runCmd(t, ctx, with(v2Vars(t, sim, rcv.addr()), "WAZUH_ANALYSISD_STATE", freshState), nil, "check")
	if !regexp.MustCompile(`: written \d+s ago, event queue 12 % of 16384 events, events_dropped 3, events_received 0\n`).MatchString(r.stdout) {
		t.Errorf("the state line does not say what the file says:\n%s", r.stdout)
	}
	rcv.drain(t)
	if rcv.count() != 0 {
		t.Errorf("check forwarded %d messages; it must forward none", rcv.count())
	}
}

// withCorruptCursor writes a damaged cursor file for stream into the
// STATE_DIR of vars.
func withCorruptCursor(t *testing.T, vars map[string]string, stream string) map[string]string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(vars["STATE_DIR"], stream+".cursor.json"), []byte(`{"version":1,"stream":`), 0o600); err != nil {
		t.Fatal(err)
	}
	return vars
}

// TestCheckShowsNoEchoedCredentials: a Mimecast (or a proxy in front of it)
// that echoes the request in its error answers, or redirects it, makes
// check print a FAIL line that names the problem but shows none of the
// credentials, in any spelling.
func TestCheckShowsNoEchoedCredentials(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	secret := mimecasttest.OddSecret
	const (
		appKey    = "app-key-CHECK-7731"
		accessKey = "access-key-CHECK-7731"
	)
	secretKey := base64.StdEncoding.EncodeToString([]byte("v1 secret key CHECK 7731"))
	trap := mimecasttest.NewTrap(t)
	rcv := newReceiver(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect/oauth/token" || r.URL.Path == "/redirect/api/audit/get-siem-logs" {
			http.Redirect(w, r, trap.URL("localhost")+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		dump := mimecasttest.Echo(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q,"fail":[{"errors":[{"code":"err_xdk_authentication","message":%q}]}]}`, dump, dump)
	}))
	t.Cleanup(echo.Close)
	v2 := map[string]string{
		"MIMECAST_BASE_URL": echo.URL, "MIMECAST_CLIENT_ID": "check-client", "MIMECAST_CLIENT_SECRET": secret,
		"MIMECAST_REQUESTS_PER_MINUTE": "0", "MIMECAST_RETRY_MAX": "-1", "STATE_DIR": t.TempDir(), "LOG_LEVEL": "debug",
		"SYSLOG_ADDRESS": rcv.addr(),
	}
	v1 := with(v2, "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", "", "MIMECAST_API", "v1",
		"MIMECAST_APP_ID", "check-app", "MIMECAST_APP_KEY", appKey, "MIMECAST_ACCESS_KEY", accessKey, "MIMECAST_SECRET_KEY", secretKey)
	for _, tc := range []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"v2 echo", v2, []string{"FAIL Mimecast API 2.0: mimecast refused the credentials", "client_secret=[REDACTED]"}},
		{"v1 echo", v1, []string{"FAIL Mimecast API 1.0: mimecast refused the credentials", "Authorization: [REDACTED]"}},
		{"v2 redirect", with(v2, "MIMECAST_BASE_URL", echo.URL+"/redirect"), []string{"FAIL Mimecast API 2.0: ", "HTTP 307", trap.URL("localhost")[len("http://"):], "MIMECAST_BASE_URL"}},
		{"v1 redirect", with(v1, "MIMECAST_BASE_URL", echo.URL+"/redirect"), []string{"FAIL Mimecast API 1.0: ", "HTTP 307", trap.URL("localhost")[len("http://"):], "MIMECAST_BASE_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, ctx, tc.vars, nil, "check")
			if r.code != 1 {
				t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			mimecasttest.NoLeak(t, "check's output", r.stdout+r.stderr, secret, appKey, accessKey, secretKey)
		})
	}
	for _, r := range trap.Requests() {
		t.Errorf("a redirect was followed: %s %s %q", r.Method, r.Host, r.Body)
	}
}

// readableLines returns check's line for each readable stream.
func readableLines(streams ...string) []string {
	out := make([]string, len(streams))
	for i, s := range streams {
		out[i] = "ok   stream " + s + ": readable"
	}
	return out
}

// TestCheckStreams: with MIMECAST_TYPES=all, check lists every stream of
// the API, a refused one (403) as skipped with the permission it needs,
// and passes; a refused stream named explicitly fails check. API 1.0 has
// siem-v1 and the seven log streams, no Cloud Integrated.
func TestCheckStreams(t *testing.T) {
	sim := newSim(t, simulator.Options{NoCI: true, Logs: simulator.LogOptions{Forbidden: []string{"dlp"}}})
	rcv := newReceiver(t)
	ctx := testCtx(t, 30*time.Second)
	api := func(r result) string { return strings.SplitN(r.stdout, "\n", 3)[1] }
	const dlpSkipped = "--   stream dlp: not granted, run skips it and asks again every hour: mimecast refused access to this data (403): "
	const dlpNeeds = "(the API application needs Monitoring | Data Leak Prevention | Read)"

	r := runCmd(t, ctx, with(v2Vars(t, sim, rcv.addr()), "MIMECAST_TYPES", "all"), nil, "check")
	if r.code != 0 || api(r) != "ok   Mimecast API 2.0 at "+sim.URL()+": authenticated, 16 of 20 streams readable" {
		t.Errorf("v2 all: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range append(readableLines("receipt", "journal", "audit", "ttp-url", "ttp-attachment", "ttp-impersonation", "held-release", "archive-search"),
		dlpSkipped, dlpNeeds+"\n", "--   stream ci-entities: not granted", "--   stream ci-mailflow: not granted", "--   stream ci-urlclick: not granted") {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("v2 all: check output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCmd(t, ctx, with(v2Vars(t, sim, rcv.addr()), "MIMECAST_TYPES", "audit,DLP"), nil, "check")
	if r.code != 1 || api(r) != "FAIL Mimecast API 2.0 at "+sim.URL()+": authenticated, 1 of 2 streams readable" ||
		!strings.Contains(r.stdout, "\nok   stream audit: readable\nFAIL stream dlp: mimecast refused access to this data (403): ") ||
		!strings.Contains(r.stdout, dlpNeeds+"\n") || !strings.Contains(r.stderr, "stream dlp: mimecast refused access") {
		t.Errorf("v2 dlp named: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runCmd(t, ctx, with(v1Vars(t, sim, rcv.addr()), "MIMECAST_TYPES", ""), nil, "check")
	if r.code != 0 || api(r) != "ok   Mimecast API 1.0 at "+sim.URL()+": authenticated, 7 of 8 streams readable" ||
		!strings.Contains(r.stdout, "ok   stream siem-v1: readable\nok   stream audit: readable\n"+dlpSkipped) || strings.Contains(r.stdout, "ci-") {
		t.Errorf("v1 all: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
