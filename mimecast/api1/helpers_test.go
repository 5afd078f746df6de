package api1

import (
	"archive/zip"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
	testAppID     = "test-app-id"
	testAppKey    = "test-app-key"
	testAccessKey = "test-access-key"
)

// testSecret is the decoded secret key; testSecretB64 its configured form.
var (
	testSecret    = []byte("0123456789abcdef-secret-key-bytes")
	testSecretB64 = base64.StdEncoding.EncodeToString(testSecret)
)

// verifySignature checks a request as Mimecast does, with its own HMAC code
// (independent of Signature). It returns "" when the request is valid.
func verifySignature(r *http.Request) string {
	date, id := r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id")
	if r.Header.Get("x-mc-app-id") != testAppID {
		return "bad app id"
	}
	if _, err := time.Parse("Mon, 02 Jan 2006 15:04:05 UTC", date); err != nil {
		return "bad date " + date
	}
	if len(id) != 36 {
		return "bad request id " + id
	}
	mac := hmac.New(sha1.New, testSecret)
	io.WriteString(mac, date+":"+id+":"+r.URL.Path+":"+testAppKey)
	want := "MC " + testAccessKey + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if r.Header.Get("Authorization") != want {
		return "bad signature"
	}
	return ""
}

// siemRequest is what the test server saw.
type siemRequest struct {
	Token      *string
	FileFormat string
	Type       string
	Compress   bool
	Header     http.Header
}

// fakeServer is a get-siem-logs server whose answers the test scripts.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []siemRequest
	answer   func(w http.ResponseWriter, req siemRequest, n int)
}

func newFakeServer(t *testing.T, answer func(w http.ResponseWriter, req siemRequest, n int)) *fakeServer {
	fs := &fakeServer{t: t, answer: answer}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != Path {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if msg := verifySignature(r); msg != "" {
		fs.t.Errorf("server: %s", msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"meta":{"status":401},"data":[],"fail":[{"errors":[{"code":"err_authentication","message":"`+msg+`","retryable":false}]}]}`)
		return
	}
	var body struct {
		Data []struct {
			Type       string  `json:"type"`
			Compress   bool    `json:"compress"`
			FileFormat string  `json:"fileFormat"`
			Token      *string `json:"token"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Data) != 1 {
		fs.t.Errorf("server: bad body: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	d := body.Data[0]
	req := siemRequest{Token: d.Token, FileFormat: d.FileFormat, Type: d.Type, Compress: d.Compress, Header: r.Header.Clone()}
	fs.mu.Lock()
	fs.requests = append(fs.requests, req)
	n := len(fs.requests)
	fs.mu.Unlock()
	fs.answer(w, req, n)
}

func (fs *fakeServer) reqs() []siemRequest {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]siemRequest(nil), fs.requests...)
}

// writeFile answers with a log file and the next token.
func writeFile(w http.ResponseWriter, name string, data []byte, next string) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if next != "" {
		w.Header().Set("mc-siem-token", next)
	}
	w.Write(data)
}

func writeNoMoreLogs(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"meta":{"status":200,"isLastToken":true},"data":[],"fail":[]}`)
}

func writeFail(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"`+code+`","message":"`+msg+`","retryable":false}]}]}`)
}

type zipMember struct {
	name  string
	data  []byte
	store bool // no compression
}

func makeZip(t testing.TB, members ...zipMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		method := zip.Deflate
		if m.store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// env is a source wired to a fake server.
type env struct {
	fs   *fakeServer
	cfg  Config
	m    *metrics.Metrics
	src  *Source
	logs *mimecasttest.SyncBuffer
}

func newEnv(t *testing.T, mod func(*Config), answer func(w http.ResponseWriter, req siemRequest, n int)) *env {
	t.Helper()
	fs := newFakeServer(t, answer)
	cfg := Config{
		BaseURL: fs.srv.URL, AppID: testAppID, AppKey: testAppKey,
		AccessKey: testAccessKey, SecretKey: testSecretB64, TempDir: t.TempDir(),
	}
	if mod != nil {
		mod(&cfg)
	}
	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	logs := &mimecasttest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := NewClient(cfg, mimecast.ClientConfig{
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
		Transport: fs.srv.Client().Transport,
	}, m, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	src, err := NewSource(cfg, client, m, log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{fs: fs, cfg: cfg, m: m, src: src, logs: logs}
}

// collected is a copy of one record.
type collected struct {
	Type string
	Time time.Time
	JSON string
	Raw  string
}

// fetchAll fetches one batch and reads it fully, closing it.
func fetchAll(t *testing.T, e *env, cursor []byte) ([]collected, source.Batch) {
	t.Helper()
	b, err := e.src.Fetch(t.Context(), cursor)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if c, ok := b.(io.Closer); ok {
		t.Cleanup(func() { c.Close() })
	}
	var out []collected
	err = b.Records(t.Context(), func(r *source.Record) error {
		out = append(out, collected{r.Type, r.Time, string(r.JSON), string(r.Raw)})
		return nil
	})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return out, b
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// value returns the value of a counter or gauge series.
func value(t *testing.T, m prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(m)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
