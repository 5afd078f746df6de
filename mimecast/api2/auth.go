package api2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// tokenSource obtains and caches OAuth2 access tokens. Concurrent callers
// that find no valid token share one request (single flight).
type tokenSource struct {
	url          string
	clientID     string
	clientSecret string
	client       *mimecast.Client
	secrets      *mimecast.Secrets // the secret's spellings; live tokens are added
	m            *metrics.Metrics
	now          func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	inflight  *tokenCall
}

type tokenCall struct {
	done  chan struct{}
	token string
	err   error
}

// Token returns a valid access token, fetching one when none is cached or
// the cached one is due for refresh.
func (ts *tokenSource) Token(ctx context.Context) (string, error) {
	for {
		ts.mu.Lock()
		if ts.token != "" && ts.now().Before(ts.refreshAt) {
			tok := ts.token
			ts.mu.Unlock()
			return tok, nil
		}
		call := ts.inflight
		leader := call == nil
		if leader {
			call = &tokenCall{done: make(chan struct{})}
			ts.inflight = call
		}
		ts.mu.Unlock()

		if leader {
			tok, refreshAt, err := ts.fetch(ctx)
			ts.mu.Lock()
			ts.inflight = nil
			if err == nil {
				ts.token, ts.refreshAt = tok, refreshAt
			}
			ts.mu.Unlock()
			call.token, call.err = tok, err
			close(call.done)
			return tok, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-call.done:
		}
		// The leader's own context may have ended; then try again with ours.
		if call.err != nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue
		}
		return call.token, call.err
	}
}

// Invalidate drops tok if it is still the cached token, so that the next
// Token call fetches a new one.
func (ts *tokenSource) Invalidate(tok string) {
	ts.mu.Lock()
	if ts.token == tok {
		ts.token = ""
	}
	ts.mu.Unlock()
}

func (ts *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	tok, at, err := ts.fetchToken(ctx)
	ts.secrets.AddLive(tok)
	return tok, at, ts.secrets.ScrubError(err)
}

func (ts *tokenSource) fetchToken(ctx context.Context) (string, time.Time, error) {
	form := url.Values{
		"client_id":     {ts.clientID},
		"client_secret": {ts.clientSecret},
		"grant_type":    {"client_credentials"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("mimecast oauth token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	requested := ts.now()
	resp, err := ts.client.Do(req, metrics.EndpointToken)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("getting Mimecast API 2.0 access token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := mimecast.ResponseError(resp, metrics.EndpointToken, ts.secrets)
		if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return "", time.Time{}, fmt.Errorf("%w: API 2.0 token request for client id %q refused (check MIMECAST_CLIENT_ID, MIMECAST_CLIENT_SECRET and the API application's rights): %w",
				mimecast.ErrAuth, ts.clientID, apiErr)
		}
		return "", time.Time{}, fmt.Errorf("getting Mimecast API 2.0 access token: %w", apiErr)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil {
		return "", time.Time{}, fmt.Errorf("getting Mimecast API 2.0 access token: decoding the answer: %w", err)
	}
	if tr.AccessToken == "" {
		return "", time.Time{}, errors.New("getting Mimecast API 2.0 access token: the answer has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", time.Time{}, fmt.Errorf("getting Mimecast API 2.0 access token: unsupported token_type %q", tr.TokenType)
	}
	ttl := parseExpiresIn(tr.ExpiresIn)
	ts.m.TokenRefreshes.Inc()
	return tr.AccessToken, requested.Add(refreshAfter(ttl)), nil
}

// parseExpiresIn reads expires_in (seconds, number or string); missing or
// invalid means Mimecast's documented 30 minutes.
func parseExpiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(string(raw), `"`)
	var secs float64
	if _, err := fmt.Sscan(s, &secs); err != nil || secs <= 0 {
		return 30 * time.Minute
	}
	return time.Duration(secs * float64(time.Second))
}

// refreshAfter returns when to refresh a token valid for ttl: 60 s before
// it expires, or at half its life when ttl is 2 minutes or less.
func refreshAfter(ttl time.Duration) time.Duration {
	if ttl <= 2*time.Minute {
		return ttl / 2
	}
	return ttl - time.Minute
}
