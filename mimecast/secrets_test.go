package mimecast

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func TestSecretsScrubEverySpelling(t *testing.T) {
	s := NewSecrets(mimecasttest.OddSecret, "", "AccessKey-42")
	for _, f := range append(mimecasttest.CredentialForms(mimecasttest.OddSecret), mimecasttest.CredentialForms("AccessKey-42")...) {
		text := "before " + f + " after"
		got := s.Scrub(text)
		if got != "before "+Redacted+" after" {
			t.Errorf("Scrub(%q) = %q", text, got)
		}
	}
	if got := s.Scrub("nothing secret here"); got != "nothing secret here" {
		t.Errorf("clean text changed: %q", got)
	}
}

func TestSecretsLiveTokens(t *testing.T) {
	s := NewSecrets("x-secret")
	for i := 1; i <= 6; i++ {
		s.AddLive(fmt.Sprintf("live-token-%d", i))
	}
	s.AddLive("live-token-6") // again: no effect
	text := "t1 live-token-1 t3 live-token-3 t6 live-token-6"
	// The last maxLive (4) tokens are scrubbed, older ones forgotten.
	if got, want := s.Scrub(text), "t1 live-token-1 t3 [REDACTED] t6 [REDACTED]"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
	var none *Secrets
	none.AddLive("ignored")
	if got := none.Scrub("tok Bearer abcdefghijkl"); got != "tok Bearer [REDACTED]" {
		t.Errorf("nil Secrets: %q", got)
	}
}

func TestScrubCredentialShapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Authorization: MC AKEY123:c2lnbmF0dXJl\nNext: 1", "Authorization: [REDACTED]\nNext: 1"},
		{`{"Authorization":"Bearer abc.def.ghi","x":1}`, `{"Authorization":"[REDACTED]","x":1}`},
		{`"{\"authorization\": \"Bearer abc.def.ghi\"}"`, `"{\"authorization\": \"[REDACTED]\"}"`},
		{"map[Authorization:[Bearer abc] Accept:[*/*]]", "map[Authorization:[REDACTED] Accept:[*/*]]"},
		{"proxy-authorization=Basic dXNlcjpwYXNz&x=1", "proxy-authorization=[REDACTED]&x=1"},
		{"got bearer eyJhbGciOiJIUzI1NiJ9.e30.sig for", "got bearer [REDACTED] for"},
		{"header MC AKEY-1:c2lnbmF0dXJl+/= seen", "header MC [REDACTED] seen"},
		{"client_id=a&client_secret=abc%2Fdef&grant_type=x", "client_id=a&client_secret=[REDACTED]&grant_type=x"},
		{`{"access_token":"tok123","refresh_token": "r1"}`, `{"access_token":"[REDACTED]","refresh_token": "[REDACTED]"}`},
		{`secretKey=abc accessKey: def app_key=ghi`, `secretKey=[REDACTED] accessKey: [REDACTED] app_key=[REDACTED]`},
		// Ordinary words stay.
		{"the bearer token is invalid", "the bearer token is invalid"},
		{"authorization failed", "authorization failed"},
		{"check MIMECAST_APP_KEY, MIMECAST_ACCESS_KEY, MIMECAST_SECRET_KEY", "check MIMECAST_APP_KEY, MIMECAST_ACCESS_KEY, MIMECAST_SECRET_KEY"},
		{"MC is fine", "MC is fine"},
	} {
		got := (*Secrets)(nil).Scrub(tc.in)
		if got != tc.want {
			t.Errorf("Scrub(%q)\n  = %q\nwant %q", tc.in, got, tc.want)
		}
		if again := (*Secrets)(nil).Scrub(got); again != got {
			t.Errorf("Scrub is not idempotent: %q then %q", got, again)
		}
	}
	// A live token first becomes [REDACTED], then the header shape applies:
	// one marker, stable when scrubbed again.
	s := NewSecrets()
	s.AddLive("tok-live-1")
	got := s.Scrub("Authorization: Bearer tok-live-1")
	if got != "Authorization: [REDACTED]" || s.Scrub(got) != got {
		t.Errorf("Scrub = %q, again %q", got, s.Scrub(got))
	}
}

func TestExcerptScrubsBeforeCutting(t *testing.T) {
	s := NewSecrets("ABCDEFGHIJKLMNOP")
	text := strings.Repeat("x", ExcerptBytes-5) + "ABCDEFGHIJKLMNOP" + strings.Repeat("y", 100)
	got := s.Excerpt(text)
	if strings.Contains(got, "ABCDE") || !strings.HasSuffix(got, "…") || len(got) > ExcerptBytes+len("…") {
		t.Errorf("Excerpt = %q", got)
	}
	if got := s.Excerpt("line one\r\n\tline  two"); got != "line one line two" {
		t.Errorf("Excerpt = %q", got)
	}
	long := strings.Repeat("é", ExcerptBytes) // cut inside a rune
	if got := s.Excerpt(long); !strings.HasSuffix(got, "é…") {
		t.Errorf("Excerpt cut a character: %q", got[len(got)-8:])
	}
}

func TestScrubError(t *testing.T) {
	s := NewSecrets("s3cret-value")
	base := errors.New("plain failure")
	if got := s.ScrubError(base); got != base {
		t.Errorf("a clean error was wrapped: %v", got)
	}
	inner := &APIError{Endpoint: "x", StatusCode: 400, Message: "echo s3cret-value"}
	err := fmt.Errorf("%w: %w", ErrAuth, inner)
	got := s.ScrubError(err)
	var apiErr *APIError
	if strings.Contains(got.Error(), "s3cret-value") || !errors.Is(got, ErrAuth) || !errors.As(got, &apiErr) {
		t.Errorf("ScrubError = %v", got)
	}
	if s.ScrubError(nil) != nil {
		t.Error("ScrubError(nil) != nil")
	}
}

// TestResponseErrorExcerpt: an unrecognised error body is shown as a short
// scrubbed excerpt; a recognised one by its code and message.
func TestResponseErrorExcerpt(t *testing.T) {
	s := NewSecrets("s3cret-value")
	resp := &http.Response{StatusCode: 502, Body: io.NopCloser(strings.NewReader(
		"<html><body>Bad gateway\nclient_secret=s3cret-value " + strings.Repeat("z", 1000) + "</body></html>"))}
	e := ResponseError(resp, metrics.EndpointToken, s)
	if e.Code != "" || !strings.HasPrefix(e.Message, "<html><body>Bad gateway client_secret=[REDACTED] zzz") ||
		len(e.Message) > ExcerptBytes+len("…") {
		t.Errorf("APIError = %+v", e)
	}
	resp = &http.Response{StatusCode: 400, Body: io.NopCloser(strings.NewReader(`{"fail":[{"code":"c1","message":"m s3cret-value"}]}`))}
	if e := ResponseError(resp, metrics.EndpointToken, s); e.Code != "c1" || e.Message != "m [REDACTED]" {
		t.Errorf("APIError = %+v", e)
	}
}

// TestClientDoesNotFollowRedirects: without FollowRedirects a redirect to
// another port (GET 302, POST 307) is not followed and Do returns a
// *RedirectError naming the Location's host; it is not retried.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	trap := mimecasttest.NewTrap(t)
	for _, tc := range []struct {
		method string
		status int
	}{{http.MethodGet, http.StatusFound}, {http.MethodPost, http.StatusTemporaryRedirect}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, trap.URL("")+"/elsewhere?sig=SECRETSIG", tc.status)
		}))
		c, m, logs := newTestClient(t, ClientConfig{})
		req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+"/api", strings.NewReader("client_secret=abc"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer live-token-value")
		resp, err := c.Do(req, metrics.EndpointBatchList)
		srv.Close()
		if resp != nil {
			resp.Body.Close()
		}
		var re *RedirectError
		if !errors.As(err, &re) || re.StatusCode != tc.status || re.Host != strings.TrimPrefix(trap.URL(""), "http://") {
			t.Fatalf("%s: err = %v, want a RedirectError to the trap", tc.method, err)
		}
		if strings.Contains(err.Error(), "SECRETSIG") || strings.Contains(logs.String(), "SECRETSIG") || !strings.Contains(err.Error(), "MIMECAST_BASE_URL") {
			t.Errorf("%s: error %q", tc.method, err)
		}
		if got := value(t, m.APIRequests.WithLabelValues(metrics.EndpointBatchList, fmt.Sprint(tc.status))); got != 1 {
			t.Errorf("%s: api_requests{%d} = %v, want 1 (no retry)", tc.method, tc.status, got)
		}
	}
	if n := len(trap.Requests()); n != 0 {
		t.Errorf("the trap got %d requests", n)
	}
}

// TestClientFollowRedirectsDropsCredentials: with FollowRedirects (batch
// file downloads) a redirect is followed, to the same host on another port
// too, without the credential headers (net/http keeps Authorization when
// only the port changes).
func TestClientFollowRedirectsDropsCredentials(t *testing.T) {
	trap := mimecasttest.NewTrap(t)
	trap.Answer = "file content"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.URL("")+"/moved", http.StatusFound)
	}))
	defer srv.Close()
	c, _, _ := newTestClient(t, ClientConfig{FollowRedirects: true})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/file", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer live-token-value")
	req.Header.Set("Cookie", "session=1")
	req.Header.Set("X-Mc-Req-Id", "id-1")
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := c.Do(req, metrics.EndpointBatchFile)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "file content" {
		t.Errorf("body = %q", body)
	}
	reqs := trap.Requests()
	if len(reqs) != 1 {
		t.Fatalf("trap got %d requests", len(reqs))
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Mc-Req-Id"} {
		if v := reqs[0].Header.Get(h); v != "" {
			t.Errorf("the redirected request carried %s: %q", h, v)
		}
	}
	if reqs[0].Header.Get("Accept-Encoding") != "identity" {
		t.Errorf("an ordinary header was dropped: %v", reqs[0].Header)
	}
}

func TestSecretsIgnoreTinyValues(t *testing.T) {
	s := NewSecrets("k")
	s.AddLive("ab")
	if got := s.Scrub("keep kind words about abc"); got != "keep kind words about abc" {
		t.Errorf("Scrub = %q", got)
	}
}
