// Package api1 implements the Mimecast API 1.0 SIEM log source
// (POST /api/audit/get-siem-logs, HMAC-SHA1 signed) as a source.Source.
//
// One stream, named StreamName ("siem-v1"), carries every log type: each
// call returns one zip file (one or more members, each one log type named
// by its member-name prefix) and the token of the next file in the
// mc-siem-token header. The cursor is {"v":1,"token":"<mc-siem-token>"}.
//
// Members are inflated with github.com/klauspost/compress/flate (about
// three times compress/flate's speed). A key_value line becomes a record
// with the line as Raw and its pairs as JSON (keyvalue.AppendJSON); with
// Config.RawOnly (SYSLOG_BODY=raw) no JSON is built and the pairs go to
// Record.Fields. In both modes the time is read from the pairs as
// jsonl.EventTime would read it from the JSON form. A JSON member's events
// are split from its "data" arrays by memberScanner, which follows only
// strings and nesting (jsonl checks each event), within the shared line
// budget: an event longer than the longest line is skipped as too_large
// and the member goes on.
//
// With more than one core (GOMAXPROCS > 1) one file uses two: each member
// is inflated ahead on a goroutine of its own (mimecast/readahead, 256 KiB
// of buffers), and the lines of a key_value member are split and parsed
// (pairs, time, fields or JSON) on another, in blocks of up to 256 lines
// and 64 KiB (4 blocks in flight, about 1 MiB with their fields or JSON),
// while the caller's goroutine formats and sends the records. Records,
// skipped lines and damage reach the pipeline in the same order and with
// the same classification as on one core; a line longer than 64 KiB is not
// copied (it stays in the scanner's buffer and the shared line budget), and
// the goroutines end before Records returns, also when it is abandoned.
//
// Wiring:
//
//	client, err := api1.NewClient(cfg, clientCfg, m, log) // signs every attempt
//	src, err := api1.NewSource(cfg, client, m, log)
package api1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// StreamName is the single stream of API 1.0.
const StreamName = "siem-v1"

// Path is the get-siem-logs endpoint.
const Path = "/api/audit/get-siem-logs"

// maxJSONBody bounds the JSON answers read (no-more-logs and errors).
const maxJSONBody = 1 << 20

// Mimecast error codes handled specially.
const (
	CodeBindingExpired  = "err_xdk_binding_expired"
	CodeDeveloperKey    = "err_developer_key"
	CodeIncorrectRegion = "err_audit_log_incorrect_region"
	CodeInvalidToken    = "err_audit_siem_invalid_token"
	CodeValidationNull  = "err_validation_null"
	CodeValidationBlank = "err_validation_blank"
)

// ErrInvalidToken is wrapped by the error returned when Mimecast refuses
// the stored SIEM token and RestartOnInvalidToken is false.
var ErrInvalidToken = errors.New("mimecast refused the stored SIEM token")

// NewClient returns a mimecast.Client whose every attempt is signed with
// cfg's credentials: cc.Transport (nil: a clone of http.DefaultTransport
// with cc.ResponseHeaderTimeout) is wrapped in a Signer. The client follows
// no redirect (the signer would sign the redirected request: a redirect is
// a *mimecast.RedirectError) and scrubs cfg's keys out of its errors and
// logs. Use it for NewSource; an unsigned client only gets authentication
// errors.
func NewClient(cfg Config, cc mimecast.ClientConfig, m *metrics.Metrics, log *slog.Logger) (*mimecast.Client, error) {
	base := cc.Transport
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = cc.ResponseHeaderTimeout
		if tr.ResponseHeaderTimeout == 0 {
			tr.ResponseHeaderTimeout = mimecast.DefaultResponseHeaderTimeout
		}
		base = tr
	}
	s, err := NewSigner(cfg, base)
	if err != nil {
		return nil, err
	}
	cc.Transport = s
	cc.FollowRedirects = false
	cc.Secrets = NewSecrets(cfg)
	return mimecast.NewClient(cc, m, log), nil
}

// NewSecrets returns the mimecast.Secrets of cfg's keys: the secret key
// (as configured and decoded), the application key and the access key
// (which every Authorization header shows). The application id is no
// secret and stays readable.
func NewSecrets(cfg Config) *mimecast.Secrets {
	secret, _ := decodeSecret(cfg.SecretKey) // nil when invalid: Validate reports it
	return mimecast.NewSecrets(strings.TrimSpace(cfg.SecretKey), string(secret), cfg.AppKey, cfg.AccessKey)
}

var _ source.CursorChecker = (*Source)(nil)

// Source fetches API 1.0 SIEM log files. Create it with NewSource. A
// Source is meant for one pipeline goroutine; its batches may be read
// while the next fetch is prepared.
type Source struct {
	cfg        Config
	baseURL    string
	client     *mimecast.Client
	secrets    *mimecast.Secrets
	m          *metrics.Metrics
	log        *slog.Logger
	skip       *mimecast.SkipReporter
	startToken string
}

// NewSource returns the source. client must sign its requests (see
// NewClient). cfg is validated; the start token file, if any, is read now.
func NewSource(cfg Config, client *mimecast.Client, m *metrics.Metrics, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mimecast API 1.0 configuration: %w", err)
	}
	if client == nil || m == nil || log == nil {
		return nil, errors.New("api1.NewSource: client, metrics and logger are required")
	}
	base, _ := ResolveBaseURL(cfg.BaseURL)
	tok := strings.TrimSpace(cfg.StartToken)
	if cfg.StartTokenFile != "" {
		var err error
		if tok, err = readTokenFile(cfg.StartTokenFile); err != nil {
			return nil, err
		}
	}
	log = log.With("stream", StreamName)
	m.InitStream(StreamName)
	m.StreamErrors.WithLabelValues(StreamName, metrics.ReasonInvalidToken)
	return &Source{
		cfg: cfg, baseURL: base, client: client, secrets: NewSecrets(cfg), m: m, log: log,
		skip:       mimecast.NewSkipReporter(StreamName, m, log),
		startToken: tok,
	}, nil
}

// Stream returns StreamName.
func (s *Source) Stream() string { return StreamName }

// cursor is the committed state: the token of the next file to fetch.
// An empty token means "from the oldest log Mimecast holds".
type cursor struct {
	V     int    `json:"v"`
	Token string `json:"token,omitempty"`
}

// EncodeCursor returns the cursor document for token.
func EncodeCursor(token string) []byte {
	b, _ := json.Marshal(cursor{V: 1, Token: token})
	return b
}

// maxTokenBytes bounds the SIEM token of a stored cursor: Mimecast's are a
// few hundred bytes.
const maxTokenBytes = 64 << 10

// DecodeCursor returns the token held by a cursor document: one JSON
// object with exactly the fields v (1) and token (optional, without
// control characters, at most 64 KiB).
func DecodeCursor(b []byte) (string, error) {
	var c cursor
	if err := mimecast.DecodeStrict(b, &c); err != nil {
		return "", fmt.Errorf("cursor %q is not an API 1.0 cursor ({\"v\":1,\"token\":…}): %w", mimecast.Preview(b), err)
	}
	if c.V != 1 {
		return "", fmt.Errorf("cursor %q: version %d is not supported (want 1)", mimecast.Preview(b), c.V)
	}
	if i := mimecast.IndexControl(c.Token); i >= 0 {
		return "", fmt.Errorf("cursor %q: the token holds a control character at byte %d", mimecast.Preview(b), i)
	}
	if len(c.Token) > maxTokenBytes {
		return "", fmt.Errorf("cursor %q: the token has %d bytes, more than %d", mimecast.Preview(b), len(c.Token), maxTokenBytes)
	}
	return c.Token, nil
}

// CheckCursor reports whether a stored cursor is usable (DecodeCursor),
// without any API call (source.CursorChecker).
func (s *Source) CheckCursor(cur []byte) error {
	_, err := DecodeCursor(cur)
	return err
}

// Fetch asks Mimecast for the file that follows cursor (nil: the
// configured start token, else the oldest file). It returns a batch
// holding the downloaded file (close it), or an empty caught-up batch when
// Mimecast has nothing more. A refused token stops the stream
// (source.Permanent) unless RestartOnInvalidToken is set. Error texts are
// scrubbed of the credentials.
func (s *Source) Fetch(ctx context.Context, cur []byte) (source.Batch, error) {
	b, err := s.fetchCursor(ctx, cur)
	return b, s.secrets.ScrubError(err)
}

func (s *Source) fetchCursor(ctx context.Context, cur []byte) (source.Batch, error) {
	token := s.startToken
	if cur != nil {
		t, err := DecodeCursor(cur)
		if err != nil {
			return nil, source.Permanent(fmt.Errorf("mimecast API 1.0 stream %s: %w", StreamName, err))
		}
		token = t
	}
	b, err := s.fetch(ctx, token)
	// Every refusal counts as stream_errors_total{invalid_token}, here: the
	// pipeline does not count permanent errors, whose reason only the
	// source knows.
	if err != nil && errors.Is(err, errInvalidToken) && token != "" {
		s.m.StreamErrors.WithLabelValues(StreamName, metrics.ReasonInvalidToken).Inc()
		if !s.cfg.RestartOnInvalidToken {
			remove := "remove the " + StreamName + " cursor"
			if cur == nil { // the configured start token, not a cursor
				remove = "unset MIMECAST_START_TOKEN / MIMECAST_START_TOKEN_FILE"
			}
			return nil, source.Permanent(fmt.Errorf("%w (%v); the stream is stopped so that nothing is fetched twice without your consent: "+
				"to restart from the oldest log Mimecast still holds (up to 7 days, events already forwarded are sent again) "+
				"set MIMECAST_RESTART_ON_INVALID_TOKEN=true (RestartOnInvalidToken) or %s", ErrInvalidToken, err, remove))
		}
		s.log.Warn("Mimecast refused the stored SIEM token; restarting from the oldest available log (RestartOnInvalidToken): events already forwarded will be sent again",
			"error", s.secrets.Scrub(err.Error()))
		b, err = s.fetch(ctx, "")
	}
	if err != nil {
		if errors.Is(err, errInvalidToken) {
			s.m.StreamErrors.WithLabelValues(StreamName, metrics.ReasonInvalidToken).Inc()
			return nil, source.Permanent(fmt.Errorf("%w: %w", ErrInvalidToken, err))
		}
		return nil, err
	}
	return b, nil
}

// errInvalidToken marks (internally) an err_audit_siem_invalid_token answer.
var errInvalidToken = errors.New(CodeInvalidToken)

type requestBody struct {
	Data []requestData `json:"data"`
}

type requestData struct {
	Type       string `json:"type"`
	Compress   bool   `json:"compress"`
	FileFormat string `json:"fileFormat"`
	Token      string `json:"token,omitempty"`
}

func (s *Source) fetch(ctx context.Context, token string) (source.Batch, error) {
	body, err := json.Marshal(requestBody{Data: []requestData{{Type: "MTA", Compress: true, FileFormat: s.cfg.fileFormat(), Token: token}}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.baseURL+Path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("mimecast get_siem_logs: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/octet-stream, application/json")
	resp, err := s.client.Do(req, metrics.EndpointSIEMLogs)
	if err != nil {
		var apiErr *mimecast.APIError
		if errors.As(err, &apiErr) {
			return nil, explain(apiErr, s.baseURL)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, explain(mimecast.ResponseError(resp, metrics.EndpointSIEMLogs, s.secrets), s.baseURL)
	}
	next := strings.TrimSpace(resp.Header.Get("mc-siem-token"))
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if strings.Contains(ct, "json") {
		return s.jsonAnswer(resp, token)
	}
	if ct != "application/octet-stream" && next == "" {
		return nil, fmt.Errorf("mimecast get_siem_logs: unexpected answer of type %q without mc-siem-token", resp.Header.Get("Content-Type"))
	}
	if next == "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil, errors.New("mimecast get_siem_logs: a log file came without the mc-siem-token header, so the next file cannot be asked for; the file is not used and will be fetched again")
	}
	name := fileName(resp.Header.Get("Content-Disposition"))
	f, err := os.CreateTemp(s.cfg.TempDir, "mimecast-siem-*.zip")
	if err != nil {
		return nil, fmt.Errorf("mimecast get_siem_logs: spooling the log file: %w", err)
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("mimecast get_siem_logs: downloading log file %q: %w", name, s.secrets.ScrubError(err))
	}
	s.m.FilesFetched.WithLabelValues(StreamName).Inc()
	s.log.Debug("Mimecast SIEM log file downloaded", "file", name, "bytes", n)
	return &fileBatch{src: s, f: f, size: n, name: name, cursor: EncodeCursor(next)}, nil
}

// fileName extracts the file name of a Content-Disposition header.
func fileName(cd string) string {
	if cd == "" {
		return "unnamed"
	}
	if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	// Lenient fallback: filename=name or filename="name" in a header that
	// does not parse.
	if i := strings.Index(strings.ToLower(cd), "filename="); i >= 0 {
		v := strings.TrimSpace(cd[i+len("filename="):])
		if j := strings.IndexByte(v, ';'); j >= 0 {
			v = v[:j]
		}
		if v = strings.Trim(v, `"' `); v != "" {
			return v
		}
	}
	return "unnamed"
}

// jsonAnswer handles an application/json answer: errors in fail[], or
// "no more logs".
func (s *Source) jsonAnswer(resp *http.Response, token string) (source.Batch, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
	if err != nil {
		return nil, fmt.Errorf("mimecast get_siem_logs: reading the JSON answer: %w", s.secrets.ScrubError(err))
	}
	var v struct {
		Meta struct {
			Status      int  `json:"status"`
			IsLastToken bool `json:"isLastToken"`
		} `json:"meta"`
		Fail []json.RawMessage `json:"fail"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("mimecast get_siem_logs: the JSON answer does not parse: %w", err)
	}
	if len(v.Fail) > 0 {
		code, msg := mimecast.ParseErrorBody(body, s.secrets)
		return nil, explain(&mimecast.APIError{Endpoint: metrics.EndpointSIEMLogs, StatusCode: resp.StatusCode, Code: code, Message: msg, Attempts: 1}, s.baseURL)
	}
	return &emptyBatch{cursor: EncodeCursor(token)}, nil
}

// explain turns a Mimecast error into an error that says what to do.
func explain(e *mimecast.APIError, baseURL string) error {
	switch e.Code {
	case CodeInvalidToken:
		return fmt.Errorf("%w: %w", errInvalidToken, e)
	case CodeBindingExpired:
		return fmt.Errorf("%w: the access key has expired (%w); create new keys for the API 1.0 service user and set MIMECAST_ACCESS_KEY and MIMECAST_SECRET_KEY", mimecast.ErrAuth, e)
	case CodeDeveloperKey:
		return fmt.Errorf("%w: Mimecast does not recognise the application (%w); check MIMECAST_APP_ID and MIMECAST_APP_KEY", mimecast.ErrAuth, e)
	case CodeIncorrectRegion:
		return fmt.Errorf("%w: the account is not hosted on %s (%w); set MIMECAST_BASE_URL to the account's region (%s)", mimecast.ErrAuth, baseURL, e, regionList())
	case CodeValidationNull, CodeValidationBlank:
		return fmt.Errorf("mimecast refused the request as invalid (%w); this is a bug or a damaged cursor: report it", e)
	}
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: %w; check MIMECAST_APP_ID, MIMECAST_APP_KEY, MIMECAST_ACCESS_KEY, MIMECAST_SECRET_KEY, the machine's clock (signatures carry the time) and the user's Gateway | Tracking | Read permission", mimecast.ErrAuth, e)
	}
	return e
}

// emptyBatch is the answer "no more logs for now".
type emptyBatch struct{ cursor []byte }

func (b *emptyBatch) Records(ctx context.Context, fn func(*source.Record) error) error {
	return ctx.Err()
}
func (b *emptyBatch) Cursor() []byte { return b.cursor }
func (b *emptyBatch) CaughtUp() bool { return true }
