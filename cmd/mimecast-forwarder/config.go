package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/flowcontrol"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/transport"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/logs"
)

// noPoster stands in for the Poster when only the log settings are checked.
type noPoster struct{ logs.Poster }

// Which Mimecast API a configuration uses.
const (
	apiV1 = "v1"
	apiV2 = "v2"
)

// config is the whole, validated configuration of run, demo and check.
type config struct {
	API               string // apiV1 or apiV2
	V2                api2.Config
	V1                api1.Config
	Client            mimecast.ClientConfig
	RequestsPerMinute float64
	Streams           streamSel     // MIMECAST_TYPES
	Lookback          time.Duration // MIMECAST_LOOKBACK, for the log streams
	LogWindow         time.Duration // MIMECAST_LOG_WINDOW
	LogPageSize       int           // MIMECAST_LOG_PAGE_SIZE
	Check             bool          // the check command: refusals of named streams are errors
	Format            syslogfmt.Config
	Transport         transport.Config
	Stdout            bool // no SYSLOG_ADDRESS: write messages to standard output (demo)
	Flow              flowcontrol.Config
	Pipeline          forwarder.Config
	StateDir          string
	MetricsAddress    string
	LogLevel          string
	LogFormat         string
}

// buildConfig turns resolved settings into a config, collecting every
// problem. With demo, SYSLOG_ADDRESS may be empty (standard output); the
// caller has put the simulator's URL and credentials into v.
func buildConfig(v values, e env, demo bool) (*config, error) {
	var errs []error
	bad := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c := &config{StateDir: v["STATE_DIR"], MetricsAddress: v["METRICS_ADDRESS"], LogLevel: v["LOG_LEVEL"], LogFormat: v["LOG_FORMAT"]}
	// Level and format separately, so that both problems are reported.
	_, err := newLogger(nil, c.LogLevel, "text")
	bad(err)
	_, err = newLogger(nil, "info", c.LogFormat)
	bad(err)
	if c.StateDir == "" {
		bad(errors.New("STATE_DIR: must not be empty"))
	}
	if c.MetricsAddress != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddress); err != nil {
			bad(fmt.Errorf("METRICS_ADDRESS %q: want [host]:port, e.g. :9810 or 127.0.0.1:9810 (empty disables metrics)", c.MetricsAddress))
		} else if _, err := net.LookupPort("tcp", port); err != nil {
			bad(fmt.Errorf("METRICS_ADDRESS %q: invalid port %q", c.MetricsAddress, port))
		}
	}

	// Mimecast.
	c.Client = mimecast.ClientConfig{UserAgent: "mimecast-forwarder/" + version}
	rpm, err := strconv.ParseFloat(v["MIMECAST_REQUESTS_PER_MINUTE"], 64)
	if err != nil || rpm < 0 {
		bad(fmt.Errorf("MIMECAST_REQUESTS_PER_MINUTE %q: want a number ≥ 0 (0 = unlimited)", v["MIMECAST_REQUESTS_PER_MINUTE"]))
	}
	c.RequestsPerMinute = rpm
	c.API, err = chooseAPI(v)
	bad(err)
	switch c.API {
	case apiV2:
		c.V2, err = v2Config(v, e)
		bad(err)
	case apiV1:
		c.V1, err = v1Config(v, e)
		bad(err)
	}
	if c.API != "" {
		c.Streams, err = parseStreams(v["MIMECAST_TYPES"], c.API)
		bad(err)
		if c.API == apiV2 && !c.Streams.All {
			c.V2.Types = c.Streams.SIEM
		}
	}
	c.Lookback, _ = time.ParseDuration(strings.TrimSpace(v["MIMECAST_LOOKBACK"])) // checked by v2Config; v1 below
	if c.API == apiV1 {
		c.Lookback, err = parseDuration("MIMECAST_LOOKBACK", v["MIMECAST_LOOKBACK"], false)
		bad(err)
	}
	c.LogWindow, err = parseDuration("MIMECAST_LOG_WINDOW", v["MIMECAST_LOG_WINDOW"], false)
	bad(err)
	c.LogPageSize, err = strconv.Atoi(strings.TrimSpace(v["MIMECAST_LOG_PAGE_SIZE"]))
	if err != nil {
		bad(fmt.Errorf("MIMECAST_LOG_PAGE_SIZE %q: not a whole number", v["MIMECAST_LOG_PAGE_SIZE"]))
	}
	bad(logs.Config{Poster: noPoster{}, Window: c.LogWindow, PageSize: c.LogPageSize}.Validate())

	// Syslog.
	c.Format = syslogfmt.DefaultConfig()
	if h := v["SYSLOG_HOSTNAME"]; h != "" {
		c.Format.Hostname = h
	}
	c.Format.AppName = v["SYSLOG_APP_NAME"]
	c.Format.ProcID = v["SYSLOG_PROCID"]
	c.Format.Version = version
	if f, err := syslogfmt.ParseFacility(v["SYSLOG_FACILITY"]); err != nil {
		bad(fmt.Errorf("SYSLOG_FACILITY: %w", err))
	} else {
		c.Format.Facility = f
	}
	maxBytes, err := strconv.Atoi(v["SYSLOG_MAX_MESSAGE_BYTES"])
	if err != nil {
		bad(fmt.Errorf("SYSLOG_MAX_MESSAGE_BYTES %q: not a whole number", v["SYSLOG_MAX_MESSAGE_BYTES"]))
		maxBytes = c.Format.MaxMessageBytes // keep the default: one line for one problem
	}
	c.Format.MaxMessageBytes = maxBytes
	if b, err := syslogfmt.ParseBodyMode(v["SYSLOG_BODY"]); err != nil {
		bad(fmt.Errorf("SYSLOG_BODY: %w", err))
	} else {
		c.Format.Body = b
	}
	sd, err := parseBool(v["SYSLOG_STRUCTURED_DATA"])
	if err != nil {
		bad(fmt.Errorf("SYSLOG_STRUCTURED_DATA: %w", err))
	}
	c.Format.StructuredData = sd

	c.Transport = transport.DefaultConfig()
	for _, a := range strings.Split(v["SYSLOG_ADDRESS"], ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Transport.Addresses = append(c.Transport.Addresses, a)
		}
	}
	if len(c.Transport.Addresses) > 0 && (maxBytes < syslogfmt.MinMessageBytes || maxBytes > syslogfmt.MaxMessageBytesLimit) {
		// transport.Validate reports the range for the profile (a
		// narrower one): one line for one problem.
		f := c.Format
		f.MaxMessageBytes = syslogfmt.DefaultMaxMessageBytes
		bad(f.Validate())
	} else {
		bad(c.Format.Validate())
	}
	c.Transport.Profile = transport.Profile(strings.ToLower(v["SYSLOG_PROFILE"]))
	c.Transport.Framing = transport.Framing(strings.ToLower(v["SYSLOG_FRAMING"]))
	c.Transport.MaxMessageBytes = maxBytes
	c.Transport.TLSCAFile = v["SYSLOG_TLS_CA_FILE"]
	c.Transport.TLSCertFile = v["SYSLOG_TLS_CERT_FILE"]
	c.Transport.TLSKeyFile = v["SYSLOG_TLS_KEY_FILE"]
	c.Transport.TLSServerName = v["SYSLOG_TLS_SERVER_NAME"]
	insecure, err := parseBool(v["SYSLOG_TLS_INSECURE_SKIP_VERIFY"])
	if err != nil {
		bad(fmt.Errorf("SYSLOG_TLS_INSECURE_SKIP_VERIFY: %w", err))
	}
	c.Transport.TLSInsecureSkipVerify = insecure
	c.Transport.ReplayWindow, err = parseDuration("SYSLOG_REPLAY_WINDOW", v["SYSLOG_REPLAY_WINDOW"], true)
	bad(err)
	c.Flow, err = flowcontrol.ParseConfig(v["SYSLOG_MAX_EPS"], v["WAZUH_ANALYSISD_STATE"])
	bad(err)
	if len(c.Transport.Addresses) == 0 {
		if demo {
			c.Stdout = true
		} else {
			bad(errors.New("SYSLOG_ADDRESS: required (e.g. tcp://wazuh-manager:514)"))
		}
	} else {
		bad(c.Transport.Validate())
	}

	// Pipeline.
	c.Pipeline = forwarder.DefaultConfig()
	c.Pipeline.PollInterval, err = parseDuration("POLL_INTERVAL", v["POLL_INTERVAL"], false)
	bad(err)
	once, err := parseBool(v["ONCE"])
	if err != nil {
		bad(fmt.Errorf("--once / ONCE: %w", err))
	}
	c.Pipeline.Once = once
	if err := errors.Join(errs...); err != nil {
		return nil, &configError{err: err}
	}
	return c, nil
}

// chooseAPI picks the API from MIMECAST_API or from the credentials given.
func chooseAPI(v values) (string, error) {
	has := func(keys ...string) bool {
		for _, k := range keys {
			if v[k] != "" || v[k+"_FILE"] != "" {
				return true
			}
		}
		return false
	}
	v2 := has("MIMECAST_CLIENT_ID", "MIMECAST_CLIENT_SECRET")
	v1 := has("MIMECAST_APP_ID", "MIMECAST_APP_KEY", "MIMECAST_ACCESS_KEY", "MIMECAST_SECRET_KEY")
	switch strings.ToLower(v["MIMECAST_API"]) {
	case "v2", "2", "2.0":
		return apiV2, nil
	case "v1", "1", "1.0":
		return apiV1, nil
	case "":
	default:
		return "", fmt.Errorf("MIMECAST_API %q: want v2 or v1", v["MIMECAST_API"])
	}
	switch {
	case v1 && v2:
		return "", errors.New("MIMECAST_API: both API 2.0 (MIMECAST_CLIENT_*) and API 1.0 (MIMECAST_APP_*, MIMECAST_ACCESS_KEY, MIMECAST_SECRET_KEY) credentials are set: set MIMECAST_API=v2 or v1, or remove one set")
	case v1:
		return apiV1, nil
	case v2:
		return apiV2, nil
	}
	return "", errors.New("no Mimecast credentials: set MIMECAST_CLIENT_ID and MIMECAST_CLIENT_SECRET (API 2.0), or MIMECAST_APP_ID, MIMECAST_APP_KEY, MIMECAST_ACCESS_KEY and MIMECAST_SECRET_KEY (API 1.0); `mimecast-forwarder demo` needs none")
}

func v2Config(v values, e env) (api2.Config, error) {
	var errs []error
	c := api2.Config{BaseURL: v["MIMECAST_BASE_URL"], ClientID: v["MIMECAST_CLIENT_ID"]}
	secret, err := v.secret("MIMECAST_CLIENT_SECRET", e.readFile)
	if err != nil {
		errs = append(errs, err)
	}
	c.ClientSecret = secret
	c.Lookback, err = parseDuration("MIMECAST_LOOKBACK", v["MIMECAST_LOOKBACK"], false)
	errs = append(errs, err)
	c.DayGrace, err = parseDuration("MIMECAST_DAY_GRACE", v["MIMECAST_DAY_GRACE"], true)
	errs = append(errs, err)
	if err == nil && c.DayGrace == 0 {
		// MIMECAST_DAY_GRACE=0 means no grace; api2 reads a zero
		// Config.DayGrace as "the default" (1h).
		c.DayGrace = time.Nanosecond
	}
	c.PageSize, err = strconv.Atoi(v["MIMECAST_PAGE_SIZE"])
	if err != nil {
		errs = append(errs, fmt.Errorf("MIMECAST_PAGE_SIZE %q: not a whole number", v["MIMECAST_PAGE_SIZE"]))
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func v1Config(v values, e env) (api1.Config, error) {
	var errs []error
	get := func(env string) string {
		s, err := v.secret(env, e.readFile)
		if err != nil {
			errs = append(errs, err)
		}
		return s
	}
	c := api1.Config{
		BaseURL:        v["MIMECAST_BASE_URL"],
		AppID:          get("MIMECAST_APP_ID"),
		AppKey:         get("MIMECAST_APP_KEY"),
		AccessKey:      get("MIMECAST_ACCESS_KEY"),
		SecretKey:      get("MIMECAST_SECRET_KEY"),
		FileFormat:     v["MIMECAST_FILE_FORMAT"],
		StartToken:     v["MIMECAST_START_TOKEN"],
		StartTokenFile: v["MIMECAST_START_TOKEN_FILE"],
		TempDir:        v["MIMECAST_TEMP_DIR"],
	}
	restart, err := parseBool(v["MIMECAST_RESTART_ON_INVALID_TOKEN"])
	if err != nil {
		errs = append(errs, fmt.Errorf("MIMECAST_RESTART_ON_INVALID_TOKEN: %w", err))
	}
	c.RestartOnInvalidToken = restart
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func parseDuration(name, s string, zeroOK bool) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%s %q: not a duration (e.g. 30s, 5m, 24h)", name, s)
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%s %s: must be positive", name, s)
	}
	return d, nil
}
