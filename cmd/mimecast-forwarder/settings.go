package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
)

// setting is one configuration value: an environment variable, the flag of
// the same name (lower case, '_' → '-'), a default and a help text. A flag
// given on the command line wins over the environment, which wins over the
// default.
type setting struct {
	Env     string
	Default string
	Help    string
	Secret  bool // never printed, logged or exported
	Bool    bool // a flag that needs no value
	APIs    string
}

// settings lists every configuration value; the README's configuration
// table lists the same (a test checks it).
var settings = []setting{
	{Env: "MIMECAST_API", Help: "Mimecast API to use: v2 or v1. Empty: chosen by which credentials are set."},
	{Env: "MIMECAST_BASE_URL", Help: "API base URL or region. v2: global (default, https://api.services.mimecast.com), uk, us or a URL. v1: required; eu, de, us, usb, ca, za, au, je, uspcom or a URL."},
	{Env: "MIMECAST_CLIENT_ID", Help: "API 2.0 client ID."},
	{Env: "MIMECAST_CLIENT_SECRET", Secret: true, Help: "API 2.0 client secret. Prefer MIMECAST_CLIENT_SECRET_FILE."},
	{Env: "MIMECAST_CLIENT_SECRET_FILE", Help: "File holding the API 2.0 client secret (e.g. a Docker or systemd credential)."},
	{Env: "MIMECAST_TYPES", Default: "all", Help: "Streams to fetch, comma-separated: the SIEM types (receipt, process, delivery, av, spam, internal email protect, impersonation protect, url protect, attachment protect, journal, or their stream names like url-protect; API 1.0: any of them or siem-v1), the log streams (audit, dlp, ttp-url, ttp-attachment, ttp-impersonation, held-release, archive-search) and, API 2.0 only, ci-entities, ci-mailflow, ci-urlclick; or all (every stream the credentials may read: a refused one is skipped with a warning). A stream named explicitly and refused is an error in check and --once."},
	{Env: "MIMECAST_LOOKBACK", Default: "24h", Help: "How far back the first start fetches: clamped to 7 days for the SIEM batch streams (Mimecast's retention) and to each log stream's limit (audit, DLP, TTP: 60 days; held-release, archive-search: 30 days). The API 1.0 SIEM stream starts from the oldest log Mimecast keeps, or from an imported token."},
	{Env: "MIMECAST_LOG_WINDOW", Default: "1h", Help: "Log streams (audit, dlp, ttp-*, held-release, archive-search): the longest time window one cursor covers (1m-24h); a backfill resumes within a window at its page."},
	{Env: "MIMECAST_LOG_PAGE_SIZE", Default: "100", Help: "Log streams: records asked per page (1-500)."},
	{Env: "MIMECAST_DAY_GRACE", Default: "1h", Help: "API 2.0: how long after a UTC day ends a caught-up stream keeps listing that day, for batch files Mimecast publishes late."},
	{Env: "MIMECAST_PAGE_SIZE", Default: "100", Help: "API 2.0 batch files per listing page (1-100)."},
	{Env: "MIMECAST_REQUESTS_PER_MINUTE", Default: "30", Help: "Budget of API requests per minute shared by all streams (0 = unlimited); batch file downloads do not count."},
	{Env: "MIMECAST_APP_ID", Help: "API 1.0 application ID."},
	{Env: "MIMECAST_APP_KEY", Secret: true, Help: "API 1.0 application key."},
	{Env: "MIMECAST_ACCESS_KEY", Secret: true, Help: "API 1.0 access key."},
	{Env: "MIMECAST_SECRET_KEY", Secret: true, Help: "API 1.0 secret key (base64)."},
	{Env: "MIMECAST_APP_KEY_FILE", Help: "File holding MIMECAST_APP_KEY."},
	{Env: "MIMECAST_ACCESS_KEY_FILE", Help: "File holding MIMECAST_ACCESS_KEY."},
	{Env: "MIMECAST_SECRET_KEY_FILE", Help: "File holding MIMECAST_SECRET_KEY."},
	{Env: "MIMECAST_APP_ID_FILE", Help: "File holding MIMECAST_APP_ID."},
	{Env: "MIMECAST_FILE_FORMAT", Default: "json", Help: "API 1.0 file format: json or key_value."},
	{Env: "MIMECAST_START_TOKEN", Help: "API 1.0: mc-siem-token to start from when the stream has no cursor yet (default: the oldest log Mimecast keeps)."},
	{Env: "MIMECAST_START_TOKEN_FILE", Help: "API 1.0: file holding the start token, e.g. the Wazuh blog script's get_mta_siem_logs_checkpoint (migration without re-fetching or skipping)."},
	{Env: "MIMECAST_RESTART_ON_INVALID_TOKEN", Default: "false", Bool: true, Help: "API 1.0: when Mimecast rejects the stored token, restart from the oldest available log (up to 7 days of duplicates) instead of stopping the stream."},
	{Env: "MIMECAST_TEMP_DIR", Help: "API 1.0: where downloaded zip files are spooled (default: the system temporary directory)."},
	{Env: "POLL_INTERVAL", Default: "1m", Help: "Wait after a stream is caught up before asking again."},
	{Env: "SYSLOG_ADDRESS", Help: "Receivers, comma-separated, tried in order: tcp://host:port, udp://host:port, tls://host:port, wazuh-queue:///var/ossec/queue/sockets/queue. Required for run; demo prints to standard output when empty."},
	{Env: "SYSLOG_HOSTNAME", Help: "RFC5424 HOSTNAME. Default: this host's name."},
	{Env: "SYSLOG_APP_NAME", Default: "mimecast", Help: "RFC5424 APP-NAME (the Wazuh decoders match mimecast)."},
	{Env: "SYSLOG_PROCID", Default: "-", Help: "RFC5424 PROCID (- for none)."},
	{Env: "SYSLOG_FACILITY", Default: "local0", Help: "Syslog facility: a name (kern … local7) or 0-23."},
	{Env: "SYSLOG_MAX_MESSAGE_BYTES", Default: "65000", Help: "Longest message; longer ones are shrunk (long string values shortened, marked), never cut or dropped. Wazuh cuts events at about 64 KiB."},
	{Env: "SYSLOG_BODY", Default: "json", Help: "Message body: json ({\"mimecast\":{…}}) or raw (API 1.0 key_value line as received, for the Wazuh blog's decoders)."},
	{Env: "SYSLOG_STRUCTURED_DATA", Default: "true", Help: "Send the [origin software=… swVersion=…] structured data element (false: -)."},
	{Env: "SYSLOG_PROFILE", Default: "wazuh", Help: "Receiver profile: wazuh (LF framing only, messages ≤ 65000 bytes) or rfc (rsyslog, syslog-ng: octet counting and larger messages allowed)."},
	{Env: "SYSLOG_FRAMING", Help: "TCP/TLS framing: lf or octet-counting. Default: lf for tcp://, octet-counting for tls:// with the rfc profile."},
	{Env: "SYSLOG_TLS_CA_FILE", Help: "PEM CA bundle to verify a tls:// receiver (default: system roots)."},
	{Env: "SYSLOG_TLS_CERT_FILE", Help: "PEM client certificate for mutual TLS."},
	{Env: "SYSLOG_TLS_KEY_FILE", Help: "PEM key of the client certificate."},
	{Env: "SYSLOG_TLS_SERVER_NAME", Help: "Server name to verify instead of the host in SYSLOG_ADDRESS."},
	{Env: "SYSLOG_TLS_INSECURE_SKIP_VERIFY", Default: "false", Bool: true, Help: "Do not verify the receiver's certificate (logged loudly; for tests only)."},
	{Env: "SYSLOG_REPLAY_WINDOW", Default: "2s", Help: "After an unexpected disconnect, send again the messages of this last span (0 disables): covers a receiver killed with data still unread in its socket."},
	{Env: "SYSLOG_MAX_EPS", Help: "Most events per second sent, all streams together; 0 = unlimited. Empty: 1000, or with WAZUH_ANALYSISD_STATE an adaptive rate from 1000 up to 50000. A number with WAZUH_ANALYSISD_STATE is the adaptive rate's ceiling. A default Wazuh manager drops events silently when sent more than it can analyse."},
	{Env: "WAZUH_ANALYSISD_STATE", Help: "Path of the Wazuh manager's wazuh-analysisd.state (e.g. /var/ossec/var/run/wazuh-analysisd.state, read-only): adapt the rate to analysisd's queue and drops. Empty: a fixed rate."},
	{Env: "STATE_DIR", Default: "/var/lib/mimecast-forwarder", Help: "Directory of the cursors and the lock file. demo: a temporary directory unless set."},
	{Env: "METRICS_ADDRESS", Default: ":9810", Help: "Listen address of /metrics, /healthz and /readyz (empty: disabled)."},
	{Env: "LOG_LEVEL", Default: "info", Help: "debug, info, warn or error."},
	{Env: "LOG_FORMAT", Default: "text", Help: "text or json (logs go to standard error)."},
	{Env: "ONCE", Default: "false", Bool: true, Help: "Run until every stream is caught up, then exit 0; exit non-zero if anything failed."},
}

// flagName is the command-line flag of an environment variable.
func flagName(env string) string {
	if env == "ONCE" {
		return "once"
	}
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// values is the resolved configuration: environment variable → value.
type values map[string]string

// parseSettings reads flags from args and the environment through getenv.
// An environment variable that is set but empty counts as set when lookup
// says so (METRICS_ADDRESS= disables the metrics server); with getenv alone
// an empty value means unset.
func parseSettings(fs *flag.FlagSet, args []string, getenv func(string) string, lookup ...func(string) (string, bool)) (values, error) {
	isSet := func(k string) (string, bool) {
		if len(lookup) > 0 && lookup[0] != nil {
			return lookup[0](k)
		}
		v := getenv(k)
		return v, v != ""
	}
	given := map[string]*string{}
	for _, s := range settings {
		help := s.Help
		if s.Default != "" {
			help += " (default " + s.Default + ")"
		}
		help += " [$" + s.Env + "]"
		if s.Bool {
			b := new(boolFlag)
			fs.Var(b, flagName(s.Env), help)
			given[s.Env] = &b.s
			continue
		}
		given[s.Env] = fs.String(flagName(s.Env), "", help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &configError{err: err}
	}
	if fs.NArg() > 0 {
		return nil, &configError{err: fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	v := values{}
	for _, s := range settings {
		switch {
		case set[flagName(s.Env)]:
			v[s.Env] = *given[s.Env]
		case isSetEnv(isSet, s.Env):
			v[s.Env], _ = isSet(s.Env)
		default:
			v[s.Env] = s.Default
		}
	}
	return v, nil
}

// secret returns the value of env, or the trimmed content of the file named
// by env_FILE; both set is an error.
func (v values) secret(env string, readFile func(string) ([]byte, error)) (string, error) {
	direct, file := v[env], v[env+"_FILE"]
	if direct != "" && file != "" {
		return "", fmt.Errorf("%s and %s_FILE are both set: set one", env, env)
	}
	if file == "" {
		return direct, nil
	}
	b, err := readFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", env, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s_FILE %s: file is empty", env, file)
	}
	return s, nil
}

// redacted lists the configuration for a log line, secrets hidden.
func (v values) redacted() []any {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	secret := map[string]bool{}
	for _, s := range settings {
		secret[s.Env] = s.Secret
	}
	var out []any
	for _, k := range keys {
		val := v[k]
		if secret[k] && val != "" {
			val = "<redacted>"
		}
		if val != "" {
			out = append(out, k, val)
		}
	}
	return out
}

// boolFlag is a flag.Value that may be given without a value.
type boolFlag struct{ s string }

func (b *boolFlag) String() string { return b.s }
func (b *boolFlag) Set(s string) error {
	if _, err := parseBool(s); err != nil {
		return err
	}
	b.s = s
	return nil
}
func (b *boolFlag) IsBoolFlag() bool { return true }

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "on":
		return true, nil
	case "", "0", "f", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", s)
}

func isSetEnv(lookup func(string) (string, bool), k string) bool {
	_, ok := lookup(k)
	return ok
}
