package simulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// failBody is the Mimecast API 2.0 error envelope.
type failBody struct {
	Fail []failItem `json:"fail"`
}

type failItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "simulator: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeFail(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, failBody{Fail: []failItem{{Code: code, Message: msg}}})
}

// limiter is a token bucket: capacity limit, refilled at limit per window.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	tokens float64
	last   time.Time
}

func newLimiter(limit int, window time.Duration, now time.Time) *limiter {
	return &limiter{limit: limit, window: window, tokens: float64(limit), last: now}
}

// take consumes one request if available. It returns whether the request is
// allowed, the remaining whole requests, and the milliseconds until one more
// request is added back (0 when the bucket is full).
func (l *limiter) take(now time.Time) (ok bool, remaining int, resetMs int64) {
	if l.limit < 0 {
		return true, math.MaxInt32, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rate := float64(l.limit) / float64(l.window) // tokens per ns
	if el := now.Sub(l.last); el > 0 {
		l.tokens = math.Min(float64(l.limit), l.tokens+float64(el)*rate)
		l.last = now
	}
	if l.tokens >= 1 {
		l.tokens--
		ok = true
	}
	remaining = int(math.Floor(l.tokens))
	if l.tokens < float64(l.limit) {
		need := float64(remaining+1) - l.tokens
		resetMs = int64(math.Ceil(need / rate / float64(time.Millisecond)))
		if resetMs < 1 {
			resetMs = 1
		}
	}
	return ok, remaining, resetMs
}

func setRateHeaders(h http.Header, limit, remaining int, resetMs int64) {
	if limit < 0 {
		limit = math.MaxInt32
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(resetMs, 10))
}

// api wraps an API endpoint (not storage): rate limiting with the
// X-RateLimit-* headers on every response, then injected 429/5xx faults.
func (s *Simulator) api(name string, h func(http.ResponseWriter, *http.Request)) http.Handler {
	return s.endpoint(name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.apiSeq++
		seq := s.apiSeq
		s.mu.Unlock()
		ok, remaining, reset := s.limiter.take(s.now())
		if !ok {
			setRateHeaders(w.Header(), s.opts.RateLimit, 0, reset)
			s.stats.add(func(st *Stats) { st.RateLimited++ })
			writeFail(w, http.StatusTooManyRequests, "rate_limit_exceeded",
				"Rate limit exceeded, retry after "+strconv.FormatInt(reset, 10)+" ms")
			return
		}
		if n := int64(s.opts.RateLimitEvery); n > 0 && seq%n == 0 {
			reset := s.opts.FaultReset.Milliseconds()
			setRateHeaders(w.Header(), s.opts.RateLimit, 0, reset)
			s.stats.add(func(st *Stats) { st.RateLimited++; st.InjectedRateLimits++ })
			writeFail(w, http.StatusTooManyRequests, "rate_limit_exceeded",
				"Rate limit exceeded, retry after "+strconv.FormatInt(reset, 10)+" ms")
			return
		}
		setRateHeaders(w.Header(), s.opts.RateLimit, remaining, reset)
		if n := int64(s.opts.ServerErrorEvery); n > 0 && seq%n == 0 {
			s.mu.Lock()
			s.errSeq++
			k := s.errSeq
			s.mu.Unlock()
			s.stats.add(func(st *Stats) { st.InjectedServerErrors++ })
			if k%2 == 1 {
				writeFail(w, http.StatusInternalServerError, "internal_server_error", "An internal error occurred (injected by the simulator)")
			} else {
				w.Header().Set("Retry-After", "1")
				writeFail(w, http.StatusServiceUnavailable, "service_unavailable", "The service is temporarily unavailable (injected by the simulator)")
			}
			return
		}
		h(w, r)
	}))
}

// tokenResponse is the OAuth2 token answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

func (s *Simulator) handleToken(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		s.stats.add(func(st *Stats) { st.TokenFailures++ })
		writeFail(w, http.StatusBadRequest, "invalid_request", "the request body must be application/x-www-form-urlencoded")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		s.stats.add(func(st *Stats) { st.TokenFailures++ })
		writeFail(w, http.StatusBadRequest, "invalid_request", "cannot read the request body")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.stats.add(func(st *Stats) { st.TokenFailures++ })
		writeFail(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		s.stats.add(func(st *Stats) { st.TokenFailures++ })
		writeFail(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if id == "" && secret == "" {
		if u, p, ok := r.BasicAuth(); ok {
			id, secret = u, p
		}
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID)) == 1
	secOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
	if !idOK || !secOK {
		s.stats.add(func(st *Stats) { st.TokenFailures++ })
		writeFail(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	s.mu.Lock()
	s.tokenSeq++
	nonce := s.tokenSeq
	s.mu.Unlock()
	exp := s.now().Add(s.opts.TokenTTL)
	s.stats.add(func(st *Stats) { st.TokensIssued++ })
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: s.mintToken(exp, uint64(nonce)),
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.opts.TokenTTL / time.Second),
		Scope:       "",
	})
}

func (s *Simulator) mac(domain string, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, s.macKey)
	h.Write([]byte(domain))
	for _, p := range parts {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		h.Write(l[:])
		h.Write(p)
	}
	return h.Sum(nil)
}

var b64 = base64.RawURLEncoding

// mintToken returns a stateless access token: expiry and nonce, HMAC'd. So
// expired tokens stay recognisable (token_expired) with no server state.
func (s *Simulator) mintToken(exp time.Time, nonce uint64) string {
	var p [16]byte
	binary.BigEndian.PutUint64(p[:8], uint64(exp.UnixMilli()))
	binary.BigEndian.PutUint64(p[8:], nonce)
	m := s.mac("token", p[:])[:18]
	return "sim_" + b64.EncodeToString(p[:]) + "." + b64.EncodeToString(m)
}

// checkToken validates the bearer token of r. It writes the 401 and returns
// false if the token is missing, unknown or expired.
func (s *Simulator) checkToken(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		s.stats.add(func(st *Stats) { st.Unauthorized++ })
		w.Header().Set("WWW-Authenticate", `Bearer realm="mimecast-simulator"`)
		writeFail(w, http.StatusUnauthorized, "unauthorized", "missing bearer access token")
		return false
	}
	exp, valid := s.parseToken(strings.TrimSpace(tok))
	if !valid {
		s.stats.add(func(st *Stats) { st.Unauthorized++ })
		w.Header().Set("WWW-Authenticate", `Bearer realm="mimecast-simulator", error="invalid_token"`)
		writeFail(w, http.StatusUnauthorized, "unauthorized", "invalid access token")
		return false
	}
	if !s.now().Before(exp) {
		s.stats.add(func(st *Stats) { st.TokensExpired++ })
		w.Header().Set("WWW-Authenticate", `Bearer realm="mimecast-simulator", error="invalid_token"`)
		writeFail(w, http.StatusUnauthorized, "token_expired", "The access token has expired")
		return false
	}
	return true
}

func (s *Simulator) parseToken(tok string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(tok, "sim_")
	if !ok {
		return time.Time{}, false
	}
	ps, ms, ok := strings.Cut(rest, ".")
	if !ok {
		return time.Time{}, false
	}
	p, err1 := b64.DecodeString(ps)
	m, err2 := b64.DecodeString(ms)
	if err1 != nil || err2 != nil || len(p) != 16 {
		return time.Time{}, false
	}
	if !hmac.Equal(m, s.mac("token", p)[:18]) {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(p[:8]))), true
}
