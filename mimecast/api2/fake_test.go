package api2

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

const (
	testID     = "client-id-1"
	testSecret = "s3cr3t-VALUE-never-logged"
)

// fakeAPI is a minimal Mimecast API 2.0 plus presigned file storage.
type fakeAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu          sync.Mutex
	expiresIn   int
	tokenDelay  time.Duration
	tokenStatus int    // non-zero: answer the token endpoint with this status
	tokenBody   string // and this body
	issued      []string
	expired     map[string]bool // tokens answered with 401 token_expired
	revoked     map[string]bool // tokens answered with 401 unauthorized
	// tokenHook, when set, answers the token request instead (true).
	tokenHook   func(w http.ResponseWriter, r *http.Request) bool
	listHits    int
	listQueries []map[string]string
	// list answers a listing; nil means an empty caught-up page.
	list      func(w http.ResponseWriter, q map[string]string, hit int)
	files     map[string][]byte // name → content served at /files/name
	fileCode  map[string]int    // name → status to answer instead
	fileHits  map[string]int
	fileAuths []string // Authorization headers seen on /files/
	fileHook  func(w http.ResponseWriter, name string) bool
}

func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t, expiresIn: 1799, expired: map[string]bool{}, revoked: map[string]bool{}, files: map[string][]byte{},
		fileCode: map[string]int{}, fileHits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.HandleFunc("GET /siem/v1/batch/events/cg", f.listing)
	mux.HandleFunc("GET /files/{name}", f.file)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	delay, status, body, hook := f.tokenDelay, f.tokenStatus, f.tokenBody, f.tokenHook
	f.mu.Unlock()
	time.Sleep(delay)
	if hook != nil && hook(w, r) {
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	if r.PostForm.Get("client_id") != testID || r.PostForm.Get("client_secret") != testSecret ||
		r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_client","error_description":"bad client credentials"}`)
		return
	}
	f.mu.Lock()
	tok := fmt.Sprintf("token-%d", len(f.issued)+1)
	f.issued = append(f.issued, tok)
	exp := f.expiresIn
	f.mu.Unlock()
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d,"scope":""}`, tok, exp)
}

func (f *fakeAPI) listing(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	valid := false
	for _, t := range f.issued {
		valid = valid || (ok && t == tok)
	}
	expired, revoked := f.expired[tok], f.revoked[tok]
	f.listHits++
	hit := f.listHits
	q := map[string]string{}
	for k, v := range r.URL.Query() {
		q[k] = v[0]
	}
	f.listQueries = append(f.listQueries, q)
	list := f.list
	f.mu.Unlock()
	if revoked {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"fail":[{"code":"unauthorized","message":"The access token is not valid"}]}`)
		return
	}
	if !valid || expired {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"fail":[{"code":"token_expired","message":"The access token has expired"}]}`)
		return
	}
	if list == nil {
		io.WriteString(w, `{"value":[],"isCaughtUp":true}`)
		return
	}
	list(w, q, hit)
}

func (f *fakeAPI) file(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	f.mu.Lock()
	f.fileHits[name]++
	f.fileAuths = append(f.fileAuths, r.Header.Get("Authorization"))
	data, ok := f.files[name]
	code := f.fileCode[name]
	hook := f.fileHook
	f.mu.Unlock()
	if r.URL.Query().Get("X-Amz-Signature") != "sig-"+name {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	if hook != nil && hook(w, name) {
		return
	}
	switch {
	case code != 0:
		w.WriteHeader(code)
		io.WriteString(w, `<Error><Code>AccessDenied</Code></Error>`)
	case !ok:
		http.NotFound(w, r)
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	}
}

// fileURL is the presigned URL of a stored file.
func (f *fakeAPI) fileURL(name string) string {
	return f.srv.URL + "/files/" + name + "?X-Amz-Signature=sig-" + name + "&X-Amz-Expires=900"
}

// setPage makes every listing answer with the given files.
func (f *fakeAPI) setPage(caughtUp bool, nextPage string, names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		writePage(w, f, caughtUp, nextPage, names...)
	}
}

func writePage(w http.ResponseWriter, f *fakeAPI, caughtUp bool, nextPage string, names ...string) {
	type item struct {
		URL    string `json:"url"`
		Expiry string `json:"expiry"`
		Size   int    `json:"size"`
	}
	page := struct {
		Value      []item `json:"value"`
		NextPage   string `json:"@nextPage,omitempty"`
		IsCaughtUp bool   `json:"isCaughtUp"`
	}{Value: []item{}, NextPage: nextPage, IsCaughtUp: caughtUp}
	for _, n := range names {
		page.Value = append(page.Value, item{URL: f.fileURL(n), Expiry: time.Now().Add(15 * time.Minute).Format(time.RFC3339), Size: 100})
	}
	json.NewEncoder(w).Encode(page)
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type env struct {
	api  *fakeAPI
	m    *metrics.Metrics
	logs *mimecasttest.SyncBuffer
	clk  *mimecasttest.Clock
	srcs []source.Source
	cfg  Config
}

// newEnv builds sources against a fresh fake API; mod adjusts the config.
func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	e := &env{api: newFakeAPI(t), m: metrics.New(prometheus.NewRegistry(), "t", "r"), logs: &mimecasttest.SyncBuffer{},
		clk: mimecasttest.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))}
	e.cfg = Config{
		BaseURL: e.api.srv.URL + "/", ClientID: testID, ClientSecret: testSecret,
		Types: []string{"receipt", "url protect"}, Now: e.clk.Now,
		Client: mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond},
	}
	if mod != nil {
		mod(&e.cfg)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srcs, err := NewSources(e.cfg, e.m, log)
	if err != nil {
		t.Fatal(err)
	}
	e.srcs = srcs
	t.Cleanup(func() {
		for _, s := range srcs {
			s := s.(*Source)
			s.api.client.HTTPClient().CloseIdleConnections()
			s.api.files.HTTPClient().CloseIdleConnections()
		}
		if strings.Contains(e.logs.String(), testSecret) {
			t.Errorf("logs contain the client secret")
		}
		if strings.Contains(e.logs.String(), "X-Amz-Signature") || strings.Contains(e.logs.String(), "sig-") {
			t.Errorf("logs contain a presigned URL signature:\n%s", e.logs)
		}
	})
	return e
}

// src returns the source of stream.
func (e *env) src(t *testing.T, stream string) *Source {
	t.Helper()
	for _, s := range e.srcs {
		if s.Stream() == stream {
			return s.(*Source)
		}
	}
	t.Fatalf("no source %q", stream)
	return nil
}

type gotRecord struct {
	Type string
	Time time.Time
	JSON string
}

// collect runs Records and copies every record.
func collect(t *testing.T, b source.Batch) ([]gotRecord, error) {
	t.Helper()
	var out []gotRecord
	err := b.Records(t.Context(), func(r *source.Record) error {
		out = append(out, gotRecord{r.Type, r.Time, string(r.JSON)})
		return nil
	})
	return out, err
}

// value returns the value of a counter or gauge series.
func value(t *testing.T, m prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(m)
}

func (f *fakeAPI) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.issued)
}

func (f *fakeAPI) hits(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fileHits[name]
}

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }
