package api2

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

func TestTokenCachedAndRefreshedBeforeExpiry(t *testing.T) {
	e := newEnv(t, nil)
	s := e.src(t, "receipt")
	for range 3 {
		if _, err := s.Fetch(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.api.tokenCount(); n != 1 {
		t.Fatalf("3 fetches obtained %d tokens, want 1", n)
	}
	// expires_in 1799 s: still cached 1738 s later, refreshed at 1739 s (60 s early).
	e.clk.Advance(1738 * time.Second)
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if n := e.api.tokenCount(); n != 1 {
		t.Fatalf("token refreshed too early (%d tokens)", n)
	}
	e.clk.Advance(time.Second)
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if n := e.api.tokenCount(); n != 2 {
		t.Fatalf("token not refreshed 60 s before expiry (%d tokens)", n)
	}
	if got := value(t, e.m.TokenRefreshes); got != 2 {
		t.Errorf("oauth_tokens_total = %v", got)
	}
	if got := value(t, e.m.APIRequests.WithLabelValues(metrics.EndpointToken, "200")); got != 2 {
		t.Errorf("api_requests{oauth_token,200} = %v", got)
	}
	// The listing used the newest token.
	e.api.mu.Lock()
	defer e.api.mu.Unlock()
	if e.api.listHits != 5 {
		t.Errorf("list hits = %d", e.api.listHits)
	}
}

func TestTokenShortLifeRefreshedAtHalfLife(t *testing.T) {
	e := newEnv(t, nil)
	e.api.expiresIn = 60
	s := e.src(t, "receipt")
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(29 * time.Second)
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Second)
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if n := e.api.tokenCount(); n != 2 {
		t.Errorf("%d tokens, want 2 (refresh at 30 s of 60)", n)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Types = nil })
	e.api.tokenDelay = 50 * time.Millisecond
	var wg sync.WaitGroup
	errs := make(chan error, len(e.srcs)*2)
	for _, s := range e.srcs {
		for range 2 {
			wg.Go(func() {
				_, err := s.Fetch(t.Context(), nil)
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(e.srcs) != 10 {
		t.Errorf("%d sources for all types", len(e.srcs))
	}
	if n := e.api.tokenCount(); n != 1 {
		t.Errorf("20 concurrent fetches obtained %d tokens, want 1", n)
	}
}

func TestTokenExpiredReauthenticatesOnce(t *testing.T) {
	e := newEnv(t, nil)
	s := e.src(t, "receipt")
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	e.api.mu.Lock()
	e.api.expired["token-1"] = true // the server revokes it early
	e.api.mu.Unlock()
	if _, err := s.Fetch(t.Context(), nil); err != nil {
		t.Fatalf("fetch after token_expired: %v", err)
	}
	if n := e.api.tokenCount(); n != 2 {
		t.Errorf("%d tokens, want 2", n)
	}
	if got := value(t, e.m.APIRequests.WithLabelValues(metrics.EndpointBatchList, "401")); got != 1 {
		t.Errorf("api_requests{batch_list,401} = %v", got)
	}

	// A server that keeps saying token_expired: one re-authentication, then an auth error.
	reauthOnceThenAuthError(t, e, s, e.api.expired, "token_expired")
}

// reauthOnceThenAuthError marks the current and the next token in refuse
// (e.api.expired or e.api.revoked) and checks that a Fetch of s tries
// twice, with one new token, and fails with ErrAuth naming code.
func reauthOnceThenAuthError(t *testing.T, e *env, s *Source, refuse map[string]bool, code string) {
	t.Helper()
	e.api.mu.Lock()
	n := len(e.api.issued)
	refuse[fmt.Sprintf("token-%d", n)], refuse[fmt.Sprintf("token-%d", n+1)] = true, true
	hits := e.api.listHits
	e.api.mu.Unlock()
	_, err := s.Fetch(t.Context(), nil)
	if !errors.Is(err, mimecast.ErrAuth) || !strings.Contains(err.Error(), code) {
		t.Fatalf("err = %v, want ErrAuth with %s", err, code)
	}
	e.api.mu.Lock()
	listed := e.api.listHits - hits
	e.api.mu.Unlock()
	if listed != 2 {
		t.Errorf("%d listing attempts, want 2 (one retry with a new token)", listed)
	}
	if got := e.api.tokenCount(); got != n+1 {
		t.Errorf("%d tokens, want %d (one new)", got, n+1)
	}
}

func TestBadCredentials(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ClientSecret = "wrong-" + testSecret })
	_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if !errors.Is(err, mimecast.ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_client" {
		t.Errorf("APIError = %+v", apiErr)
	}
	for _, want := range []string{"401", "invalid_client", "bad client credentials", "MIMECAST_CLIENT_SECRET", testID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if got := value(t, e.m.TokenRefreshes); got != 0 {
		t.Errorf("oauth_tokens_total = %v", got)
	}
}

func TestTokenErrorEchoingSecretIsRedacted(t *testing.T) {
	e := newEnv(t, nil)
	e.api.tokenStatus = http.StatusBadRequest
	e.api.tokenBody = `{"error":"invalid_request","error_description":"secret ` + testSecret + ` rejected"}`
	_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if !errors.Is(err, mimecast.ErrAuth) || strings.Contains(err.Error(), testSecret) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("err = %v, want the echoed secret redacted", err)
	}
}

func TestTokenServerErrorIsNotAuthError(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Client.RetryMax = 1 })
	e.api.tokenStatus = http.StatusServiceUnavailable
	e.api.tokenBody = `{"fail":[{"code":"unavailable","message":"maintenance"}]}`
	_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err == nil || errors.Is(err, mimecast.ErrAuth) || !strings.Contains(err.Error(), "maintenance") {
		t.Fatalf("err = %v", err)
	}
	if got := value(t, e.m.APIRequests.WithLabelValues(metrics.EndpointToken, "503")); got != 2 {
		t.Errorf("api_requests{oauth_token,503} = %v", got)
	}
}
