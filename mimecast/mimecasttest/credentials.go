package mimecasttest

// Credential leak checks: a Trap server that records what reaches it (the
// target of a hostile redirect), Echo (the request as a server that echoes
// it would show it) and CredentialForms with NoLeak (every spelling of a
// credential that must not appear in an error, a log or the output of a
// command). The list of spellings is written independently of the
// production scrubbing code on purpose.

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// OddSecret is a secret with characters that every encoding changes: URL
// (/ + = & space), JSON (" < > &), base64, and a non-ASCII one.
const OddSecret = `Sup3r/Secret+Value=123 "&<é>`

// TrapRequest is what a Trap received.
type TrapRequest struct {
	Method string
	Host   string
	Path   string
	Header http.Header
	Body   string
}

// Trap is a loopback HTTP server that records every request and answers
// 200 with Answer (default `{}`).
type Trap struct {
	Srv *httptest.Server
	// Answer is the body of every answer.
	Answer string

	mu   sync.Mutex
	reqs []TrapRequest
}

// NewTrap starts a Trap, closed at the end of the test.
func NewTrap(t testing.TB) *Trap {
	tr := &Trap{Answer: `{}`}
	tr.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, TrapRequest{Method: r.Method, Host: r.Host, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
		answer := tr.Answer
		tr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(tr.Srv.Close)
	return tr
}

// Requests returns a copy of the requests received so far.
func (tr *Trap) Requests() []TrapRequest {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]TrapRequest(nil), tr.reqs...)
}

// URL returns the Trap's base URL with its host name replaced by host
// (e.g. "localhost" for "another host name" than 127.0.0.1); "" keeps it.
func (tr *Trap) URL(host string) string {
	if host == "" {
		return tr.Srv.URL
	}
	u, _ := url.Parse(tr.Srv.URL)
	return "http://" + host + ":" + u.Port()
}

// Echo returns req as a server that echoes requests shows it: request
// line, headers (sorted) and body. It reads req.Body.
func Echo(req *http.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\n", req.Method, req.URL.RequestURI(), req.Proto)
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	body, _ := io.ReadAll(req.Body)
	b.WriteString("\n")
	b.Write(body)
	return b.String()
}

// Forms returns the spellings of secret that must never be shown: raw,
// URL-encoded (form and path, upper- and lower-case hex), base64 (standard
// and URL alphabets, padded or not) and JSON-escaped (Go's escaping of
// <, >, & and other servers' \/ and \uXXXX).
func CredentialForms(secret string) []string {
	qe := url.QueryEscape(secret)
	pe := url.PathEscape(secret)
	js := jsonEscape(secret, false)
	forms := []string{
		secret, qe, pe, lowerHex(qe), lowerHex(pe),
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.URLEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)),
		base64.RawURLEncoding.EncodeToString([]byte(secret)),
		js, strings.ReplaceAll(js, "/", `\/`), jsonEscape(secret, true),
	}
	out := forms[:0]
	seen := map[string]bool{}
	for _, f := range forms {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// WantRedirectError fails the test unless err reports a redirect with
// status to location: it names the status, location's host and the
// setting to fix (MIMECAST_BASE_URL).
func WantRedirectError(t testing.TB, err error, location string, status int) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	u, perr := url.Parse(location)
	if perr != nil {
		t.Fatal(perr)
	}
	for _, want := range []string{"redirect", fmt.Sprint(status), u.Host, "MIMECAST_BASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// NoLeak fails the test when text (named what) contains any form (CredentialForms)
// of any of the credentials.
func NoLeak(t testing.TB, what, text string, credentials ...string) {
	t.Helper()
	for _, c := range credentials {
		for _, f := range CredentialForms(c) {
			if strings.Contains(text, f) {
				t.Errorf("%s shows the credential %q as %q:\n%s", what, c, f, text)
			}
		}
	}
}

// jsonEscape escapes s as the inside of a JSON string: ", \ and control
// characters always, <, > and & as \u00XX like Go's encoding/json, and
// every non-ASCII rune as \uXXXX when ascii is set.
func jsonEscape(s string, ascii bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>' || r == '&':
			fmt.Fprintf(&b, `\u%04x`, r)
		case ascii && r > 0x7e && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case ascii && r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var percentEscape = regexp.MustCompile(`%[0-9A-F]{2}`)

func lowerHex(s string) string { return percentEscape.ReplaceAllStringFunc(s, strings.ToLower) }
