package api1

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

type captureRT struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (c *captureRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r)
	c.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// TestSignatureMatchesOpenSSL checks the Authorization header against an
// HMAC computed by the openssl command line, not by Go code.
func TestSignatureMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	key := []byte{0x00, 0x01, 0xfe, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x0f}
	cfg := Config{AppID: "app-id-1", AppKey: "app-key-1", AccessKey: "access-1", SecretKey: base64.StdEncoding.EncodeToString(key)}
	date := "Tue, 24 Nov 2015 12:50:11 UTC"
	id := "8e2a8a3c-1d2b-4f3e-9a5b-0c6d7e8f9a0b"
	msg := date + ":" + id + ":/api/audit/get-siem-logs:app-key-1"
	cmd := exec.Command("openssl", "dgst", "-sha1", "-mac", "HMAC", "-macopt", "hexkey:"+hex.EncodeToString(key), "-binary")
	cmd.Stdin = strings.NewReader(msg)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl: %v: %s", err, stderr.String())
	}
	if out.Len() != 20 {
		t.Fatalf("openssl gave %d bytes, want 20", out.Len())
	}
	want := "MC access-1:" + base64.StdEncoding.EncodeToString(out.Bytes())

	next := &captureRT{}
	s, err := NewSigner(cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return time.Date(2015, 11, 24, 13, 50, 11, 0, time.FixedZone("CET", 3600)) }
	s.NewID = func() (string, error) { return id, nil }
	req, _ := http.NewRequest(http.MethodPost, "https://eu-api.mimecast.com/api/audit/get-siem-logs?ignored=1", strings.NewReader("{}"))
	resp, err := s.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := next.reqs[0]
	if a := got.Header.Get("Authorization"); a != want {
		t.Errorf("Authorization = %q\nwant            %q", a, want)
	}
	if d := got.Header.Get("x-mc-date"); d != date {
		t.Errorf("x-mc-date = %q, want %q (UTC)", d, date)
	}
	if got.Header.Get("x-mc-req-id") != id || got.Header.Get("x-mc-app-id") != "app-id-1" {
		t.Errorf("headers %v", got.Header)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("the caller's request was modified")
	}
}

func TestNewRequestIDIsV4(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewRequestID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || id[8] != '-' || id[23] != '-' {
			t.Fatalf("not a v4 UUID: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// TestRetryIsResigned sends a request that fails with 500 once: both
// attempts reach the server signed, with different dates and ids.
func TestRetryIsResigned(t *testing.T) {
	fs := newFakeServer(t, func(w http.ResponseWriter, req siemRequest, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		writeNoMoreLogs(w)
	})
	cfg := Config{BaseURL: fs.srv.URL, AppID: testAppID, AppKey: testAppKey, AccessKey: testAccessKey, SecretKey: testSecretB64}
	signer, err := NewSigner(cfg, fs.srv.Client().Transport)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	signer.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	m := metrics.New(prometheus.NewRegistry(), "t", "t")
	log := discardLogger()
	client := mimecast.NewClient(mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond, Transport: signer}, m, log)
	defer client.HTTPClient().CloseIdleConnections()
	src, err := NewSource(cfg, client, m, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.CaughtUp() {
		t.Error("not caught up")
	}
	reqs := fs.reqs() // the server verified both signatures (else t.Errorf)
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	h0, h1 := reqs[0].Header, reqs[1].Header
	if h0.Get("x-mc-date") == h1.Get("x-mc-date") || h0.Get("x-mc-req-id") == h1.Get("x-mc-req-id") {
		t.Errorf("retry not re-signed: %s %s / %s %s", h0.Get("x-mc-date"), h0.Get("x-mc-req-id"), h1.Get("x-mc-date"), h1.Get("x-mc-req-id"))
	}
	if v := value(t, m.APIRetries.WithLabelValues(metrics.EndpointSIEMLogs)); v != 1 {
		t.Errorf("retries = %v", v)
	}
}

func TestConfigValidate(t *testing.T) {
	secret := "c2VjcmV0IQ=="
	if err := (Config{BaseURL: "eu", AppID: "a", AppKey: "k", AccessKey: "x", SecretKey: secret}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	err := Config{BaseURL: "mars", SecretKey: "not*base64!!sekrit", FileFormat: "xml", StartToken: "a", StartTokenFile: "/nonexistent/file"}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"MIMECAST_BASE_URL", "MIMECAST_APP_ID", "MIMECAST_APP_KEY", "MIMECAST_ACCESS_KEY", "MIMECAST_SECRET_KEY is not valid base64", "MIMECAST_FILE_FORMAT", "exclusive", "MIMECAST_START_TOKEN_FILE"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "sekrit") {
		t.Errorf("error echoes the secret key:\n%s", msg)
	}
	if n := strings.Count(msg, "\n") + 1; n != 8 {
		t.Errorf("%d lines, want 8:\n%s", n, msg)
	}
	if err := (Config{AppID: "a", AppKey: "k", AccessKey: "x", SecretKey: secret}).Validate(); err == nil || !strings.Contains(err.Error(), "MIMECAST_BASE_URL is required") {
		t.Errorf("missing base URL: %v", err)
	}
}

func TestResolveBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"eu": "https://eu-api.mimecast.com", "US": "https://us-api.mimecast.com", "uspcom": "https://uspcom-api.mimecast-pscom-us.com",
		"je": "https://je-api.mimecast.com", "https://jer-api.mimecast.com/": "https://jer-api.mimecast.com",
		"http://127.0.0.1:8080": "http://127.0.0.1:8080",
	} {
		if got, err := ResolveBaseURL(in); got != want || err != nil {
			t.Errorf("%q → %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x", "eu-api.mimecast.com", "https://u:p@x.com", "https://x.com/?q=1"} {
		if _, err := ResolveBaseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	c := Config{BaseURL: "eu", AppID: "app", AppKey: "APPKEYSECRET", AccessKey: "ACCESSSECRET", SecretKey: "U0VDUkVUS0VZ"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		for _, secret := range []string{"APPKEYSECRET", "ACCESSSECRET", "U0VDUkVUS0VZ"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q printed in %s", secret, s)
			}
		}
	}
	var buf bytes.Buffer
	log := newTextLogger(&buf)
	log.Info("config", "cfg", c)
	if strings.Contains(buf.String(), "APPKEYSECRET") || !strings.Contains(buf.String(), "app_id=app") {
		t.Errorf("log: %s", buf.String())
	}
}
