package mimecast

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrAuth is wrapped by every error that means Mimecast refused the
// credentials (bad client id or secret, expired or revoked keys, missing
// rights). Test it with errors.Is; retrying will not help until the
// configuration is fixed.
var ErrAuth = errors.New("mimecast refused the credentials")

// maxErrorBody is the most bytes of an error response that are read.
const maxErrorBody = 64 << 10

// APIError describes an HTTP answer that Mimecast (or the storage serving a
// batch file) gave with an error status, after any retries.
type APIError struct {
	// Endpoint is the metrics.Endpoint* label of the call.
	Endpoint string
	// StatusCode is the HTTP status of the last answer.
	StatusCode int
	// Code and Message come from the body when it had a Mimecast error
	// ({"fail":[{"code","message"}]}, {"fail":[{"errors":[...]}]},
	// {"error":{"code","message"}}, or OAuth2 {"error","error_description"});
	// empty otherwise.
	Code    string
	Message string
	// Attempts is the number of attempts made (1 when not retried).
	Attempts int
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mimecast %s: HTTP %d", e.Endpoint, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// RedirectError is returned by Client.Do when a call that does not follow
// redirects (every API call: its credentials would go along) is answered
// with one. It usually means a wrong base URL, e.g. another region's.
type RedirectError struct {
	// Endpoint is the metrics.Endpoint* label of the call.
	Endpoint string
	// StatusCode is the redirect status (301, 302, 303, 307, 308…).
	StatusCode int
	// From is the host[:port] the call went to.
	From string
	// Location is where the server redirected to, as scheme://host/path
	// (RedactURL); Host its host[:port].
	Location string
	Host     string
}

func (e *RedirectError) Error() string {
	to := e.Location
	if e.Host != "" {
		to = "host " + e.Host + " (" + e.Location + ")"
	}
	return fmt.Sprintf("mimecast %s: HTTP %d %s: %s redirected the call to %s; API calls never follow a redirect "+
		"(the credentials would go along): the base URL is probably wrong, e.g. another region's: set MIMECAST_BASE_URL to the account's API base URL",
		e.Endpoint, e.StatusCode, http.StatusText(e.StatusCode), e.From, to)
}

// ResponseError reads (at most 64 KiB of) resp's body, closes it and
// returns an *APIError for it. Use it for answers whose status the caller
// does not accept. The server's words are scrubbed by secrets (nil: the
// credential patterns only, see Secrets) and cut to an excerpt: Code and
// Message of a recognised Mimecast error (ParseErrorBody), else an excerpt
// of the body itself as Message.
func ResponseError(resp *http.Response, endpoint string, secrets *Secrets) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	code, msg := ParseErrorBody(body, secrets)
	if code == "" && msg == "" {
		msg = secrets.Excerpt(string(body))
	}
	return &APIError{Endpoint: endpoint, StatusCode: resp.StatusCode, Code: code, Message: msg, Attempts: 1}
}

// ParseErrorBody extracts the first error code and message from a Mimecast
// error body. Recognised shapes: API 2.0 {"fail":[{"code","message"}]},
// API 1.0 {"fail":[{"errors":[{"code","message"}]}]}, gateway
// {"error":{"code","message"}}, OAuth2 {"error":"…","error_description":"…"},
// and {"message":"…"}. Both results are empty when nothing was recognised.
// Both are scrubbed by secrets (nil: patterns only) and cut: the message to
// an excerpt (Secrets.Excerpt), the code to 100 bytes.
func ParseErrorBody(body []byte, secrets *Secrets) (code, message string) {
	var v struct {
		Fail []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Errors  []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"fail"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Message          string          `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", ""
	}
	switch {
	case len(v.Fail) > 0:
		f := v.Fail[0]
		code, message = f.Code, f.Message
		if code == "" && message == "" && len(f.Errors) > 0 {
			code, message = f.Errors[0].Code, f.Errors[0].Message
		}
	case len(v.Error) > 0:
		var s string
		var o struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &s) == nil {
			code, message = s, v.ErrorDescription
		} else if json.Unmarshal(v.Error, &o) == nil {
			code, message = o.Code, o.Message
		}
	default:
		message = v.Message
	}
	code = secrets.Excerpt(code)
	if len(code) > 100 {
		code = strings.ToValidUTF8(code[:100], "")
	}
	if message != "" {
		message = secrets.Excerpt(message)
	}
	return code, message
}

// RedactURL returns u as scheme://host/path only: user info, query (which
// carries the signature of a presigned URL) and fragment are dropped. Use it
// for every URL that is logged or put into an error.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return r.String()
}

// RedactString returns s with every http:// or https:// URL in it reduced
// as RedactURL does (query, fragment and user info removed).
func RedactString(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for {
		i := indexURL(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexAny(s, " \t\r\n\"'<>`")
		if end < 0 {
			end = len(s)
		}
		raw := s[:end]
		if u, err := url.Parse(raw); err == nil {
			b.WriteString(RedactURL(u))
		} else {
			if q := strings.IndexAny(raw, "?#"); q >= 0 {
				raw = raw[:q]
			}
			if at := strings.LastIndex(raw, "@"); at >= 0 {
				raw = raw[:strings.Index(raw, "://")+3] + raw[at+1:]
			}
			b.WriteString(raw)
		}
		s = s[end:]
	}
}

func indexURL(s string) int {
	i := strings.Index(s, "http://")
	j := strings.Index(s, "https://")
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	default:
		return min(i, j)
	}
}

// RedactError returns err with its message redacted by RedactString (the URL
// of a *url.Error reduced to scheme://host/path); errors.Is and errors.As
// still see the original chain.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			cp := *ue
			cp.URL = RedactURL(u)
			if err == error(ue) {
				return &cp
			}
			return &redactedError{msg: RedactString(err.Error()), err: err}
		}
	}
	if strings.Contains(err.Error(), "://") {
		return &redactedError{msg: RedactString(err.Error()), err: err}
	}
	return err
}

// redactedError keeps err's chain for errors.Is/As but prints a redacted
// message.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
