package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// validV2 is a complete, valid API 2.0 configuration for `run`.
func validV2(t *testing.T) map[string]string {
	return map[string]string{
		"MIMECAST_CLIENT_ID":     "id",
		"MIMECAST_CLIENT_SECRET": "secret",
		"SYSLOG_ADDRESS":         "tcp://127.0.0.1:1",
		"STATE_DIR":              t.TempDir(),
		"METRICS_ADDRESS":        "127.0.0.1:0",
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	m := maps.Clone(base)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestConfigErrors checks that bad configuration stops the command before
// anything starts, with exit code 2 and exactly one line per problem.
func TestConfigErrors(t *testing.T) {
	base := validV2(t)
	v1 := with(base, "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", "",
		"MIMECAST_API", "v1", "MIMECAST_BASE_URL", "eu", "MIMECAST_APP_ID", "app", "MIMECAST_APP_KEY", "key",
		"MIMECAST_ACCESS_KEY", "access", "MIMECAST_SECRET_KEY", base64.StdEncoding.EncodeToString([]byte("k")))
	cases := []struct {
		name string
		cmd  string
		vars map[string]string
		args []string
		want []string // each a prefix of exactly one line, one line each
	}{
		{"no credentials and no receiver", "run", map[string]string{"STATE_DIR": base["STATE_DIR"]}, nil, []string{
			"no Mimecast credentials: set MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET (API 2.0), or MIMECAST_APP_ID, MIMECAST_APP_KEY, MIMECAST_ACCESS_KEY and MIMECAST_SECRET_KEY (API 1.0)",
			"SYSLOG_ADDRESS: required (e.g. tcp://wazuh-manager:514)",
		}},
		{"no credentials", "run", with(base, "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", ""), nil, []string{"no Mimecast credentials: "}},
		{"both APIs without MIMECAST_API", "run", with(base, "MIMECAST_APP_ID", "app"), nil, []string{
			"MIMECAST_API: both API 2.0 (MIMECAST_CLIENT_*) and API 1.0 (MIMECAST_APP_*, MIMECAST_ACCESS_KEY, MIMECAST_SECRET_KEY) credentials are set",
		}},
		{"both APIs, one via _FILE", "run", with(base, "MIMECAST_SECRET_KEY_FILE", "/nonexistent"), nil, []string{"MIMECAST_API: both API 2.0"}},
		{"MIMECAST_API=v3", "run", with(base, "MIMECAST_API", "v3"), nil, []string{`MIMECAST_API "v3": want v2 or v1`}},
		{"POLL_INTERVAL=abc", "run", with(base, "POLL_INTERVAL", "abc"), nil, []string{`POLL_INTERVAL "abc": not a duration (e.g. 30s, 5m, 24h)`}},
		{"POLL_INTERVAL=0", "run", with(base, "POLL_INTERVAL", "0"), nil, []string{`POLL_INTERVAL 0: must be positive`}},
		{"MIMECAST_LOOKBACK=-1h", "run", with(base, "MIMECAST_LOOKBACK", "-1h"), nil, []string{`MIMECAST_LOOKBACK -1h: must be positive`}},
		{"SYSLOG_FACILITY=bogus", "run", with(base, "SYSLOG_FACILITY", "bogus"), nil, []string{`SYSLOG_FACILITY: facility "bogus": want a name (kern … local7) or a number 0-23`}},
		{"SYSLOG_FACILITY=24", "run", with(base, "SYSLOG_FACILITY", "24"), nil, []string{`SYSLOG_FACILITY: facility "24": number out of range 0-23`}},
		{"SYSLOG_BODY=xml", "run", with(base, "SYSLOG_BODY", "xml"), nil, []string{`SYSLOG_BODY: body mode "xml": want json or raw`}},
		{"SYSLOG_ADDRESS missing", "run", with(base, "SYSLOG_ADDRESS", ""), nil, []string{"SYSLOG_ADDRESS: required (e.g. tcp://wazuh-manager:514)"}},
		{"SYSLOG_ADDRESS missing for check", "check", with(base, "SYSLOG_ADDRESS", ""), nil, []string{"SYSLOG_ADDRESS: required"}},
		{"SYSLOG_ADDRESS bad scheme", "run", with(base, "SYSLOG_ADDRESS", "http://127.0.0.1:1"), nil, []string{`SYSLOG_ADDRESS: "http://127.0.0.1:1" has an unknown scheme "http"`}},
		{"wazuh with octet counting", "run", with(base, "SYSLOG_PROFILE", "wazuh", "SYSLOG_FRAMING", "octet-counting"), nil, []string{
			"SYSLOG_FRAMING: octet-counting cannot be used with SYSLOG_PROFILE=wazuh",
		}},
		{"max message bytes not a number", "run", with(base, "SYSLOG_MAX_MESSAGE_BYTES", "abc"), nil, []string{`SYSLOG_MAX_MESSAGE_BYTES "abc": not a whole number`}},
		{"max message bytes too small", "run", with(base, "SYSLOG_MAX_MESSAGE_BYTES", "10"), nil, []string{`SYSLOG_MAX_MESSAGE_BYTES: 10 is out of range 480..65000 for profile wazuh`}},
		{"max message bytes too large for wazuh", "run", with(base, "SYSLOG_MAX_MESSAGE_BYTES", "100000"), nil, []string{`SYSLOG_MAX_MESSAGE_BYTES: 100000 is out of range 480..65000 for profile wazuh`}},
		{"log level and format", "run", with(base, "LOG_LEVEL", "loud", "LOG_FORMAT", "xml"), nil, []string{
			`LOG_LEVEL "loud": want debug, info, warn or error`, `LOG_FORMAT "xml": want text or json`,
		}},
		{"max EPS negative", "run", with(base, "SYSLOG_MAX_EPS", "-5"), nil, []string{`SYSLOG_MAX_EPS "-5": want a whole number of events per second ≥ 0 (0 = unlimited, empty = automatic)`}},
		{"max EPS fraction", "run", with(base, "SYSLOG_MAX_EPS", "99.5", "WAZUH_ANALYSISD_STATE", "/s"), nil, []string{`SYSLOG_MAX_EPS "99.5": want a whole number`}},
		{"requests per minute", "run", with(base, "MIMECAST_REQUESTS_PER_MINUTE", "-1"), nil, []string{`MIMECAST_REQUESTS_PER_MINUTE "-1": want a number ≥ 0`}},
		{"bad boolean env", "run", with(base, "SYSLOG_STRUCTURED_DATA", "maybe", "ONCE", "perhaps"), nil, []string{
			`SYSLOG_STRUCTURED_DATA: "maybe" is not a boolean`, `--once / ONCE: "perhaps" is not a boolean`,
		}},
		{"bad boolean flag", "run", base, []string{"--once=maybe"}, []string{`invalid boolean value "maybe" for -once`}},
		{"unknown flag", "run", base, []string{"--no-such-flag"}, []string{"flag provided but not defined: -no-such-flag"}},
		{"extra argument", "run", base, []string{"extra"}, []string{"unexpected arguments: extra"}},
		{"unknown type", "run", with(base, "MIMECAST_TYPES", "receipt,foo"), nil, []string{`MIMECAST_TYPES: unknown stream(s) "foo"; valid: all, receipt, `}},
		{"CI with API 1.0", "run", with(base, "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", "", "MIMECAST_API", "v1", "MIMECAST_BASE_URL", "eu", "MIMECAST_APP_ID", "a",
			"MIMECAST_APP_KEY", "k", "MIMECAST_ACCESS_KEY", "a", "MIMECAST_SECRET_KEY", "c2VjcmV0", "MIMECAST_TYPES", "audit,ci-mailflow"), nil,
			[]string{"MIMECAST_TYPES: ci-mailflow is API 2.0 only (Cloud Integrated)"}},
		{"siem-v1 with API 2.0", "run", with(base, "MIMECAST_TYPES", "siem-v1"), nil, []string{"MIMECAST_TYPES: siem-v1 is the API 1.0 SIEM stream; with API 2.0 name the SIEM types"}},
		{"log window and page size", "run", with(base, "MIMECAST_LOG_WINDOW", "48h", "MIMECAST_LOG_PAGE_SIZE", "x"), nil, []string{
			`MIMECAST_LOG_PAGE_SIZE "x": not a whole number`, "MIMECAST_LOG_WINDOW"}},
		{"v1 secret key not base64", "run", with(v1, "MIMECAST_SECRET_KEY", "@@@"), nil, []string{"MIMECAST_SECRET_KEY is not valid base64"}},
		{"v1 missing values", "run", with(v1, "MIMECAST_APP_KEY", "", "MIMECAST_BASE_URL", ""), nil, []string{
			"MIMECAST_BASE_URL is required", "MIMECAST_APP_KEY is required",
		}},
		{"metrics address without port", "run", with(base, "METRICS_ADDRESS", "9810"), nil, []string{`METRICS_ADDRESS "9810": want [host]:port`}},
		{"metrics address bad port", "run", with(base, "METRICS_ADDRESS", "127.0.0.1:99999"), nil, []string{`METRICS_ADDRESS "127.0.0.1:99999": invalid port "99999"`}},
		{"TLS cert without key", "run", with(base, "SYSLOG_ADDRESS", "tls://127.0.0.1:1", "SYSLOG_TLS_CERT_FILE", "/c.pem"), nil, []string{
			"SYSLOG_TLS_CERT_FILE and SYSLOG_TLS_KEY_FILE: give both (mutual TLS) or neither",
		}},
		{"demo with a bad setting", "demo", with(base, "SYSLOG_ADDRESS", "", "POLL_INTERVAL", "abc"), nil, []string{`POLL_INTERVAL "abc"`}},
		{"several problems at once", "run", with(base, "POLL_INTERVAL", "abc", "MIMECAST_LOOKBACK", "-1h", "SYSLOG_FACILITY", "bogus",
			"SYSLOG_FRAMING", "octet-counting", "SYSLOG_ADDRESS", "tcp://127.0.0.1:1,udp://127.0.0.1:1"), nil, []string{
			`MIMECAST_LOOKBACK -1h: must be positive`,
			`SYSLOG_FACILITY: facility "bogus"`,
			"SYSLOG_FRAMING: octet-counting cannot be used with SYSLOG_PROFILE=wazuh",
			`POLL_INTERVAL "abc": not a duration`,
		}},
	}
	ctx := testCtx(t, 30*time.Second)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, ctx, tc.vars, nil, append([]string{tc.cmd}, tc.args...)...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2\nstderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "mimecast-forwarder "+tc.cmd+": invalid configuration:\n") {
				t.Errorf("stderr lacks the invalid-configuration header:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, "mimecast-forwarder starting") || strings.Contains(r.stderr, "stream started") {
				t.Errorf("something started despite the bad configuration:\n%s", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			lines := configLines(r.stderr)
			if len(lines) != len(tc.want) {
				t.Fatalf("%d problem lines, want %d:\n%s", len(lines), len(tc.want), strings.Join(lines, "\n"))
			}
			for _, w := range tc.want {
				n := 0
				for _, l := range lines {
					if strings.HasPrefix(l, w) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d lines start with %q, want 1:\n%s", n, w, strings.Join(lines, "\n"))
				}
			}
		})
	}
}

// TestTLSFilesCheckedAtStart: an unreadable TLS file is found when the
// transport is built, still before anything is sent: exit 2, one line.
func TestTLSFilesCheckedAtStart(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)
	missing := filepath.Join(t.TempDir(), "missing-ca.pem")
	vars := with(validV2(t), "SYSLOG_ADDRESS", "tls://127.0.0.1:1", "SYSLOG_TLS_CA_FILE", missing)
	r := runCmd(t, ctx, vars, nil, "run", "--once")
	lines := configLines(r.stderr)
	if r.code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "SYSLOG_TLS_CA_FILE: reading the CA file: open "+missing) {
		t.Errorf("exit %d, lines %q\n%s", r.code, lines, r.stderr)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, ctx, with(vars, "SYSLOG_TLS_CA_FILE", notPEM), nil, "run", "--once")
	lines = configLines(r.stderr)
	if r.code != 2 || len(lines) != 1 || lines[0] != "SYSLOG_TLS_CA_FILE: no PEM certificate found in "+notPEM {
		t.Errorf("exit %d, lines %q\n%s", r.code, lines, r.stderr)
	}
}

// TestSecretFiles checks the _FILE variants: read, trailing newline
// trimmed, both set or an empty or missing file is an error.
func TestSecretFiles(t *testing.T) {
	readFile := func(name string) ([]byte, error) {
		switch name {
		case "/run/secrets/ok":
			return []byte("s3cr3t\r\n"), nil
		case "/run/secrets/empty":
			return []byte("\n"), nil
		}
		return nil, os.ErrNotExist
	}
	v := values{"MIMECAST_CLIENT_SECRET_FILE": "/run/secrets/ok"}
	if got, err := v.secret("MIMECAST_CLIENT_SECRET", readFile); err != nil || got != "s3cr3t" {
		t.Errorf("secret from file = %q, %v; want s3cr3t", got, err)
	}
	v = values{"MIMECAST_CLIENT_SECRET": "direct"}
	if got, err := v.secret("MIMECAST_CLIENT_SECRET", readFile); err != nil || got != "direct" {
		t.Errorf("direct secret = %q, %v", got, err)
	}
	for file, want := range map[string]string{
		"/run/secrets/empty":   "MIMECAST_CLIENT_SECRET_FILE /run/secrets/empty: file is empty",
		"/run/secrets/missing": "MIMECAST_CLIENT_SECRET_FILE: ",
	} {
		v = values{"MIMECAST_CLIENT_SECRET_FILE": file}
		if _, err := v.secret("MIMECAST_CLIENT_SECRET", readFile); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("file %s: err %v, want prefix %q", file, err, want)
		}
	}

	// Through the command: both set is one clear line, exit 2.
	ctx := testCtx(t, 20*time.Second)
	vars := with(validV2(t), "MIMECAST_CLIENT_SECRET_FILE", "/run/secrets/ok")
	r := runCmd(t, ctx, vars, map[string]string{"/run/secrets/ok": "x\n"}, "run")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2: %s", r.code, r.stderr)
	}
	if lines := configLines(r.stderr); len(lines) != 1 || lines[0] != "MIMECAST_CLIENT_SECRET and MIMECAST_CLIENT_SECRET_FILE are both set: set one" {
		t.Errorf("lines = %q", lines)
	}
	// API 1.0 keys too.
	vars = with(validV2(t), "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", "", "MIMECAST_API", "v1", "MIMECAST_BASE_URL", "eu",
		"MIMECAST_APP_ID", "a", "MIMECAST_APP_KEY", "b", "MIMECAST_APP_KEY_FILE", "/f", "MIMECAST_ACCESS_KEY", "c",
		"MIMECAST_SECRET_KEY_FILE", "/run/secrets/missing")
	r = runCmd(t, ctx, vars, map[string]string{"/f": "b"}, "run")
	lines := configLines(r.stderr)
	if r.code != 2 || len(lines) != 2 || lines[0] != "MIMECAST_APP_KEY and MIMECAST_APP_KEY_FILE are both set: set one" ||
		!strings.HasPrefix(lines[1], "MIMECAST_SECRET_KEY_FILE: ") {
		t.Errorf("exit %d, lines %q", r.code, lines)
	}

	// A secret file with a trailing newline authenticates against the
	// simulator: the newline is not part of the secret.
	sim := newSim(t, simulator.Options{})
	rcv := newReceiver(t)
	_, secret := sim.Credentials()
	vars = with(v2Vars(t, sim, rcv.addr()), "MIMECAST_CLIENT_SECRET", "", "MIMECAST_CLIENT_SECRET_FILE", "/run/secrets/client")
	r = runCmd(t, ctx, vars, map[string]string{"/run/secrets/client": secret + "\n"}, "run", "--once")
	if r.code != 0 {
		t.Fatalf("run --once with a secret file: exit %d\n%s", r.code, r.stderr)
	}
	rcv.drain(t)
	if want := len(expected(sim, time.Now())); rcv.count() != want {
		t.Errorf("received %d lines, want %d", rcv.count(), want)
	}
}

// TestSecretsNeverShown runs run and check with credentials the simulator
// refuses and asserts that no secret appears in any output, at debug level
// too, and that the startup line shows <redacted>.
func TestSecretsNeverShown(t *testing.T) {
	sim := newSim(t, simulator.Options{})
	rcv := newReceiver(t)
	ctx := testCtx(t, 30*time.Second)

	const v2Secret = "Cl1entSecret-DISTINCT-7f3a9"
	const v1AppKey = "AppKey-DISTINCT-51c2e"
	const v1AccessKey = "AccessKey-DISTINCT-e0b4d"
	const v1Raw = "SecretKeyRaw-DISTINCT-98ad1"
	v1Secret := base64.StdEncoding.EncodeToString([]byte(v1Raw))
	secrets := []string{v2Secret, v1AppKey, v1AccessKey, v1Secret, v1Raw}

	v2 := with(v2Vars(t, sim, rcv.addr()), "MIMECAST_CLIENT_SECRET", v2Secret)
	appID, _, _, _ := sim.V1Credentials()
	v1 := with(v2Vars(t, sim, rcv.addr()), "MIMECAST_CLIENT_ID", "", "MIMECAST_CLIENT_SECRET", "",
		"MIMECAST_API", "v1", "MIMECAST_APP_ID", appID, "MIMECAST_APP_KEY", v1AppKey,
		"MIMECAST_ACCESS_KEY", v1AccessKey, "MIMECAST_SECRET_KEY", v1Secret)

	for _, tc := range []struct {
		name     string
		vars     map[string]string
		args     []string
		wantCode int
		redacted []string
	}{
		{"v2 run", v2, []string{"run", "--once"}, 1, []string{"MIMECAST_CLIENT_SECRET=<redacted>"}},
		{"v2 check", v2, []string{"check"}, 1, nil},
		{"v1 run", v1, []string{"run", "--once"}, 1, []string{"MIMECAST_APP_KEY=<redacted>", "MIMECAST_ACCESS_KEY=<redacted>", "MIMECAST_SECRET_KEY=<redacted>"}},
		{"v1 check", v1, []string{"check"}, 1, nil},
		{"v2 json logs", with(v2, "LOG_FORMAT", "json"), []string{"run", "--once"}, 1, []string{`"MIMECAST_CLIENT_SECRET":"<redacted>"`}},
	} {
		for _, level := range []string{"info", "debug"} {
			t.Run(tc.name+" "+level, func(t *testing.T) {
				r := runCmd(t, ctx, with(tc.vars, "LOG_LEVEL", level), nil, tc.args...)
				if r.code != tc.wantCode {
					t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.wantCode, r.stdout, r.stderr)
				}
				for _, s := range secrets {
					if strings.Contains(r.stdout, s) || strings.Contains(r.stderr, s) {
						t.Errorf("secret %q appears in the output:\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
					}
				}
				for _, want := range tc.redacted {
					if !strings.Contains(r.stderr, want) {
						t.Errorf("startup log lacks %s:\n%s", want, r.stderr)
					}
				}
			})
		}
	}
	rcv.drain(t)
	if rcv.count() != 0 {
		t.Errorf("refused credentials, yet %d lines were forwarded", rcv.count())
	}

	// Accepted credentials at debug level: no access token, no
	// Authorization header, no signed storage URL in the logs.
	tokenRE := regexp.MustCompile(`sim_[A-Za-z0-9_-]{16,}\.|Bearer|access_token|X-Amz-Signature`)
	for _, args := range [][]string{{"run", "--once"}, {"check"}} {
		r := runCmd(t, ctx, with(v2Vars(t, sim, rcv.addr()), "LOG_LEVEL", "debug"), nil, args...)
		if r.code != 0 {
			t.Fatalf("%v with accepted credentials: exit %d\n%s", args, r.code, r.stderr)
		}
		if m := tokenRE.FindString(r.stdout + r.stderr); m != "" {
			t.Errorf("%v at debug level shows %q", args, m)
		}
		if !strings.Contains(r.stderr, "level=DEBUG") {
			t.Errorf("%v at LOG_LEVEL=debug logged no debug line", args)
		}
	}
	rcv.drain(t)
	if n := rcv.count(); n != len(expected(sim, time.Now())) {
		t.Errorf("accepted credentials: %d lines forwarded, want %d", n, len(expected(sim, time.Now())))
	}
	// API 1.0 with accepted credentials at debug level: no key, no
	// Authorization header.
	_, appKey, accessKey, secretKey := sim.V1Credentials()
	for _, args := range [][]string{{"run", "--once"}, {"check"}} {
		r := runCmd(t, ctx, with(v1Vars(t, sim, rcv.addr()), "LOG_LEVEL", "debug"), nil, args...)
		if r.code != 0 {
			t.Fatalf("API 1.0 %v with accepted credentials: exit %d\n%s", args, r.code, r.stderr)
		}
		for _, s := range []string{appKey, accessKey, secretKey, "Authorization", "MC "} {
			if strings.Contains(r.stdout+r.stderr, s) {
				t.Errorf("API 1.0 %v at debug level shows %q", args, s)
			}
		}
	}
}

// TestSettingsFlagAndEnv checks that every setting is a flag and an
// environment variable, and that the flag wins over the environment, which
// wins over the default.
func TestSettingsFlagAndEnv(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.Env] {
			t.Errorf("setting %s listed twice", s.Env)
		}
		seen[s.Env] = true
		envVal, flagVal := "from-env", "from-flag"
		if s.Bool {
			envVal, flagVal = "true", "false"
		}
		newFS := func() *flag.FlagSet {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			return fs
		}
		getenv := func(k string) string {
			if k == s.Env {
				return envVal
			}
			return ""
		}
		v, err := parseSettings(newFS(), nil, getenv)
		if err != nil {
			t.Fatalf("%s: %v", s.Env, err)
		}
		if v[s.Env] != envVal {
			t.Errorf("%s from the environment = %q, want %q", s.Env, v[s.Env], envVal)
		}
		v, err = parseSettings(newFS(), []string{"--" + flagName(s.Env) + "=" + flagVal}, getenv)
		if err != nil {
			t.Fatalf("%s: flag --%s: %v", s.Env, flagName(s.Env), err)
		}
		if v[s.Env] != flagVal {
			t.Errorf("%s: flag --%s = %q, want %q (flag wins over env)", s.Env, flagName(s.Env), v[s.Env], flagVal)
		}
		v, err = parseSettings(newFS(), nil, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		if v[s.Env] != s.Default {
			t.Errorf("%s default = %q, want %q", s.Env, v[s.Env], s.Default)
		}
	}

	// A flag given an empty value wins over the environment (e.g.
	// --metrics-address= disables metrics even with METRICS_ADDRESS set).
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	v, err := parseSettings(fs, []string{"--metrics-address=", "--once", "--poll-interval", "5s"},
		func(k string) string {
			return map[string]string{"METRICS_ADDRESS": ":1234", "POLL_INTERVAL": "1m", "ONCE": "false"}[k]
		})
	if err != nil {
		t.Fatal(err)
	}
	if v["METRICS_ADDRESS"] != "" || v["POLL_INTERVAL"] != "5s" || v["ONCE"] != "true" {
		t.Errorf("METRICS_ADDRESS=%q POLL_INTERVAL=%q ONCE=%q; want \"\", 5s, true", v["METRICS_ADDRESS"], v["POLL_INTERVAL"], v["ONCE"])
	}

	for _, name := range []string{"MIMECAST_BASE_URL", "MIMECAST_CLIENT_ID", "MIMECAST_CLIENT_SECRET", "MIMECAST_CLIENT_SECRET_FILE",
		"MIMECAST_TYPES", "MIMECAST_LOOKBACK", "POLL_INTERVAL", "SYSLOG_ADDRESS", "SYSLOG_HOSTNAME", "SYSLOG_APP_NAME",
		"SYSLOG_FACILITY", "SYSLOG_MAX_MESSAGE_BYTES", "STATE_DIR", "METRICS_ADDRESS", "LOG_LEVEL", "MIMECAST_APP_ID",
		"MIMECAST_APP_KEY", "MIMECAST_ACCESS_KEY", "MIMECAST_SECRET_KEY", "MIMECAST_FILE_FORMAT", "MIMECAST_API",
		"SYSLOG_FRAMING", "SYSLOG_PROFILE", "SYSLOG_TLS_CA_FILE", "SYSLOG_TLS_CERT_FILE", "SYSLOG_TLS_KEY_FILE", "ONCE"} {
		if !seen[name] {
			t.Errorf("setting %s missing", name)
		}
	}
	if flagName("ONCE") != "once" || flagName("MIMECAST_CLIENT_SECRET_FILE") != "mimecast-client-secret-file" {
		t.Errorf("flag names: %s, %s", flagName("ONCE"), flagName("MIMECAST_CLIENT_SECRET_FILE"))
	}
	// Every secret has a _FILE variant and is marked secret.
	for _, s := range settings {
		if s.Secret && !seen[s.Env+"_FILE"] {
			t.Errorf("secret %s has no %s_FILE", s.Env, s.Env)
		}
	}
	for _, name := range []string{"MIMECAST_CLIENT_SECRET", "MIMECAST_APP_KEY", "MIMECAST_ACCESS_KEY", "MIMECAST_SECRET_KEY"} {
		for _, s := range settings {
			if s.Env == name && !s.Secret {
				t.Errorf("%s is not marked Secret", name)
			}
		}
	}
}

// TestRunHelpListsEverySetting checks `run -h`: exit 0, every flag and its
// environment variable listed.
func TestRunHelpListsEverySetting(t *testing.T) {
	r := runCmd(t, testCtx(t, 10*time.Second), nil, nil, "run", "-h")
	if r.code != 0 {
		t.Fatalf("run -h: exit %d", r.code)
	}
	for _, s := range settings {
		if !strings.Contains(r.stderr, "-"+flagName(s.Env)) || !strings.Contains(r.stderr, "[$"+s.Env+"]") {
			t.Errorf("run -h does not list -%s [$%s]", flagName(s.Env), s.Env)
		}
	}
}

// TestREADMEListsEverySetting checks that the README's configuration table
// names every setting's environment variable.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatalf("README.md at the repository root: %v", err)
	}
	readme := string(b)
	for _, s := range settings {
		if !strings.Contains(readme, "`"+s.Env+"`") {
			t.Errorf("README.md does not list `%s`", s.Env)
			continue
		}
		// The row says what the program says: flag, default and help.
		def := ""
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		help := s.Help
		if s.Secret {
			help += " (secret)"
		}
		row := fmt.Sprintf("| `%s` | `--%s` | %s | %s |\n", s.Env, flagName(s.Env), def, help)
		if !strings.Contains(readme, row) {
			t.Errorf("README.md's row of %s differs from settings.go; want\n%s", s.Env, row)
		}
	}
}

// TestEmptyEnvironmentVariable: a variable set to "" is a value (with a
// lookup), so METRICS_ADDRESS= disables the metrics server; unset means the
// default.
func TestEmptyEnvironmentVariable(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lookup := func(k string) (string, bool) {
		if k == "METRICS_ADDRESS" {
			return "", true
		}
		return "", false
	}
	v, err := parseSettings(fs, nil, func(string) string { return "" }, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := v["METRICS_ADDRESS"]; got != "" {
		t.Errorf("METRICS_ADDRESS set to empty = %q, want empty (disabled)", got)
	}
	if got := v["SYSLOG_APP_NAME"]; got != "mimecast" {
		t.Errorf("unset SYSLOG_APP_NAME = %q, want the default", got)
	}
}
