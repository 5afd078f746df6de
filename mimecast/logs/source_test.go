package logs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2022, 12, 29, 3, 45, 45, 0, time.UTC)
	for _, s := range []string{"2022-12-29T03:45:45+0000", "2022-12-29T03:45:45+00:00", "2022-12-29T03:45:45Z",
		"2022-12-29T10:45:45+0700", "2022-12-29T10:45:45+07:00", "2022-12-29T03:45:45.000Z", "2022-12-29T03:45:45"} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseTime("29/12/2022"); err == nil {
		t.Error("ParseTime accepted 29/12/2022")
	}
}

// fakePoster answers the requests with the given bodies in turn and keeps
// the requests.
type fakePoster struct {
	answers []string
	errs    []error
	reqs    []map[string]any
	paths   []string
}

func (f *fakePoster) PostJSON(ctx context.Context, path, endpoint string, body []byte) ([]byte, error) {
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	f.reqs = append(f.reqs, req)
	f.paths = append(f.paths, path)
	i := len(f.reqs) - 1
	if i < len(f.errs) && f.errs[i] != nil {
		return nil, f.errs[i]
	}
	if i >= len(f.answers) {
		return []byte(`{"meta":{"pagination":{}},"data":[],"fail":[]}`), nil
	}
	return []byte(f.answers[i]), nil
}

func newTestSource(t *testing.T, ep Endpoint, p Poster, now time.Time) (*Source, *metrics.Metrics, *mimecasttest.SyncBuffer) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), "t", "r")
	buf := &mimecasttest.SyncBuffer{}
	srcs, err := NewSources(Config{Poster: p, Window: time.Hour, Lookback: 2 * time.Hour, PageSize: 10,
		Now: func() time.Time { return now }}, []Endpoint{ep}, m, slog.New(slog.NewTextHandler(buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return srcs[0].(*Source), m, buf
}

func collect(t *testing.T, b source.Batch) []string {
	t.Helper()
	var out []string
	if err := b.Records(t.Context(), func(r *source.Record) error {
		out = append(out, r.Type+" "+r.Time.Format(time.RFC3339)+" "+string(r.JSON))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The real DLP answer: records under data[0].dlpLogs, the request carries
// from/to in +0000 and oldestFirst; the real empty last page carries a
// token and ends the window.
func TestDLPRealAnswers(t *testing.T) {
	now := time.Date(2024, 11, 18, 6, 0, 0, 0, time.UTC)
	p := &fakePoster{answers: []string{
		string(mimecasttest.ReadFile(t, "endpoints/dlp_logs.response.json")),
		string(mimecasttest.ReadFile(t, "endpoints/dlp_logs.empty-page.response.json")),
	}}
	src, _, _ := newTestSource(t, DLP, p, now)
	src.cfg.Window = 12 * time.Hour
	// The window holding the sample's times.
	cur := Cursor{V: 1, From: "2024-11-17T18:00:00Z"}.encode()
	b, err := src.Fetch(t.Context(), cur)
	if err != nil {
		t.Fatal(err)
	}
	recs := collect(t, b)
	if len(recs) != 2 || !strings.HasPrefix(recs[0], "dlp 2024-11-18T05:11:02Z ") {
		t.Fatalf("records = %q", recs)
	}
	d := p.reqs[0]["data"].([]any)[0].(map[string]any)
	if d["from"] != "2024-11-17T18:00:00+0000" || d["to"] != "2024-11-18T06:00:00+0000" || d["oldestFirst"] != true || p.paths[0] != "/api/dlp/get-logs" {
		t.Fatalf("request = %v", p.reqs[0])
	}
	c, _ := ParseCursor(b.Cursor())
	if c.PageToken != "nexttoken" || c.To != "2024-11-18T06:00:00Z" || b.CaughtUp() {
		t.Fatalf("cursor after page 1 = %s", b.Cursor())
	}
	b, err = src.Fetch(t.Context(), b.Cursor())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, b)); n != 0 {
		t.Fatalf("empty page gave %d records", n)
	}
	if pag := p.reqs[1]["meta"].(map[string]any)["pagination"].(map[string]any); pag["pageToken"] != "nexttoken" {
		t.Fatalf("page 2 request = %v", p.reqs[1])
	}
	c, _ = ParseCursor(b.Cursor())
	if c.From != "2024-11-18T06:00:00Z" || c.To != "" || c.PageToken != "" {
		t.Fatalf("the empty page with a token did not end the window: %s", b.Cursor())
	}
}

// Audit records are data[] itself; the request uses startDateTime and
// endDateTime and no oldestFirst.
func TestAuditRealAnswer(t *testing.T) {
	p := &fakePoster{answers: []string{string(mimecasttest.ReadFile(t, "endpoints/audit_events.response.json"))}}
	src, _, _ := newTestSource(t, Audit, p, time.Date(2021, 11, 17, 13, 0, 0, 0, time.UTC))
	b, err := src.Fetch(t.Context(), Cursor{V: 1, From: "2021-11-17T12:00:00Z"}.encode())
	if err != nil {
		t.Fatal(err)
	}
	recs := collect(t, b)
	if len(recs) != 1 || !strings.Contains(recs[0], `"auditType":"Threat Intel Feed Download"`) {
		t.Fatalf("records = %q", recs)
	}
	d := p.reqs[0]["data"].([]any)[0].(map[string]any)
	if d["startDateTime"] != "2021-11-17T12:00:00+0000" || d["endDateTime"] != "2021-11-17T13:00:00+0000" || d["oldestFirst"] != nil {
		t.Fatalf("request = %v", p.reqs[0])
	}
	// No next token: the window is done, and it was cut by now.
	c, _ := ParseCursor(b.Cursor())
	if c.From != "2021-11-17T13:00:00Z" || b.CaughtUp() {
		t.Fatalf("cursor %s caught up %v", b.Cursor(), b.CaughtUp())
	}
}

// fail[] in an HTTP 200 answer is an error and the cursor does not move.
func TestFailInOK(t *testing.T) {
	p := &fakePoster{answers: []string{`{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_x","message":"broken","retryable":true}]}]}`}}
	src, _, _ := newTestSource(t, TTPURL, p, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	_, err := src.Fetch(t.Context(), nil)
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "err_x" || apiErr.StatusCode != 200 {
		t.Fatalf("err = %v", err)
	}
}

// Records dated outside the window are not forwarded (an endpoint that
// ignores the range); the records on the window's last second are kept
// and skipped by the next window; identical records count as many.
func TestWindowFilterAndBoundary(t *testing.T) {
	rec := func(ts, x string) string {
		return `{"createTime":"` + ts + `","emailAddr":"a@b","searchText":"` + x + `"}`
	}
	page := func(recs ...string) string {
		return `{"meta":{"pagination":{}},"data":[{"logs":[` + strings.Join(recs, ",") + `]}],"fail":[]}`
	}
	p := &fakePoster{answers: []string{
		page(rec("2024-01-01T02:00:00+0000", "late"), rec("2024-01-01T01:00:00+0000", "edge"), rec("2024-01-01T01:00:00+0000", "edge"),
			rec("2024-01-01T00:30:00+0000", "in"), rec("2023-12-31T23:59:59+0000", "early")),
		page(rec("2024-01-01T02:00:00+0000", "late"), rec("2024-01-01T01:00:00+0000", "edge"), rec("2024-01-01T01:00:00+0000", "edge"),
			rec("2024-01-01T01:00:00+0000", "edge")),
	}}
	src, _, _ := newTestSource(t, ArchiveSearch, p, time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC))
	b, err := src.Fetch(t.Context(), Cursor{V: 1, From: "2024-01-01T00:00:00Z"}.encode())
	if err != nil {
		t.Fatal(err)
	}
	if recs := collect(t, b); len(recs) != 3 {
		t.Fatalf("first window: %q", recs)
	}
	// Where the stream is, for the pipeline's progress and position metric.
	if label, at := b.(source.Positioner).Position(); label != "window 2024-01-01T00:00:00Z..2024-01-01T01:00:00Z page 1" ||
		!at.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("first window: Position() = %q, %s", label, at)
	}
	b, err = src.Fetch(t.Context(), b.Cursor())
	if err != nil {
		t.Fatal(err)
	}
	if label, at := b.(source.Positioner).Position(); label != "window 2024-01-01T01:00:00Z..2024-01-01T02:00:00Z page 1" ||
		!at.Equal(time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("second window: Position() = %q, %s", label, at)
	}
	recs := collect(t, b)
	// A third identical "edge" record (new since) and "late" are new.
	if len(recs) != 2 || !strings.Contains(recs[0], "late") || !strings.Contains(recs[1], "edge") {
		t.Fatalf("second window: %q", recs)
	}
}

// A refused stream is skipped for an hour; strict, it is an error.
func TestForbidden(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	forb := fmtErr{mimecast.ErrForbidden}
	p := &fakePoster{errs: []error{forb, forb}}
	src, m, logs := newTestSource(t, DLP, p, now)
	for i := 0; i < 3; i++ {
		b, err := src.Fetch(t.Context(), nil)
		if err != nil || !b.CaughtUp() {
			t.Fatalf("fetch %d: %v", i, err)
		}
	}
	if len(p.reqs) != 1 || strings.Count(logs.String(), "level=WARN") != 1 || !strings.Contains(logs.String(), DLP.Permission) {
		t.Fatalf("requests %d, logs:\n%s", len(p.reqs), logs)
	}
	_ = m
	strict, err := NewSources(Config{Poster: &fakePoster{errs: []error{forb}}, Strict: map[string]bool{"dlp": true}, Now: func() time.Time { return now }},
		[]Endpoint{DLP}, metrics.New(prometheus.NewRegistry(), "t", "r"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict[0].Fetch(t.Context(), nil); !errors.Is(err, mimecast.ErrForbidden) {
		t.Fatalf("strict: %v", err)
	}
}

type fmtErr struct{ err error }

func (e fmtErr) Error() string { return "403: " + e.err.Error() }
func (e fmtErr) Unwrap() error { return e.err }

// Look-back is clamped to the endpoint's limit, and a cursor older than
// the endpoint serves jumps forward.
func TestLookbackClamp(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	p := &fakePoster{}
	srcs, err := NewSources(Config{Poster: p, Lookback: 400 * 24 * time.Hour, Now: func() time.Time { return now }},
		[]Endpoint{Audit}, metrics.New(prometheus.NewRegistry(), "t", "r"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srcs[0].Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	d := p.reqs[0]["data"].([]any)[0].(map[string]any)
	if d["startDateTime"] != "2024-04-02T00:00:00+0000" {
		t.Fatalf("start = %v, want 60 days back", d["startDateTime"])
	}
	if _, err := srcs[0].Fetch(t.Context(), Cursor{V: 1, From: "2023-01-01T00:00:00Z"}.encode()); err != nil {
		t.Fatal(err)
	}
	if d := p.reqs[1]["data"].([]any)[0].(map[string]any); d["startDateTime"] != "2024-04-02T00:00:00+0000" {
		t.Fatalf("old cursor start = %v", d["startDateTime"])
	}
}
