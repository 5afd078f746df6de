package simulator

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// t0 is 10:07 UTC: with History 2h and Cadence 15m the history is
// 08:00–10:00 of the same day (8 files).
var t0 = time.Date(2026, 11, 28, 10, 7, 0, 0, time.UTC)

const today = "2026-11-28"

func start(t *testing.T, o Options) (*Simulator, *mimecasttest.Clock) {
	t.Helper()
	c := mimecasttest.NewClock(t0)
	if o.Now == nil {
		o.Now = c.Now
	}
	if o.History == 0 {
		o.History = 2 * time.Hour
	}
	if o.LiveInterval == 0 {
		o.LiveInterval = -1
	}
	if o.RecordsPerFile == 0 {
		o.RecordsPerFile = 10
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s, c
}

type failResp struct {
	Fail []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"fail"`
}

func failCode(t *testing.T, body []byte) string {
	t.Helper()
	var f failResp
	if err := json.Unmarshal(body, &f); err != nil || len(f.Fail) != 1 {
		t.Fatalf("not a fail body: %q (%v)", body, err)
	}
	if f.Fail[0].Message == "" {
		t.Fatalf("fail without message: %q", body)
	}
	return f.Fail[0].Code
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

func tokenReq(t *testing.T, base, id, secret, grant string) (*http.Response, []byte) {
	t.Helper()
	form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {grant}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func token(t *testing.T, s *Simulator) string {
	t.Helper()
	resp, body := tokenReq(t, s.URL(), DefaultClientID, DefaultClientSecret, "client_credentials")
	if resp.StatusCode != 200 {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

type listing struct {
	Value []struct {
		URL    string `json:"url"`
		Expiry string `json:"expiry"`
		Size   int64  `json:"size"`
	} `json:"value"`
	NextPage   *string `json:"@nextPage"`
	IsCaughtUp *bool   `json:"isCaughtUp"`
}

func listRaw(t *testing.T, s *Simulator, tok string, q url.Values) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/siem/v1/batch/events/cg?"+q.Encode(), nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, req)
}

func list(t *testing.T, s *Simulator, tok string, q url.Values) listing {
	t.Helper()
	resp, body := listRaw(t, s, tok, q)
	if resp.StatusCode != 200 {
		t.Fatalf("list %v: %d %s", q, resp.StatusCode, body)
	}
	var l listing
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("decode listing: %v: %s", err, body)
	}
	if l.NextPage == nil || *l.NextPage == "" || l.IsCaughtUp == nil || l.Value == nil {
		t.Fatalf("listing misses value, @nextPage or isCaughtUp: %s", body)
	}
	return l
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// download GETs a batch file and returns its lines and the error that ended
// decompression (nil for a clean EOF).
func download(t *testing.T, u string) (lines []string, gzErr error) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET batch file: %v", err)
	}
	defer func() {
		// Drain to the end of the HTTP body: the server updates Stats before
		// it ends the response, so Stats are final once this returns.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET batch file: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(zr, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" {
				return lines, nil
			}
			if errors.Is(err, io.EOF) {
				t.Fatalf("last line not LF-terminated: %.100q", line)
			}
			return lines, err
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
}

func gzipReader(r io.Reader) (*gzip.Reader, error) { return gzip.NewReader(r) }

// countLines counts LF-terminated lines, sampling HeapInuse as it goes.
func countLines(r io.Reader) (lines int, maxHeap uint64, err error) {
	buf := make([]byte, 256<<10)
	var ms runtime.MemStats
	for i := 0; ; i++ {
		n, err := r.Read(buf)
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if i%2000 == 0 {
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
		}
		if errors.Is(err, io.EOF) {
			return lines, maxHeap, nil
		}
		if err != nil {
			return lines, maxHeap, err
		}
	}
}
