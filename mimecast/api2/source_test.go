package api2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextCursor(t *testing.T) {
	grace := time.Hour
	cur := Cursor{V: 1, Day: "2026-11-27", NextPage: "p1"}
	for _, tc := range []struct {
		name     string
		next     string
		caughtUp bool
		now      string
		want     Cursor
	}{
		{"more pages", "p2", false, "2026-11-27T10:00:00Z", Cursor{1, "2026-11-27", "p2"}},
		{"more pages, no token", "", false, "2026-11-28T10:00:00Z", Cursor{1, "2026-11-27", "p1"}},
		{"caught up during the day", "p3", true, "2026-11-27T23:00:00Z", Cursor{1, "2026-11-27", "p3"}},
		{"caught up, no token", "", true, "2026-11-27T23:00:00Z", Cursor{1, "2026-11-27", "p1"}},
		{"caught up within grace", "p3", true, "2026-11-28T00:59:59Z", Cursor{1, "2026-11-27", "p3"}},
		{"caught up after grace", "p3", true, "2026-11-28T01:00:00Z", Cursor{1, "2026-11-28", ""}},
		{"caught up days later", "", true, "2026-11-30T05:00:00Z", Cursor{1, "2026-11-28", ""}},
		{"not caught up days later", "p9", false, "2026-11-30T05:00:00Z", Cursor{1, "2026-11-27", "p9"}},
	} {
		got := nextCursor(cur, tc.next, tc.caughtUp, day(tc.now), grace)
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestStartCursor(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Lookback = 30 * 24 * time.Hour })
	if !strings.Contains(e.logs.String(), "MIMECAST_LOOKBACK exceeds") {
		t.Errorf("no clamp warning:\n%s", e.logs)
	}
	s := e.src(t, "receipt")
	e.clk.Set(day("2026-11-28T12:00:00Z"))
	c, err := s.startCursor(nil)
	if err != nil || c != (Cursor{1, "2026-11-21", ""}) {
		t.Errorf("clamped look-back: %+v %v", c, err)
	}
	c, err = s.startCursor([]byte(`{"v":1,"day":"2026-11-01","nextPage":"old"}`))
	if err != nil || c != (Cursor{1, "2026-11-21", ""}) {
		t.Errorf("stale cursor: %+v %v", c, err)
	}
	if !strings.Contains(e.logs.String(), "older than the 7 days") {
		t.Errorf("no stale cursor warning:\n%s", e.logs)
	}
	c, err = s.startCursor([]byte(`{"v":1,"day":"2026-11-25","nextPage":"tok"}`))
	if err != nil || c != (Cursor{1, "2026-11-25", "tok"}) {
		t.Errorf("valid cursor: %+v %v", c, err)
	}
	for _, bad := range []string{`garbage`, `{"v":2,"day":"2026-11-25"}`, `{"v":1,"day":"25/11/2026"}`,
		`{"v":1,"day":"yesterday"}`, `{"v":1,"day":""}`, `{"v":1}`, `{"v":1,"day":"2026-02-30"}`, `{"v":1,"day":"2026-11-25T00:00:00Z"}`,
		`{"v":1,"day":"2026-11-30"}`, // after tomorrow
		`{"v":1,"day":"2026-11-25","nextPage":"a\nb"}`, `{"v":1,"day":"2026-11-25","extra":1}`,
		`{"v":1,"day":"2026-11-25"} {}`, `[1]`, `{"v":"1","day":"2026-11-25"}`, `{"day":"2026-11-25"}`} {
		_, err := s.startCursor([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), "invalid API 2.0 cursor") {
			t.Errorf("%s: err = %v", bad, err)
		}
		// Retrying cannot repair a stored cursor: the stream stops.
		if !source.IsPermanent(err) {
			t.Errorf("%s: error is not permanent: %v", bad, err)
		}
		if cerr := s.CheckCursor([]byte(bad)); cerr == nil || cerr.Error() != errors.Unwrap(err).Error() {
			t.Errorf("%s: CheckCursor = %v, want the error of Fetch", bad, cerr)
		}
	}
	for _, good := range []string{`{"v":1,"day":"2026-11-25","nextPage":"tok"}`, `{"v":1,"day":"2026-11-29"}`, ` {"v":1,"day":"2026-11-28"}` + "\n"} {
		if err := s.CheckCursor([]byte(good)); err != nil {
			t.Errorf("%s: CheckCursor = %v", good, err)
		}
	}

	e2 := newEnv(t, nil) // default look-back 24 h
	c, _ = e2.src(t, "receipt").startCursor(nil)
	if c.Day != "2026-11-27" {
		t.Errorf("default look-back day = %s", c.Day)
	}
}

func TestFetchPagingAndDayAdvance(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PageSize = 50 })
	e.clk.Set(day("2026-11-28T00:30:00Z"))
	e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		switch hit {
		case 1:
			writePage(w, e.api, false, "page2")
		case 2:
			writePage(w, e.api, true, "page3")
		default:
			writePage(w, e.api, true, "")
		}
	}
	s := e.src(t, "url-protect")
	b, err := s.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.CaughtUp() || string(b.Cursor()) != `{"v":1,"day":"2026-11-27","nextPage":"page2"}` {
		t.Errorf("page 1: caughtUp %v cursor %s", b.CaughtUp(), b.Cursor())
	}
	// Where the stream is, for the pipeline's progress: day and page.
	position := func(b source.Batch, want string, wantAt time.Time) {
		t.Helper()
		label, at := b.(source.Positioner).Position()
		if label != want || !at.Equal(wantAt) {
			t.Errorf("Position() = %q, %s; want %q, %s", label, at, want, wantAt)
		}
	}
	position(b, "day 2026-11-27 page 1", day("2026-11-27T00:00:00Z"))
	b, err = s.Fetch(t.Context(), b.Cursor())
	if err != nil {
		t.Fatal(err)
	}
	// Caught up at 00:30, within the 1 h grace: stay on the day.
	if !b.CaughtUp() || string(b.Cursor()) != `{"v":1,"day":"2026-11-27","nextPage":"page3"}` {
		t.Errorf("page 2: caughtUp %v cursor %s", b.CaughtUp(), b.Cursor())
	}
	position(b, "day 2026-11-27 page 2", day("2026-11-27T00:00:00Z"))
	e.clk.Set(day("2026-11-28T01:00:00Z"))
	b, err = s.Fetch(t.Context(), b.Cursor())
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Cursor()) != `{"v":1,"day":"2026-11-28"}` {
		t.Errorf("after grace: cursor %s", b.Cursor())
	}
	position(b, "day 2026-11-27 page 3", day("2026-11-27T00:00:00Z"))
	if b, err = s.Fetch(t.Context(), b.Cursor()); err != nil {
		t.Fatal(err)
	}
	position(b, "day 2026-11-28 page 1", day("2026-11-28T00:00:00Z"))
	e.api.mu.Lock()
	defer e.api.mu.Unlock()
	want := []map[string]string{
		{"type": "url protect", "dateRangeStartsAt": "2026-11-27", "dateRangeEndsAt": "2026-11-27", "pageSize": "50"},
		{"type": "url protect", "dateRangeStartsAt": "2026-11-27", "dateRangeEndsAt": "2026-11-27", "pageSize": "50", "nextPage": "page2"},
		{"type": "url protect", "dateRangeStartsAt": "2026-11-27", "dateRangeEndsAt": "2026-11-27", "pageSize": "50", "nextPage": "page3"},
		{"type": "url protect", "dateRangeStartsAt": "2026-11-28", "dateRangeEndsAt": "2026-11-28", "pageSize": "50"},
	}
	if len(e.api.listQueries) != len(want) {
		t.Fatalf("queries = %v", e.api.listQueries)
	}
	for i := range want {
		if fmt.Sprint(e.api.listQueries[i]) != fmt.Sprint(want[i]) {
			t.Errorf("query %d = %v, want %v", i, e.api.listQueries[i], want[i])
		}
	}
}

func TestListingRetries(t *testing.T) {
	e := newEnv(t, nil)
	e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		switch hit {
		case 1, 2:
			w.Header().Set("X-RateLimit-Reset", "20")
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.WriteHeader(http.StatusBadGateway)
		default:
			writePage(w, e.api, true, "p")
		}
	}
	b, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first day (now - 24h look-back) is caught up and past its grace:
	// the cursor moves to the next day, so the stream is not caught up yet.
	if err := b.Records(t.Context(), func(*source.Record) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if b.CaughtUp() {
		t.Error("caught up on a past day: want the stream to go on with the next day")
	}
	if c, err := ParseCursor(b.Cursor()); err != nil || c.Day != e.clk.Now().Format(dayLayout) {
		t.Errorf("cursor = %+v (%v), want today %s", c, err, e.clk.Now().Format(dayLayout))
	}
	ep := metrics.EndpointBatchList
	if got := value(t, e.m.APIRateLimited.WithLabelValues(ep)); got != 2 {
		t.Errorf("api_rate_limited = %v", got)
	}
	if got := value(t, e.m.APIRetries.WithLabelValues(ep)); got != 3 {
		t.Errorf("api_retries = %v", got)
	}
	if got := value(t, e.m.APIRateLimitWait); got < 0.04 {
		t.Errorf("api_rate_limit_wait_seconds = %v, want ≥ 2 × 20 ms", got)
	}
}

func TestListingGivesUpWithMessage(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Client.RetryMax = 2 })
	e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"fail":[{"code":"err_siem","message":"batch store unavailable"}]}`))
	}
	_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || apiErr.Attempts != 3 || !strings.Contains(err.Error(), "batch store unavailable") {
		t.Fatalf("err = %v", err)
	}
}

func TestListingForbiddenStrictIsAuthError(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Strict = map[string]bool{"receipt": true} })
	e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"fail":[{"code":"forbidden","message":"missing permission"}]}`))
	}
	_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if !errors.Is(err, mimecast.ErrAuth) || !errors.Is(err, mimecast.ErrForbidden) || !strings.Contains(err.Error(), "missing permission") {
		t.Fatalf("err = %v", err)
	}
}

// A refused stream not named explicitly is skipped: an empty caught-up
// batch, counted, asked again only after an hour.
func TestListingForbiddenSkipsHourly(t *testing.T) {
	e := newEnv(t, nil)
	hits := 0
	e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		hits++
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"fail":[{"code":"forbidden","message":"missing permission"}]}`))
	}
	src := e.src(t, "receipt")
	for i := 0; i < 3; i++ {
		b, err := src.Fetch(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !b.CaughtUp() || b.Cursor() == nil {
			t.Fatalf("refused batch: caught up %v, cursor %s", b.CaughtUp(), b.Cursor())
		}
	}
	if hits != 1 {
		t.Fatalf("listing asked %d times within the hour, want 1", hits)
	}
	if got := value(t, e.m.StreamErrors.WithLabelValues("receipt", metrics.ReasonForbidden)); got != 1 {
		t.Fatalf("stream_errors_total{forbidden} = %v", got)
	}
	if got := value(t, e.m.StreamRefused.WithLabelValues("receipt")); got != 1 {
		t.Fatalf("stream_refused = %v", got)
	}
}

func event(ts int64, extra string) string {
	return fmt.Sprintf(`{"timestamp":%d,"accountId":"A","msg":%q}`, ts, extra)
}

func TestRecordsDedupExpiredBadJSONAndNoAuth(t *testing.T) {
	e := newEnv(t, nil)
	e.api.files["a.gz"] = gz(t, []byte(event(1000, "a1")+"\n"+event(2000, "a2")+"\n"))
	e.api.files["b.gz"] = gz(t, []byte(event(3000, "b1")+"\nnot json at all\n\n{\"unterminated\":\n"+event(4000, "b2")))
	e.api.fileCode["gone.gz"] = http.StatusForbidden
	e.api.setPage(true, "", "a.gz", "gone.gz", "missing.gz", "b.gz", "a.gz")
	b, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, r := range recs {
		var v struct{ Msg string }
		json.Unmarshal([]byte(r.JSON), &v)
		msgs = append(msgs, v.Msg)
		if r.Type != "receipt" {
			t.Errorf("type %q", r.Type)
		}
	}
	if fmt.Sprint(msgs) != "[a1 a2 b1 b2]" {
		t.Errorf("records %v", msgs)
	}
	if !recs[0].Time.Equal(time.UnixMilli(1000)) || !recs[3].Time.Equal(time.UnixMilli(4000)) {
		t.Errorf("times %v %v", recs[0].Time, recs[3].Time)
	}
	if h := e.api.hits("a.gz"); h != 1 {
		t.Errorf("duplicate URL fetched %d times", h)
	}
	st := "receipt"
	if got := value(t, e.m.FilesSkipped.WithLabelValues(st, metrics.ReasonExpiredURL)); got != 2 {
		t.Errorf("files_skipped{expired_url} = %v", got)
	}
	if got := value(t, e.m.RecordsSkipped.WithLabelValues(st, metrics.ReasonInvalidJSON)); got != 2 {
		t.Errorf("records_skipped{invalid_json} = %v", got)
	}
	if got := value(t, e.m.FilesFetched.WithLabelValues(st)); got != 2 {
		t.Errorf("files_fetched = %v", got)
	}
	if got := value(t, e.m.APIRequests.WithLabelValues(metrics.EndpointBatchFile, "403")); got != 1 {
		t.Errorf("api_requests{batch_file,403} = %v", got)
	}
	e.api.mu.Lock()
	for _, a := range e.api.fileAuths {
		if a != "" {
			t.Errorf("Authorization %q reached the presigned URL", a)
		}
	}
	e.api.mu.Unlock()
	logs := e.logs.String()
	for _, want := range []string{"file 4 of 4", "line=2", "line=4", "not json at all", "expired_url", "/files/gone.gz"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestRecordsCorruptGzip(t *testing.T) {
	e := newEnv(t, nil)
	var plain bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&plain, "{\"timestamp\":%d,\"n\":%d,\"pad\":\"%x\"}\n", 1700000000000+i, i, i*7919)
	}
	full := gz(t, plain.Bytes())
	e.api.files["trunc.gz"] = full[:len(full)/2] // ends mid-stream
	bad := bytes.Clone(full)
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0xA5 // damaged in the middle
	}
	e.api.files["damaged.gz"] = bad
	e.api.files["nogzip.gz"] = []byte("\x00\x01garbage, not gzip")
	e.api.files["ok.gz"] = gz(t, []byte(event(42, "last")+"\n"))
	e.api.setPage(true, "", "trunc.gz", "nogzip.gz", "damaged.gz", "ok.gz")
	b, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	// The truncated file delivers its first records, in order.
	n := 0
	for n < len(recs) && strings.Contains(recs[n].JSON, fmt.Sprintf(`"n":%d,`, n)) {
		n++
	}
	if n < 100 || n >= 5000 {
		t.Errorf("%d records before the truncation, want some but not all", n)
	}
	if last := recs[len(recs)-1]; !strings.Contains(last.JSON, `"last"`) {
		t.Errorf("file after the corrupt ones not read; last record %s", last.JSON)
	}
	if got := value(t, e.m.FilesSkipped.WithLabelValues("receipt", metrics.ReasonCorruptArchive)); got != 3 {
		t.Errorf("files_skipped{corrupt_archive} = %v", got)
	}
	if !strings.Contains(e.logs.String(), "file 1 of 4") || !strings.Contains(e.logs.String(), fmt.Sprintf("line=%d", n)) {
		t.Errorf("corrupt file not located in logs:\n%s", e.logs)
	}
}

func TestRecordsEightMiBLine(t *testing.T) {
	e := newEnv(t, nil)
	big := `{"timestamp":1731499059314,"blob":"` + strings.Repeat("x", 8<<20) + `"}`
	e.api.files["big.gz"] = gz(t, []byte(event(1, "before")+"\n"+big+"\n"+event(2, "after")+"\n"))
	e.api.setPage(true, "", "big.gz")
	b, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1].JSON != big || !recs[1].Time.Equal(time.UnixMilli(1731499059314)) {
		t.Fatalf("got %d records", len(recs))
	}
}

func TestRecordsTooLongLineSkipped(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxLineBytes = 1 << 10 })
	e.api.files["f.gz"] = gz(t, []byte(`{"a":"`+strings.Repeat("y", 4<<10)+"\"}\n"+event(2, "after")+"\n"))
	e.api.setPage(true, "", "f.gz")
	b, _ := e.src(t, "receipt").Fetch(t.Context(), nil)
	recs, err := collect(t, b)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %v", recs, err)
	}
	if got := value(t, e.m.RecordsSkipped.WithLabelValues("receipt", metrics.ReasonTooLarge)); got != 1 {
		t.Errorf("records_skipped{too_large} = %v", got)
	}
}

func TestRecordsCallbackErrorUnchanged(t *testing.T) {
	e := newEnv(t, nil)
	e.api.files["a.gz"] = gz(t, []byte(event(1, "a")+"\n"+event(2, "b")+"\n"))
	e.api.files["b.gz"] = gz(t, []byte(event(3, "c")+"\n"))
	e.api.setPage(true, "", "a.gz", "b.gz")
	b, _ := e.src(t, "receipt").Fetch(t.Context(), nil)
	stop := errors.New("receiver gone")
	calls := 0
	err := b.Records(t.Context(), func(*source.Record) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("err = %v after %d calls", err, calls)
	}
	if e.api.hits("b.gz") != 0 {
		t.Error("kept downloading after the callback failed")
	}
	// The batch can be read again from the start.
	recs, err := collect(t, b)
	if err != nil || len(recs) != 3 {
		t.Errorf("second read: %d records, %v", len(recs), err)
	}
}

func TestRecordsDownloadFailureFailsBatch(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Client.RetryMax = 1 })
	e.api.files["a.gz"] = gz(t, []byte(event(1, "a")+"\n"))
	e.api.fileCode["b.gz"] = http.StatusInternalServerError
	e.api.setPage(true, "", "a.gz", "b.gz")
	b, _ := e.src(t, "receipt").Fetch(t.Context(), nil)
	recs, err := collect(t, b)
	var apiErr *mimecast.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || len(recs) != 1 {
		t.Fatalf("err = %v, %d records", err, len(recs))
	}
	if h := e.api.hits("b.gz"); h != 2 {
		t.Errorf("b.gz tried %d times, want 2", h)
	}
	if strings.Contains(err.Error(), "sig-") {
		t.Errorf("error leaks the signature: %v", err)
	}
}

func TestRecordsBodyCutFailsBatch(t *testing.T) {
	e := newEnv(t, nil)
	var plain bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&plain, "{\"timestamp\":%d,\"pad\":\"%x\"}\n", i, i*104729)
	}
	data := gz(t, plain.Bytes())
	e.api.fileHook = func(w http.ResponseWriter, name string) bool {
		// Promise the whole file, send half, then drop the connection.
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
	e.api.setPage(true, "", "cut.gz")
	b, _ := e.src(t, "receipt").Fetch(t.Context(), nil)
	_, err := collect(t, b)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("err = %v, want the download failure", err)
	}
	if got := value(t, e.m.FilesSkipped.WithLabelValues("receipt", metrics.ReasonCorruptArchive)); got != 0 {
		t.Errorf("a cut connection was counted as a corrupt archive")
	}
}

func TestDownloadsDoNotUseBudget(t *testing.T) {
	// One request per second, burst 2: the token and the listing use the
	// burst; any budgeted download would have to wait about a second.
	e := newEnv(t, func(c *Config) { c.Client.Budget = mimecast.NewBudget(60, 2) })
	for i := range 3 {
		e.api.files[fmt.Sprintf("f%d.gz", i)] = gz(t, []byte(event(int64(i), "x")+"\n"))
	}
	e.api.setPage(true, "", "f0.gz", "f1.gz", "f2.gz")
	b, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := collect(t, b); err != nil || len(recs) != 3 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if got := value(t, e.m.APIBudgetWait); got != 0 {
		t.Errorf("api_budget_wait_seconds = %v, want 0", got)
	}
}

func TestRealSamples(t *testing.T) {
	data := mimecasttest.ReadFile(t, mimecasttest.V2CG)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	e := newEnv(t, nil)
	e.api.files["samples.gz"] = gz(t, data)
	e.api.setPage(true, "", "samples.gz")
	b, err := e.src(t, "url-protect").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 23 || len(lines) != 23 {
		t.Fatalf("%d records from %d lines", len(recs), len(lines))
	}
	for i, line := range lines {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(line)); err != nil {
			t.Fatal(err)
		}
		if recs[i].JSON != want.String() {
			t.Errorf("record %d differs:\n got %s\nwant %s", i, recs[i].JSON, want.String())
		}
		var v struct{ Timestamp int64 }
		json.Unmarshal([]byte(line), &v)
		if !recs[i].Time.Equal(time.UnixMilli(v.Timestamp)) || recs[i].Time.Location() != time.UTC || v.Timestamp == 0 {
			t.Errorf("record %d time %v, want %d ms", i, recs[i].Time, v.Timestamp)
		}
		if recs[i].Type != "url protect" {
			t.Errorf("record %d type %q", i, recs[i].Type)
		}
	}
}

// TestURLExpiredWhileSending: a presigned URL that was valid when listed
// but expired before its download (the batch waited for a receiver that
// was down) is not skipped: Records fails with ErrURLExpiredMeanwhile so
// that the page is listed again. A URL refused while still valid is
// Mimecast's stale entry: skipped and counted as before.
func TestURLExpiredWhileSending(t *testing.T) {
	e := newEnv(t, nil)
	e.api.files["a.gz"] = gz(t, []byte(event(1000, "a1")+"\n"))
	e.api.fileCode["b.gz"] = http.StatusForbidden
	listed := e.clk.Now()
	until := listed.Add(15 * time.Minute).UTC().Format(time.RFC3339)
	e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
		fmt.Fprintf(w, `{"value":[{"url":%q,"expiry":%q,"size":1},{"url":%q,"expiry":%q,"size":1}],"isCaughtUp":true}`,
			e.api.fileURL("a.gz"), until, e.api.fileURL("b.gz"), until)
	}
	src := e.src(t, "receipt")
	b, err := src.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Records(t.Context(), func(*source.Record) error {
		e.clk.Set(listed.Add(20 * time.Minute)) // the receiver was down for 20 minutes
		return nil
	})
	if !errors.Is(err, ErrURLExpiredMeanwhile) || !strings.Contains(err.Error(), "file 2 of 2") {
		t.Fatalf("Records = %v, want ErrURLExpiredMeanwhile for file 2", err)
	}
	if got := value(t, e.m.FilesSkipped.WithLabelValues("receipt", metrics.ReasonExpiredURL)); got != 0 {
		t.Errorf("files_skipped{expired_url} = %v, want 0: the file must not be skipped", got)
	}

	e.clk.Set(listed)
	b, err = src.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Records(t.Context(), func(*source.Record) error { return nil }); err != nil {
		t.Fatalf("Records with a URL refused while valid = %v, want the file skipped", err)
	}
	if got := value(t, e.m.FilesSkipped.WithLabelValues("receipt", metrics.ReasonExpiredURL)); got != 1 {
		t.Errorf("files_skipped{expired_url} = %v, want 1", got)
	}
}
