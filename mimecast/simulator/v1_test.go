package simulator

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// v1Source returns an api1 source talking to s, signing with the
// simulator's clock.
func v1Source(t *testing.T, s *Simulator, c *mimecasttest.Clock, format string, mod func(*api1.Config)) (*api1.Source, *metrics.Metrics) {
	t.Helper()
	appID, appKey, access, secret := s.V1Credentials()
	cfg := api1.Config{BaseURL: s.URL(), AppID: appID, AppKey: appKey, AccessKey: access, SecretKey: secret,
		FileFormat: format, TempDir: t.TempDir()}
	if mod != nil {
		mod(&cfg)
	}
	signer, err := api1.NewSigner(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	signer.Now = c.Now
	m := metrics.New(prometheus.NewRegistry(), "t", "t")
	log := slog.New(slog.DiscardHandler)
	client := mimecast.NewClient(mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond, Transport: signer}, m, log)
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	src, err := api1.NewSource(cfg, client, m, log)
	if err != nil {
		t.Fatal(err)
	}
	return src, m
}

type v1Rec struct {
	Type string
	Time time.Time
	JSON string
	Raw  string
}

// drain fetches until caught up, committing each batch's cursor.
func drain(t *testing.T, src *api1.Source, cursor []byte) ([]v1Rec, []byte, int) {
	t.Helper()
	var out []v1Rec
	batches := 0
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("never caught up")
		}
		b, err := src.Fetch(t.Context(), cursor)
		if err != nil {
			t.Fatalf("Fetch %d: %v", i, err)
		}
		err = b.Records(t.Context(), func(r *source.Record) error {
			out = append(out, v1Rec{r.Type, r.Time, string(r.JSON), string(r.Raw)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		cursor = b.Cursor()
		if c, ok := b.(io.Closer); ok {
			c.Close()
		}
		if b.CaughtUp() {
			return out, cursor, batches
		}
		batches++
	}
}

// counter returns the value of a counter series.
func counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

var v1Types = []string{"receipt", "url protect", "journal"}

func TestV1ChainJSONExactlyOnce(t *testing.T) {
	s, c := start(t, Options{Types: v1Types, RecordsPerFile: 5})
	src, _ := v1Source(t, s, c, "json", nil)
	got, cursor, files := drain(t, src, nil)
	n := s.V1Published(c.Now())
	if n != 8 || files != n {
		t.Fatalf("%d files fetched, %d published (want 8)", files, n)
	}
	// Expected: per file, members in name order: jrnl_, receipt_, ttp_url_.
	var want []v1Rec
	for k := range n {
		for _, typ := range []string{"journal", "receipt", "url protect"} {
			for i := range 5 {
				want = append(want, v1Rec{Type: typ, JSON: string(s.V1Event(typ, k, i, "json"))})
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].JSON != want[i].JSON {
			t.Fatalf("record %d = %s %s, want %s %s", i, got[i].Type, got[i].JSON, want[i].Type, want[i].JSON)
		}
		var ev struct{ Datetime string }
		json.Unmarshal([]byte(got[i].JSON), &ev)
		wt, err := time.Parse("2006-01-02T15:04:05-0700", ev.Datetime)
		if err != nil || !got[i].Time.Equal(wt) {
			t.Fatalf("record %d time %v, datetime %s", i, got[i].Time, ev.Datetime)
		}
	}
	if tok, _ := api1.DecodeCursor(cursor); tok != s.V1Token(n) {
		t.Errorf("final cursor %q, want the token of file %d", tok, n)
	}
	st := s.V1Stats()
	if st.Files != int64(n) || st.NoMoreLogs != 1 || st.Records != int64(len(want)) {
		t.Errorf("stats %+v", st)
	}
	// New files appear later: with the clock moved on, nothing is fetched
	// twice and nothing more exists (no live publication here).
	c.Advance(time.Minute)
	more, _, _ := drain(t, src, cursor)
	if len(more) != 0 {
		t.Errorf("%d records fetched again", len(more))
	}
}

func TestV1KeyValueMatchesJSON(t *testing.T) {
	s, c := start(t, Options{Types: v1Types, RecordsPerFile: 4, History: 30 * time.Minute})
	src, m := v1Source(t, s, c, "key_value", nil)
	got, _, files := drain(t, src, nil)
	if files != 2 || len(got) != 2*3*4 {
		t.Fatalf("%d files, %d records", files, len(got))
	}
	pipes := 0
	for _, r := range got {
		var kv map[string]string
		if err := json.Unmarshal([]byte(r.JSON), &kv); err != nil {
			t.Fatal(err)
		}
		k, _ := strconv.Atoi(strings.Split(kv["aCode"], "-")[len(strings.Split(kv["aCode"], "-"))-2])
		i, _ := strconv.Atoi(strings.Split(kv["aCode"], "-")[len(strings.Split(kv["aCode"], "-"))-1])
		if r.Raw != string(s.V1Event(r.Type, k, i, "key_value")) {
			t.Fatalf("Raw %q is not the served line %q", r.Raw, s.V1Event(r.Type, k, i, "key_value"))
		}
		// Same fields as the json form; json numbers become strings.
		var js map[string]any
		dec := json.NewDecoder(bytes.NewReader(s.V1Event(r.Type, k, i, "json")))
		dec.UseNumber()
		if err := dec.Decode(&js); err != nil {
			t.Fatal(err)
		}
		if len(js) != len(kv) {
			t.Fatalf("%d keys in key_value, %d in json", len(kv), len(js))
		}
		for key, v := range js {
			var sv string
			switch x := v.(type) {
			case string:
				sv = x
			case json.Number:
				sv = x.String()
			case bool:
				sv = strconv.FormatBool(x)
			}
			if kv[key] != sv {
				t.Fatalf("key %s: %q, want %q", key, kv[key], sv)
			}
		}
		if strings.Contains(kv["Subject"], "|") {
			pipes++
		}
	}
	if pipes == 0 {
		t.Error("no Subject with '|' was exercised")
	}
	if v := counter(t, m.RecordsSkipped.WithLabelValues(api1.StreamName, metrics.ReasonBadLine)); v != 0 {
		t.Errorf("bad lines = %v", v)
	}
}

func TestV1FaultsDoNotStall(t *testing.T) {
	for _, format := range []string{"json", "key_value"} {
		t.Run(format, func(t *testing.T) {
			s, c := start(t, Options{Types: v1Types, RecordsPerFile: 4, V1: V1Options{CorruptZipEvery: 3, TruncatedMemberEvery: 4}})
			src, m := v1Source(t, s, c, format, nil)
			got, _, files := drain(t, src, nil)
			if files != 8 {
				t.Fatalf("%d files fetched, want 8", files)
			}
			st := s.V1Stats()
			if st.CorruptZips != 2 || st.TruncatedMembers != 2 { // files 2, 5 corrupt; 3, 7 truncated
				t.Errorf("stats %+v", st)
			}
			want := int(st.Records)
			if format == "key_value" {
				// A key_value member cut inside its last line cannot be told
				// from a short line: its 3 whole lines and the cut one are
				// forwarded (the cut one with a shortened last value).
				want += 2 * 4
			}
			if len(got) != want {
				t.Errorf("%d records, want %d", len(got), want)
			}
			if v := counter(t, m.FilesSkipped.WithLabelValues(api1.StreamName, metrics.ReasonCorruptArchive)); v != 2 {
				t.Errorf("corrupt_archive = %v, want 2", v)
			}
			wantMalformed := 2.0
			if format == "key_value" {
				wantMalformed = 0 // a cut line is just a shorter line
			}
			if v := counter(t, m.FilesSkipped.WithLabelValues(api1.StreamName, metrics.ReasonMalformedFile)); v != wantMalformed {
				t.Errorf("malformed_file = %v, want %v", v, wantMalformed)
			}
		})
	}
}

// signed builds a signed get-siem-logs request.
func signed(t *testing.T, s *Simulator, body, date, id string, mod func(appID, appKey, access *string, secret *[]byte)) *http.Request {
	t.Helper()
	appID, appKey, access, secretB64 := s.V1Credentials()
	secret, _ := base64.StdEncoding.DecodeString(secretB64)
	if mod != nil {
		mod(&appID, &appKey, &access, &secret)
	}
	mac := hmac.New(sha1.New, secret)
	io.WriteString(mac, date+":"+id+":"+V1Path+":"+appKey)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+V1Path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-mc-date", date)
	req.Header.Set("x-mc-req-id", id)
	req.Header.Set("x-mc-app-id", appID)
	req.Header.Set("Authorization", "MC "+access+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return req
}

func v1Code(t *testing.T, body []byte) string {
	t.Helper()
	var f struct {
		Fail []struct {
			Errors []struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal(body, &f); err != nil || len(f.Fail) != 1 || len(f.Fail[0].Errors) != 1 || f.Fail[0].Errors[0].Message == "" {
		t.Fatalf("not an API 1.0 fail body: %s", body)
	}
	return f.Fail[0].Errors[0].Code
}

func TestV1Authentication(t *testing.T) {
	s, c := start(t, Options{Types: v1Types, RecordsPerFile: 2})
	body := `{"data":[{"type":"MTA","compress":true,"fileFormat":"json"}]}`
	now := c.Now().Format("Mon, 02 Jan 2006 15:04:05 UTC")
	cases := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"ok", signed(t, s, body, now, "id-1", nil), 200, ""},
		{"reused id", signed(t, s, body, now, "id-1", nil), 401, V1CodeRequestIDReused},
		{"wrong secret", signed(t, s, body, now, "id-2", func(_, _, _ *string, k *[]byte) { *k = []byte("other") }), 401, V1CodeBadSignature},
		{"wrong app key", signed(t, s, body, now, "id-3", func(_, k, _ *string, _ *[]byte) { *k = "other" }), 401, V1CodeBadSignature},
		{"unknown access key", signed(t, s, body, now, "id-4", func(_, _, a *string, _ *[]byte) { *a = "other" }), 401, V1CodeUnknownAccessKey},
		{"stale date", signed(t, s, body, c.Now().Add(-16*time.Minute).Format("Mon, 02 Jan 2006 15:04:05 UTC"), "id-5", nil), 401, V1CodeDateOutOfRange},
		{"future date", signed(t, s, body, c.Now().Add(16*time.Minute).Format("Mon, 02 Jan 2006 15:04:05 UTC"), "id-6", nil), 401, V1CodeDateOutOfRange},
		{"skew within bounds", signed(t, s, body, c.Now().Add(-14*time.Minute).Format("Mon, 02 Jan 2006 15:04:05 UTC"), "id-7", nil), 200, ""},
		{"wrong app id", signed(t, s, body, now, "id-8", func(a, _, _ *string, _ *[]byte) { *a = "other" }), 200, V1CodeDeveloperKey},
		{"bad token", signed(t, s, `{"data":[{"type":"MTA","compress":true,"fileFormat":"json","token":"`+s.V1Token(1)+`x"}]}`, now, "id-9", nil), 200, V1CodeInvalidToken},
		{"no type", signed(t, s, `{"data":[{"compress":true}]}`, now, "id-10", nil), 200, V1CodeValidationNull},
		{"blank type", signed(t, s, `{"data":[{"type":"","compress":true}]}`, now, "id-11", nil), 200, V1CodeValidationBlank},
	}
	missing := signed(t, s, body, now, "id-12", nil)
	missing.Header.Del("x-mc-date")
	cases = append(cases, struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{"missing date", missing, 401, V1CodeAuthHeaders})
	for _, tc := range cases {
		resp, b := do(t, tc.req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, b)
			continue
		}
		if tc.code == "" {
			if resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("mc-siem-token") != s.V1Token(1) {
				t.Errorf("%s: not a log file: %v", tc.name, resp.Header)
			}
			if _, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if got := v1Code(t, b); got != tc.code {
			t.Errorf("%s: code %s, want %s", tc.name, got, tc.code)
		}
	}
	st := s.V1Stats()
	if st.AuthFailures[V1CodeBadSignature] != 2 || st.AuthFailures[V1CodeDateOutOfRange] != 2 || st.AuthFailures[V1CodeRequestIDReused] != 1 || st.InvalidTokens != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestV1ReplayWindowBounded(t *testing.T) {
	s, c := start(t, Options{Types: v1Types, RecordsPerFile: 1, V1: V1Options{ReplayWindow: 2}})
	body := `{"data":[{"type":"MTA","compress":true,"fileFormat":"json"}]}`
	now := c.Now().Format("Mon, 02 Jan 2006 15:04:05 UTC")
	for _, id := range []string{"a", "b", "c", "a"} { // "a" was evicted by "c"
		if resp, b := do(t, signed(t, s, body, now, id, nil)); resp.StatusCode != 200 {
			t.Fatalf("id %s: %d %s", id, resp.StatusCode, b)
		}
	}
	if resp, _ := do(t, signed(t, s, body, now, "c", nil)); resp.StatusCode != 401 {
		t.Errorf("recent id reused: %d", resp.StatusCode)
	}
}

func TestV1InvalidTokenThroughSource(t *testing.T) {
	s, c := start(t, Options{Types: v1Types, RecordsPerFile: 1})
	other, _ := start(t, Options{Types: v1Types, RecordsPerFile: 1, Seed: 99})
	src, m := v1Source(t, s, c, "json", nil)
	_, err := src.Fetch(t.Context(), api1.EncodeCursor(other.V1Token(3)))
	if !source.IsPermanent(err) || !errors.Is(err, api1.ErrInvalidToken) {
		t.Fatalf("err = %v", err)
	}
	if v := counter(t, m.StreamErrors.WithLabelValues(api1.StreamName, metrics.ReasonInvalidToken)); v != 1 {
		t.Errorf("invalid_token = %v", v)
	}
	// With RestartOnInvalidToken the source starts over from file 0.
	src2, _ := v1Source(t, s, c, "json", func(c *api1.Config) { c.RestartOnInvalidToken = true })
	b, err := src2.Fetch(t.Context(), api1.EncodeCursor(other.V1Token(3)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.(io.Closer).Close()
	if err := b.Records(t.Context(), func(*source.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if tok, _ := api1.DecodeCursor(b.Cursor()); tok != s.V1Token(1) {
		t.Errorf("cursor after restart %q, want the token of file 1", tok)
	}
}

func TestV1InjectedFaults(t *testing.T) {
	s, c := start(t, Options{Types: v1Types, RecordsPerFile: 1, History: 30 * time.Minute,
		RateLimitEvery: 2, FaultReset: 5 * time.Millisecond, V1: V1Options{FailEvery: 2}})
	src, m := v1Source(t, s, c, "json", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Request 1: file 0. Request 2: 429 then retried (request 3) → the
	// second v1 request is an injected fail.
	b, err := src.Fetch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Records(ctx, func(*source.Record) error { return nil })
	b.(io.Closer).Close()
	_, err = src.Fetch(ctx, b.Cursor())
	if !errors.Is(err, mimecast.ErrAuth) || !strings.Contains(err.Error(), "err_xdk_binding_expired") {
		t.Fatalf("err = %v, want the injected err_xdk_binding_expired", err)
	}
	if v := counter(t, m.APIRateLimited.WithLabelValues(metrics.EndpointSIEMLogs)); v != 1 {
		t.Errorf("429s = %v", v)
	}
	st := s.V1Stats()
	if st.InjectedFails != 1 || s.Stats().InjectedRateLimits != 1 {
		t.Errorf("v1 stats %+v, stats %+v", st, s.Stats())
	}
}

func TestV1EventsDeterministic(t *testing.T) {
	a, _ := start(t, Options{Types: v1Types, Seed: 7})
	b, _ := start(t, Options{Types: v1Types, Seed: 7})
	d, _ := start(t, Options{Types: v1Types, Seed: 8})
	if !bytes.Equal(a.V1Event("receipt", 3, 2, "json"), b.V1Event("receipt", 3, 2, "json")) {
		t.Error("same seed, different events")
	}
	if bytes.Equal(a.V1Event("receipt", 3, 2, "json"), d.V1Event("receipt", 3, 2, "json")) {
		t.Error("different seeds, same events")
	}
	if a.V1Token(5) != b.V1Token(5) || a.V1Token(5) == d.V1Token(5) {
		t.Error("tokens not keyed by the seed")
	}
	if a.V1Event("spam", 0, 0, "json") != nil || a.V1Event("receipt", 0, 99, "json") != nil {
		t.Error("out of range events must be nil")
	}
	if err := (Options{V1: V1Options{SecretKey: "%%%", FailEvery: -1}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "SecretKey") || !strings.Contains(err.Error(), "FailEvery") {
		t.Errorf("Validate = %v", err)
	}
}
