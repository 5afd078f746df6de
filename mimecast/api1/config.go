package api1

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
)

// Values of Config.FileFormat.
const (
	FormatJSON     = "json"
	FormatKeyValue = "key_value"
)

// MaxStartTokenFileBytes is the largest start token file read.
const MaxStartTokenFileBytes = 64 << 10

// Regions maps the region names accepted in Config.BaseURL to Mimecast
// API 1.0 base URLs (Mimecast's "Global Base URLs" page; "je" is the
// offshore Jersey grid; "uspcom" the US public sector grid).
var Regions = map[string]string{
	"eu":     "https://eu-api.mimecast.com",
	"de":     "https://de-api.mimecast.com",
	"us":     "https://us-api.mimecast.com",
	"usb":    "https://usb-api.mimecast.com",
	"ca":     "https://ca-api.mimecast.com",
	"za":     "https://za-api.mimecast.com",
	"au":     "https://au-api.mimecast.com",
	"je":     "https://je-api.mimecast.com",
	"uspcom": "https://uspcom-api.mimecast-pscom-us.com",
}

// Config configures the API 1.0 source. Environment variable names are
// given for each field; the command wires them.
type Config struct {
	// BaseURL is the account's regional API base URL (MIMECAST_BASE_URL):
	// a region name of Regions (eu, de, us, usb, ca, za, au, je, uspcom) or
	// any http(s) URL. Required: there is no default region, and a wrong one
	// is refused by Mimecast with err_audit_log_incorrect_region.
	BaseURL string
	// AppID and AppKey identify the registered API 1.0 application
	// (MIMECAST_APP_ID, MIMECAST_APP_KEY).
	AppID  string
	AppKey string
	// AccessKey and SecretKey are the service user's binding keys
	// (MIMECAST_ACCESS_KEY, MIMECAST_SECRET_KEY). SecretKey is base64, as
	// Mimecast shows it.
	AccessKey string
	SecretKey string
	// FileFormat is the fileFormat asked of Mimecast: "json" (default when
	// empty) or "key_value" (MIMECAST_FILE_FORMAT). Whatever was asked,
	// each zip member is read according to its content.
	FileFormat string
	// StartToken is the mc-siem-token to start from when the stream has no
	// cursor yet (MIMECAST_START_TOKEN). Empty: start from the oldest log
	// Mimecast holds (up to 7 days).
	StartToken string
	// StartTokenFile names a file holding the start token
	// (MIMECAST_START_TOKEN_FILE), such as the get_mta_siem_logs_checkpoint
	// file written by Mimecast's example script get-siem-logs.py (and the
	// scripts derived from it, e.g. the Wazuh blog's): the raw token,
	// surrounding white space and a trailing newline ignored. Only used
	// when the stream has no cursor yet; exclusive with StartToken.
	StartTokenFile string
	// RestartOnInvalidToken, when true, makes the source drop a token that
	// Mimecast refuses (err_audit_siem_invalid_token) and restart from the
	// oldest log Mimecast holds, which sends again up to 7 days of events
	// (MIMECAST_RESTART_ON_INVALID_TOKEN). When false (default) the stream
	// stops with a permanent error so that an operator decides.
	RestartOnInvalidToken bool
	// RawOnly tells that records are formatted from their Raw text alone
	// (SYSLOG_BODY=raw): key_value lines are then not converted to JSON;
	// each record carries the line, its time and its pairs as
	// source.Record.Fields (for the severity). JSON members are unaffected.
	RawOnly bool
	// TempDir is where downloaded zip files are spooled (MIMECAST_TEMP_DIR);
	// empty means os.TempDir(). A file lives until its batch is closed.
	TempDir string
	// LineBudget is the memory for key_value lines longer than 1 MiB,
	// shared with the rest of the process (jsonl.NewLineBudget); nil:
	// unlimited.
	LineBudget *jsonl.LineBudget
}

// LogValue implements slog.LogValuer: the configuration without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("app_id", c.AppID),
		slog.String("app_key", redacted(c.AppKey)),
		slog.String("access_key", redacted(c.AccessKey)),
		slog.String("secret_key", redacted(c.SecretKey)),
		slog.String("file_format", c.fileFormat()),
		slog.Bool("start_token_set", c.StartToken != ""),
		slog.String("start_token_file", c.StartTokenFile),
		slog.Bool("restart_on_invalid_token", c.RestartOnInvalidToken),
		slog.String("temp_dir", c.TempDir),
	)
}

// String describes the configuration without secrets.
func (c Config) String() string { return c.LogValue().String() }

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

func (c Config) fileFormat() string {
	if c.FileFormat == "" {
		return FormatJSON
	}
	return c.FileFormat
}

// Validate reports every problem of the configuration, one line each,
// naming the environment variable. It never echoes a secret.
func (c Config) Validate() error {
	var errs []error
	if _, err := ResolveBaseURL(c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	req := func(v, env, what string) {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, fmt.Errorf("%s is required (%s)", env, what))
		}
	}
	req(c.AppID, "MIMECAST_APP_ID", "the API 1.0 application ID")
	req(c.AppKey, "MIMECAST_APP_KEY", "the API 1.0 application key")
	req(c.AccessKey, "MIMECAST_ACCESS_KEY", "the service user's access key")
	if strings.TrimSpace(c.SecretKey) == "" {
		errs = append(errs, errors.New("MIMECAST_SECRET_KEY is required (the service user's secret key, base64)"))
	} else if _, err := decodeSecret(c.SecretKey); err != nil {
		errs = append(errs, err)
	}
	switch c.FileFormat {
	case "", FormatJSON, FormatKeyValue:
	default:
		errs = append(errs, fmt.Errorf("MIMECAST_FILE_FORMAT must be %q or %q, not %q", FormatJSON, FormatKeyValue, c.FileFormat))
	}
	if c.StartToken != "" && c.StartTokenFile != "" {
		errs = append(errs, errors.New("MIMECAST_START_TOKEN and MIMECAST_START_TOKEN_FILE are exclusive: set one"))
	}
	if c.StartTokenFile != "" {
		if _, err := readTokenFile(c.StartTokenFile); err != nil {
			errs = append(errs, err)
		}
	}
	if c.TempDir != "" {
		if fi, err := os.Stat(c.TempDir); err != nil {
			errs = append(errs, fmt.Errorf("MIMECAST_TEMP_DIR: %w", err))
		} else if !fi.IsDir() {
			errs = append(errs, fmt.Errorf("MIMECAST_TEMP_DIR %q is not a directory", c.TempDir))
		}
	}
	return errors.Join(errs...)
}

// ResolveBaseURL returns the base URL named by s: a region name of Regions
// (any letter case) or an http(s) URL, returned without a trailing slash.
func ResolveBaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("MIMECAST_BASE_URL is required: a region (%s) or the https URL of the account's API grid", regionList())
	}
	if u, ok := Regions[strings.ToLower(s)]; ok {
		return u, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("MIMECAST_BASE_URL %q is neither a region (%s) nor an http(s) URL", s, regionList())
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("MIMECAST_BASE_URL must not hold user info, a query or a fragment")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func regionList() string {
	names := make([]string, 0, len(Regions))
	for k := range Regions {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// decodeSecret decodes the base64 secret key (standard or URL alphabet,
// padding optional). The error never contains the key.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("MIMECAST_SECRET_KEY is not valid base64 (%d characters); paste the Secret Key exactly as Mimecast showed it", len(s))
}

// readTokenFile reads a start token file: the raw token, white space
// around it ignored.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("MIMECAST_START_TOKEN_FILE: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, MaxStartTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("MIMECAST_START_TOKEN_FILE %q: %w", path, err)
	}
	if len(buf) > MaxStartTokenFileBytes {
		return "", fmt.Errorf("MIMECAST_START_TOKEN_FILE %q is larger than %d bytes: not a SIEM token file", path, MaxStartTokenFileBytes)
	}
	tok := strings.TrimSpace(string(buf))
	if tok == "" {
		return "", fmt.Errorf("MIMECAST_START_TOKEN_FILE %q is empty", path)
	}
	if strings.ContainsAny(tok, "\r\n\t ") {
		return "", fmt.Errorf("MIMECAST_START_TOKEN_FILE %q holds more than one line or word: expected the raw mc-siem-token", path)
	}
	return tok, nil
}
