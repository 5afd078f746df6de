package mimecast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func newTestClient(t *testing.T, cfg ClientConfig) (*Client, *metrics.Metrics, *mimecasttest.SyncBuffer) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), "test", "rev")
	logs := &mimecasttest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.RetryWaitMin == 0 {
		cfg.RetryWaitMin = time.Millisecond
	}
	if cfg.RetryWaitMax == 0 {
		cfg.RetryWaitMax = 5 * time.Millisecond
	}
	c := NewClient(cfg, m, log)
	t.Cleanup(c.HTTPClient().CloseIdleConnections)
	return c, m, logs
}

func get(t *testing.T, c *Client, url, endpoint string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req, endpoint)
}

func TestClientRetries5xxThenSucceeds(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c, m, _ := newTestClient(t, ClientConfig{})
	resp, err := get(t, c, srv.URL, metrics.EndpointBatchList)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" || hits.Load() != 3 {
		t.Errorf("body %q after %d hits", body, hits.Load())
	}
	ep := metrics.EndpointBatchList
	if got := value(t, m.APIRequests.WithLabelValues(ep, "503")); got != 2 {
		t.Errorf("api_requests{503} = %v", got)
	}
	if got := value(t, m.APIRequests.WithLabelValues(ep, "200")); got != 1 {
		t.Errorf("api_requests{200} = %v", got)
	}
	if got := value(t, m.APIRetries.WithLabelValues(ep)); got != 2 {
		t.Errorf("api_retries = %v", got)
	}
	if got := count(m.APIDuration); got != 1 {
		t.Errorf("api_request_duration series = %d", got)
	}
}

func TestClientGivesUpWithReason(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"fail":[{"code":"err_internal","message":"the backend fell over"}]}`)
	}))
	defer srv.Close()
	c, _, _ := newTestClient(t, ClientConfig{RetryMax: 2})
	resp, err := get(t, c, srv.URL, metrics.EndpointBatchList)
	if resp != nil {
		t.Fatal("got a response")
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if apiErr.StatusCode != 500 || apiErr.Code != "err_internal" || apiErr.Message != "the backend fell over" || apiErr.Attempts != 3 {
		t.Errorf("APIError = %+v", apiErr)
	}
	if hits.Load() != 3 {
		t.Errorf("hits = %d, want 3", hits.Load())
	}
	for _, want := range []string{"batch_list", "500", "after 3 attempts", "err_internal", "the backend fell over"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestClientDoesNotRetryOtherStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 501} {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.WriteHeader(code)
		}))
		c, _, _ := newTestClient(t, ClientConfig{})
		resp, err := get(t, c, srv.URL, "x")
		if err != nil || resp.StatusCode != code || hits.Load() != 1 {
			t.Errorf("status %d: resp %v, err %v, hits %d", code, resp, err, hits.Load())
		}
		if resp != nil {
			resp.Body.Close()
		}
		c.HTTPClient().CloseIdleConnections()
		srv.Close()
	}
}

func TestClientRateLimitUsesSeparateBudget(t *testing.T) {
	var hits atomic.Int32
	header := []string{"X-RateLimit-Reset", "X-Rate-Limit-Reset", "X-RateLimit-Reset"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if n <= 3 {
			w.Header().Set(header[n-1], "30")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if n == 4 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	// RetryMax 1: three 429s must not use it up, the 502 uses it.
	c, m, _ := newTestClient(t, ClientConfig{RetryMax: 1})
	resp, err := get(t, c, srv.URL, metrics.EndpointBatchList)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ep := metrics.EndpointBatchList
	if got := value(t, m.APIRateLimited.WithLabelValues(ep)); got != 3 {
		t.Errorf("api_rate_limited = %v", got)
	}
	if got := value(t, m.APIRetries.WithLabelValues(ep)); got != 4 {
		t.Errorf("api_retries = %v", got)
	}
	// Each wait is 30 ms plus at most 53 ms of jitter.
	if got := value(t, m.APIRateLimitWait); got < 0.09 || got > 0.25 {
		t.Errorf("api_rate_limit_wait_seconds = %v, want 3 waits of 30-83 ms", got)
	}
}

func TestClientRateLimitCeilingAndExhaustion(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("X-RateLimit-Reset", "600000") // 10 minutes
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"fail":[{"code":"too_many","message":"slow down"}]}`)
	}))
	defer srv.Close()
	c, m, _ := newTestClient(t, ClientConfig{MaxRateLimitRetries: 3, RateLimitWaitMax: 10 * time.Millisecond})
	_, err := get(t, c, srv.URL, metrics.EndpointToken)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Message != "slow down" || apiErr.Attempts != 4 {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 4 {
		t.Errorf("hits = %d", hits.Load())
	}
	if got := value(t, m.APIRateLimitWait); got < 0.0299 || got > 0.0301 {
		t.Errorf("api_rate_limit_wait_seconds = %v, want 3 × the 10 ms ceiling", got)
	}
}

func TestRateLimitWait(t *testing.T) {
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"X-Ratelimit-Reset": {"1500"}}, 1500 * time.Millisecond, true},
		{http.Header{"X-Rate-Limit-Reset": {"250"}}, 250 * time.Millisecond, true},
		{http.Header{"Retry-After": {"7"}}, 7 * time.Second, true},
		{http.Header{"X-Ratelimit-Reset": {"soon"}, "Retry-After": {"2"}}, 2 * time.Second, true},
		{http.Header{}, 0, false},
	} {
		got, ok := RateLimitWait(tc.h)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%v: got %v %v, want %v %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}
	h := http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}
	if got, ok := RateLimitWait(h); !ok || got < 58*time.Minute || got > time.Hour {
		t.Errorf("HTTP date Retry-After: %v %v", got, ok)
	}
}

func TestClientNetworkErrorRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	c, m, logs := newTestClient(t, ClientConfig{RetryMax: 2})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
		"http://user:pw@"+addr+"/bucket/file.gz?X-Amz-Signature=SIGSECRET&X-Amz-Credential=CREDSECRET", nil)
	req.Header.Set("Authorization", "Bearer TOKSECRET")
	_, err = c.Do(req, metrics.EndpointBatchFile)
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "no answer after 3 attempts") || !strings.Contains(err.Error(), "/bucket/file.gz") {
		t.Errorf("error %q does not say why", err)
	}
	for _, secret := range []string{"SIGSECRET", "CREDSECRET", "TOKSECRET", "pw@"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %s: %v", secret, err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs leak %s:\n%s", secret, logs)
		}
	}
	if got := value(t, m.APIRequests.WithLabelValues(metrics.EndpointBatchFile, "network")); got != 3 {
		t.Errorf("api_requests{network} = %v", got)
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("retries not logged:\n%s", logs)
	}
}

func TestClientLogsRedactedOn5xx(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	c, _, logs := newTestClient(t, ClientConfig{RetryMax: 1})
	resp, err := get(t, c, srv.URL+"/f.gz?X-Amz-Signature=SIGSECRET", metrics.EndpointBatchFile)
	if err == nil {
		resp.Body.Close()
		t.Fatal("no error")
	}
	if !strings.Contains(logs.String(), "performing request") {
		t.Errorf("retryablehttp debug logs missing:\n%s", logs)
	}
	if strings.Contains(logs.String()+err.Error(), "SIGSECRET") {
		t.Errorf("signature leaked: %v\n%s", err, logs)
	}
}

func TestClientContextCancelDuringBackoff(t *testing.T) {
	hit := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Reset", "60000")
		w.WriteHeader(http.StatusTooManyRequests)
		hit <- struct{}{}
	}))
	defer srv.Close()
	c, _, _ := newTestClient(t, ClientConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-hit; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := c.Do(req, "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestClientRetriesPostBody(t *testing.T) {
	var hits atomic.Int32
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "done")
	}))
	defer srv.Close()
	c, _, _ := newTestClient(t, ClientConfig{UserAgent: "ua/1"})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("a=1&b=2"))
	resp, err := c.Do(req, "x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(bodies) != 2 || bodies[0] != "a=1&b=2" || bodies[1] != "a=1&b=2" {
		t.Errorf("bodies = %q", bodies)
	}
}

func TestClientBudgetAppliedPerAttempt(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api" && hits.Add(1) == 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	b := NewBudget(1, 1) // one request per minute
	var sleeps []time.Duration
	var mu sync.Mutex
	b.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		sleeps = append(sleeps, d)
		mu.Unlock()
		return nil
	}
	c, m, _ := newTestClient(t, ClientConfig{Budget: b})
	free, _, _ := newTestClient(t, ClientConfig{}) // no budget: downloads
	for range 3 {
		resp, err := get(t, c, srv.URL+"/api", metrics.EndpointBatchList)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = get(t, free, srv.URL+"/file", metrics.EndpointBatchFile)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// 4 budgeted attempts (3 calls, one retried after a 503): the first is
	// free, the other 3 wait 1, 2 and 3 minutes (the fake sleep returns at
	// once, so the debt accumulates).
	mu.Lock()
	defer mu.Unlock()
	if len(sleeps) != 3 {
		t.Fatalf("budget waits = %v, want 3", sleeps)
	}
	var total time.Duration
	for i, d := range sleeps {
		want := time.Duration(i+1) * time.Minute
		if d < want-time.Second || d > want {
			t.Errorf("wait %d = %v, want about %v", i, d, want)
		}
		total += d
	}
	if got := value(t, m.APIBudgetWait); math.Abs(got-total.Seconds()) > 1e-6 {
		t.Errorf("api_budget_wait_seconds = %v, want %v", got, total.Seconds())
	}
}

func TestClientTimeouts(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slowheaders":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/stall":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/steady":
			for range 4 {
				io.WriteString(w, "chunk")
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	c, m, _ := newTestClient(t, ClientConfig{Timeout: 60 * time.Millisecond, RetryMax: 1})

	_, err := get(t, c, srv.URL+"/slowheaders", "x")
	if err == nil || !strings.Contains(err.Error(), "no response within 60ms") || !strings.Contains(err.Error(), "after 2 attempts") {
		t.Errorf("slow headers: err = %v", err)
	}
	if got := value(t, m.APIRequests.WithLabelValues("x", "network")); got != 2 {
		t.Errorf("api_requests{network} = %v", got)
	}

	resp, err := get(t, c, srv.URL+"/stall", "x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || !strings.Contains(err.Error(), "stalled for 60ms") {
		t.Errorf("stalled body: err = %v", err)
	}

	// A consumer slower than Timeout between reads is fine.
	resp, err = get(t, c, srv.URL+"/steady", "x")
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	p := make([]byte, 5)
	for {
		time.Sleep(80 * time.Millisecond)
		n, err := resp.Body.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow consumer: %v", err)
		}
	}
	resp.Body.Close()
	if string(got) != strings.Repeat("chunk", 4) {
		t.Errorf("slow consumer read %q", got)
	}
}
