package mimecast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// Defaults of ClientConfig, used for zero values.
const (
	DefaultTimeout               = 2 * time.Minute
	DefaultResponseHeaderTimeout = time.Minute
	DefaultRetryWaitMin          = time.Second
	DefaultRetryWaitMax          = 30 * time.Second
	DefaultRetryMax              = 5
	DefaultMaxRateLimitRetries   = 20
	DefaultRateLimitWaitMax      = 5 * time.Minute
)

// ClientConfig configures a Client. Zero values take the Default* constants.
type ClientConfig struct {
	// Timeout bounds, for one attempt, the time until the response headers
	// (dial, TLS, request, server time) and then every single read of the
	// body (MIMECAST_HTTP_TIMEOUT): a stalled server fails the attempt, but a
	// slow consumer of a large batch file does not.
	Timeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers
	// (MIMECAST_HTTP_RESPONSE_HEADER_TIMEOUT).
	ResponseHeaderTimeout time.Duration
	// RetryWaitMin and RetryWaitMax bound the exponential back-off (with
	// jitter) between retries of 5xx answers and network errors
	// (MIMECAST_RETRY_WAIT_MIN, MIMECAST_RETRY_WAIT_MAX).
	RetryWaitMin, RetryWaitMax time.Duration
	// RetryMax is the number of retries after 5xx answers (except 501) and
	// network errors (MIMECAST_RETRY_MAX). Negative means none.
	RetryMax int
	// MaxRateLimitRetries is the number of retries after 429 answers; they
	// do not use RetryMax (MIMECAST_RATE_LIMIT_RETRY_MAX). Negative means
	// none.
	MaxRateLimitRetries int
	// RateLimitWaitMax caps one wait after a 429 (MIMECAST_RATE_LIMIT_WAIT_MAX).
	RateLimitWaitMax time.Duration
	// Budget, when not nil, is taken once per attempt (see Budget). Leave it
	// nil for clients that download presigned batch files.
	Budget *Budget
	// UserAgent, when set, is sent as User-Agent.
	UserAgent string
	// Transport is the base round tripper; nil means a clone of
	// http.DefaultTransport (proxy from the environment) with
	// ResponseHeaderTimeout set. Mainly for tests and custom TLS.
	Transport http.RoundTripper
	// Secrets, when not nil, scrubs the credentials of the caller out of
	// every error and log line that can carry a server's words (error
	// bodies, echoed requests); without it only credential-shaped text
	// (Authorization headers, bearer tokens…) is scrubbed.
	Secrets *Secrets
	// FollowRedirects makes the client follow redirects (at most 10), with
	// the Authorization, Proxy-Authorization, Cookie and X-Mc-* headers
	// removed from every redirected request whatever its host: for
	// presigned batch file downloads, which carry no credentials. When
	// false (API calls: their credentials must never go to another place)
	// no redirect is followed and Do returns a *RedirectError.
	FollowRedirects bool
}

// Validate reports every invalid setting, one line each.
func (c ClientConfig) Validate() error {
	var errs []error
	neg := func(d time.Duration, env string) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative (got %s)", env, d))
		}
	}
	neg(c.Timeout, "MIMECAST_HTTP_TIMEOUT")
	neg(c.ResponseHeaderTimeout, "MIMECAST_HTTP_RESPONSE_HEADER_TIMEOUT")
	neg(c.RetryWaitMin, "MIMECAST_RETRY_WAIT_MIN")
	neg(c.RetryWaitMax, "MIMECAST_RETRY_WAIT_MAX")
	neg(c.RateLimitWaitMax, "MIMECAST_RATE_LIMIT_WAIT_MAX")
	if c.RetryWaitMin > 0 && c.RetryWaitMax > 0 && c.RetryWaitMin > c.RetryWaitMax {
		errs = append(errs, fmt.Errorf("MIMECAST_RETRY_WAIT_MIN (%s) must not exceed MIMECAST_RETRY_WAIT_MAX (%s)", c.RetryWaitMin, c.RetryWaitMax))
	}
	return errors.Join(errs...)
}

func (c ClientConfig) withDefaults() ClientConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Timeout, DefaultTimeout)
	def(&c.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	def(&c.RetryWaitMin, DefaultRetryWaitMin)
	def(&c.RetryWaitMax, DefaultRetryWaitMax)
	def(&c.RateLimitWaitMax, DefaultRateLimitWaitMax)
	if c.RetryWaitMin > c.RetryWaitMax {
		c.RetryWaitMax = c.RetryWaitMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	} else if c.RetryMax < 0 {
		c.RetryMax = 0
	}
	if c.MaxRateLimitRetries == 0 {
		c.MaxRateLimitRetries = DefaultMaxRateLimitRetries
	} else if c.MaxRateLimitRetries < 0 {
		c.MaxRateLimitRetries = 0
	}
	return c
}

// Client sends HTTP requests to Mimecast (or to batch file storage) with
// retries, metrics, redacted logs and an optional request Budget. It never
// adds credentials: callers set their own headers. Create it with
// NewClient; it is safe for concurrent use.
//
// Redirects are not followed unless ClientConfig.FollowRedirects is set
// (see there); errors and logs are scrubbed of ClientConfig.Secrets.
//
// Retry policy: network errors and 5xx answers except 501 are retried up to
// RetryMax times with exponential back-off and jitter; 429 answers are
// retried up to MaxRateLimitRetries times (separately), after waiting
// X-RateLimit-Reset (milliseconds; X-Rate-Limit-Reset accepted too) plus a
// little jitter, else Retry-After, else exponential back-off, capped by
// RateLimitWaitMax. Every other answer is returned to the caller as is.
//
// Metrics, by the endpoint label given to Do: APIRequests{endpoint,code}
// (code "network" when no answer came) and APIDuration per attempt,
// APIRetries per retry, APIRateLimited per 429, APIRateLimitWait for the
// seconds waited after 429s and APIBudgetWait for the seconds waited for
// the Budget.
type Client struct {
	cfg ClientConfig
	m   *metrics.Metrics
	log *slog.Logger
	rc  *retryablehttp.Client
}

type stateKey struct{}

// reqState is the per-call state shared by the hooks through the context.
type reqState struct {
	endpoint    string
	attempts    int
	retries     int // 5xx / network retries done
	rateLimited int // 429 retries done
}

func stateFrom(ctx context.Context) *reqState {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{endpoint: "unknown"}
}

// NewClient returns a client configured by cfg (zero values take the
// defaults). m and log must not be nil.
func NewClient(cfg ClientConfig, m *metrics.Metrics, log *slog.Logger) *Client {
	cfg = cfg.withDefaults()
	c := &Client{cfg: cfg, m: m, log: log}
	base := cfg.Transport
	if base == nil {
		base = NewTransport(cfg)
	}
	rc := retryablehttp.NewClient()
	// The attempt timeout is applied by instrumentedTransport after the
	// budget wait, so that waiting for the budget does not count.
	rc.HTTPClient = &http.Client{Transport: &instrumentedTransport{base: base, c: c}, CheckRedirect: c.checkRedirect}
	rc.Logger = redactingLogger{log: log, secrets: cfg.Secrets}
	rc.RetryWaitMin = cfg.RetryWaitMin
	rc.RetryWaitMax = cfg.RetryWaitMax
	// The real limits are enforced by checkRetry with separate counters for
	// 429 and for 5xx/network errors.
	rc.RetryMax = cfg.RetryMax + cfg.MaxRateLimitRetries + 1
	rc.CheckRetry = c.checkRetry
	rc.Backoff = c.backoff
	rc.ErrorHandler = c.errorHandler
	c.rc = rc
	return c
}

// NewTransport returns the base transport NewClient uses when
// cfg.Transport is nil: a clone of http.DefaultTransport (proxy from the
// environment, HTTP/2) with cfg's ResponseHeaderTimeout. Wrap it to add
// per-attempt behaviour, e.g. API 1.0 request signing: the wrapper's
// RoundTrip runs for every attempt, after the Budget wait.
func NewTransport(cfg ClientConfig) *http.Transport {
	cfg = cfg.withDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = cfg.ResponseHeaderTimeout
	tr.MaxIdleConnsPerHost = 16
	return tr
}

// Do sends req, retrying as described on Client, and labels its metrics
// with endpoint (a metrics.Endpoint* constant). The request's context
// bounds the whole call, back-off waits included. A body, if any, is read
// into memory so that it can be sent again.
//
// Do returns the response for every status except those that were retried
// until the retries ran out (5xx, 429): then it returns an *APIError with
// the last status and Mimecast's error code and message; and except
// redirects when FollowRedirects is false: then it returns a
// *RedirectError. The caller must close the returned body. Errors never
// contain a URL query or user info, nor the credentials of Secrets.
func (c *Client) Do(req *http.Request, endpoint string) (*http.Response, error) {
	st := &reqState{endpoint: endpoint}
	req = req.WithContext(context.WithValue(req.Context(), stateKey{}, st))
	if c.cfg.UserAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header = req.Header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, fmt.Errorf("mimecast %s: preparing request: %w", endpoint, err)
	}
	resp, err := c.rc.Do(rreq)
	if err != nil {
		return nil, c.cfg.Secrets.ScrubError(err)
	}
	if !c.cfg.FollowRedirects && resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		return nil, c.redirectError(resp, endpoint)
	}
	return resp, nil
}

// maxRedirects is the most redirects a download follows (as net/http).
const maxRedirects = 10

// checkRedirect is the http.Client's CheckRedirect: with FollowRedirects,
// it drops the credential headers of a redirected request (net/http keeps
// them when only the port changes); without it, it follows nothing and
// lets Do turn the redirect into a *RedirectError.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if !c.cfg.FollowRedirects {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		// The wording is the one retryablehttp knows not to retry.
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	for k := range req.Header {
		switch ck := http.CanonicalHeaderKey(k); {
		case ck == "Authorization", ck == "Proxy-Authorization", ck == "Cookie", strings.HasPrefix(ck, "X-Mc-"):
			req.Header.Del(k)
		}
	}
	return nil
}

// redirectError closes resp (a redirect) and describes it.
func (c *Client) redirectError(resp *http.Response, endpoint string) *RedirectError {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	e := &RedirectError{Endpoint: endpoint, StatusCode: resp.StatusCode, From: resp.Request.URL.Host}
	raw := resp.Header.Get("Location")
	if u, err := resp.Request.URL.Parse(raw); err == nil {
		e.Location, e.Host = RedactURL(u), u.Host
	} else {
		e.Location = c.cfg.Secrets.Excerpt(raw)
	}
	e.Location, e.Host = c.cfg.Secrets.Scrub(e.Location), c.cfg.Secrets.Scrub(e.Host)
	c.log.Debug("Mimecast answered a redirect, not followed", "endpoint", endpoint, "status", resp.StatusCode, "location", e.Location)
	return e
}

// Secrets returns ClientConfig.Secrets (may be nil), for callers that
// build errors from a server's answers themselves.
func (c *Client) Secrets() *Secrets { return c.cfg.Secrets }

// HTTPClient returns the underlying *http.Client (no retries), e.g. to call
// CloseIdleConnections.
func (c *Client) HTTPClient() *http.Client { return c.rc.HTTPClient }

func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code != http.StatusNotImplemented)
}

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	st := stateFrom(ctx)
	st.attempts++
	if err != nil {
		// Let retryablehttp rule out errors that cannot succeed (bad URL
		// scheme, invalid header, untrusted certificate, redirect loop).
		if ok, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err); !ok {
			return false, fmt.Errorf("mimecast %s: %w", st.endpoint, c.cfg.Secrets.ScrubError(err))
		}
		if st.retries >= c.cfg.RetryMax {
			return false, fmt.Errorf("mimecast %s: no answer after %d attempts: %w", st.endpoint, st.attempts, c.cfg.Secrets.ScrubError(err))
		}
		st.retries++
		c.m.APIRetries.WithLabelValues(st.endpoint).Inc()
		c.log.Warn("Mimecast request failed, retrying", "endpoint", st.endpoint,
			"attempt", st.attempts, "error", c.cfg.Secrets.Scrub(err.Error()))
		return true, nil
	}
	if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if st.rateLimited >= c.cfg.MaxRateLimitRetries {
			return false, errRetriesExhausted
		}
		st.rateLimited++
		c.m.APIRetries.WithLabelValues(st.endpoint).Inc()
		c.log.Info("Mimecast rate limit reached (429), waiting", "endpoint", st.endpoint, "attempt", st.attempts)
		return true, nil
	}
	if st.retries >= c.cfg.RetryMax {
		return false, errRetriesExhausted
	}
	st.retries++
	c.m.APIRetries.WithLabelValues(st.endpoint).Inc()
	c.log.Warn("Mimecast server error, retrying", "endpoint", st.endpoint,
		"status", resp.StatusCode, "attempt", st.attempts)
	return true, nil
}

var errRetriesExhausted = errors.New("retries exhausted")

func (c *Client) backoff(minWait, maxWait time.Duration, attemptNum int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		st := stateFrom(resp.Request.Context())
		w, ok := RateLimitWait(resp.Header)
		if ok {
			w += rand.N(w/10 + 50*time.Millisecond) // small jitter so that streams do not wake together
		} else {
			w = expBackoff(minWait, c.cfg.RateLimitWaitMax, st.rateLimited-1)
		}
		w = min(w, c.cfg.RateLimitWaitMax)
		c.m.APIRateLimitWait.Add(w.Seconds())
		return w
	}
	n := attemptNum
	if resp != nil {
		n = stateFrom(resp.Request.Context()).retries - 1
		if resp.StatusCode == http.StatusServiceUnavailable {
			if w, ok := retryAfter(resp.Header); ok {
				return min(w, maxWait)
			}
		}
	}
	return expBackoff(minWait, maxWait, n)
}

// expBackoff returns min·2^n capped at max, with "equal jitter": a random
// value between half and all of it.
func expBackoff(minWait, maxWait time.Duration, n int) time.Duration {
	n = max(n, 0)
	w := maxWait
	if n < 30 {
		if e := minWait << n; e > 0 && e < maxWait {
			w = e
		}
	}
	if w <= 1 {
		return w
	}
	half := w / 2
	return half + rand.N(w-half+1)
}

// RateLimitWait returns how long Mimecast asks to wait after a 429:
// X-RateLimit-Reset (or X-Rate-Limit-Reset), a duration in milliseconds,
// else Retry-After in seconds or as an HTTP date. ok is false when no
// header gives a usable value.
func RateLimitWait(h http.Header) (time.Duration, bool) {
	for _, name := range []string{"X-RateLimit-Reset", "X-Rate-Limit-Reset"} {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
				return time.Duration(ms * float64(time.Millisecond)), true
			}
		}
	}
	return retryAfter(h)
}

func retryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 && s < 1e9 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// errorHandler builds the error returned when checkRetry stopped the call
// with an error (retries exhausted, context done, unretryable error).
func (c *Client) errorHandler(resp *http.Response, err error, numTries int) (*http.Response, error) {
	if resp == nil {
		return nil, err
	}
	ctx := resp.Request.Context()
	st := stateFrom(ctx)
	if ctxErr := ctx.Err(); ctxErr != nil {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("mimecast %s: %w", st.endpoint, ctxErr)
	}
	apiErr := ResponseError(resp, st.endpoint, c.cfg.Secrets)
	apiErr.Attempts = numTries
	if !errors.Is(err, errRetriesExhausted) {
		return nil, fmt.Errorf("%w: %w", apiErr, err)
	}
	return nil, apiErr
}

// instrumentedTransport takes the budget and records the per-attempt
// metrics.
type instrumentedTransport struct {
	base http.RoundTripper
	c    *Client
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateFrom(req.Context())
	m := t.c.m
	if t.c.cfg.Budget != nil {
		waited, err := t.c.cfg.Budget.Wait(req.Context())
		if waited > 0 {
			m.APIBudgetWait.Add(waited.Seconds())
		}
		if err != nil {
			return nil, err
		}
	}
	timeout := t.c.cfg.Timeout
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(timeout, cancel)
	start := time.Now()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	m.APIDuration.WithLabelValues(st.endpoint).Observe(time.Since(start).Seconds())
	fired := !timer.Stop()
	if err != nil {
		cancel()
		m.APIRequests.WithLabelValues(st.endpoint, "network").Inc()
		if fired && req.Context().Err() == nil {
			err = fmt.Errorf("no response within %s: %w", timeout, err)
		}
		return nil, err
	}
	if fired {
		// The answer came just as the timer fired: its body is unusable.
		resp.Body.Close()
		cancel()
		m.APIRequests.WithLabelValues(st.endpoint, "network").Inc()
		return nil, fmt.Errorf("no response within %s", timeout)
	}
	resp.Body = &stallBody{ReadCloser: resp.Body, cancel: cancel, timeout: timeout}
	m.APIRequests.WithLabelValues(st.endpoint, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode == http.StatusTooManyRequests {
		m.APIRateLimited.WithLabelValues(st.endpoint).Inc()
	}
	return resp, nil
}

// redactingLogger gives retryablehttp's own messages to slog at debug
// level, with every URL redacted (retryablehttp logs the query, which holds
// the signature of presigned URLs) and the secrets scrubbed. Errors and
// retries are logged by Client itself at warn level.
type redactingLogger struct {
	log     *slog.Logger
	secrets *Secrets
}

func (l redactingLogger) redact(kv []any) []any {
	out := make([]any, len(kv))
	for i, v := range kv {
		switch x := v.(type) {
		case string:
			out[i] = l.secrets.Scrub(x)
		case error:
			out[i] = l.secrets.Scrub(x.Error())
		case *url.URL:
			out[i] = l.secrets.Scrub(RedactURL(x))
		case fmt.Stringer:
			out[i] = l.secrets.Scrub(x.String())
		default:
			out[i] = v
		}
	}
	return out
}

func (l redactingLogger) Error(msg string, kv ...any) { l.log.Debug(msg, l.redact(kv)...) }
func (l redactingLogger) Warn(msg string, kv ...any)  { l.log.Debug(msg, l.redact(kv)...) }
func (l redactingLogger) Info(msg string, kv ...any)  { l.log.Debug(msg, l.redact(kv)...) }
func (l redactingLogger) Debug(msg string, kv ...any) { l.log.Debug(msg, l.redact(kv)...) }

// stallBody fails a body read that blocks longer than timeout (a stalled
// server), without limiting the time the caller takes between reads, and
// releases the attempt's context when closed.
type stallBody struct {
	io.ReadCloser
	cancel  context.CancelFunc
	timeout time.Duration
}

func (b *stallBody) Read(p []byte) (int, error) {
	timer := time.AfterFunc(b.timeout, b.cancel)
	n, err := b.ReadCloser.Read(p)
	if !timer.Stop() && err != nil && err != io.EOF {
		err = fmt.Errorf("reading the answer stalled for %s: %w", b.timeout, err)
	}
	return n, err
}

func (b *stallBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
