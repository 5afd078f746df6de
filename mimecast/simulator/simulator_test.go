package simulator

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	var logs bytes.Buffer
	s, _ := start(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	resp, body := tokenReq(t, s.URL(), DefaultClientID, DefaultClientSecret, "client_credentials")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var tr map[string]any
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr["token_type"] != "Bearer" || tr["expires_in"] != float64(1799) || tr["scope"] != "" || tr["access_token"] == "" {
		t.Fatalf("token response %s", body)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if got := resp.Header.Get("X-RateLimit-Limit"); got != "600" {
		t.Errorf("X-RateLimit-Limit = %s, want 600", got)
	}

	resp, body = tokenReq(t, s.URL(), DefaultClientID, "wrong", "client_credentials")
	if resp.StatusCode != 401 || failCode(t, body) != "invalid_client" {
		t.Fatalf("wrong secret: %d %s", resp.StatusCode, body)
	}
	resp, body = tokenReq(t, s.URL(), "other", DefaultClientSecret, "client_credentials")
	if resp.StatusCode != 401 || failCode(t, body) != "invalid_client" {
		t.Fatalf("wrong id: %d %s", resp.StatusCode, body)
	}
	resp, body = tokenReq(t, s.URL(), DefaultClientID, DefaultClientSecret, "password")
	if resp.StatusCode != 400 {
		t.Fatalf("wrong grant: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/oauth/token",
		strings.NewReader(`{"client_id":"simulator-client","client_secret":"simulator-secret","grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, body = do(t, req)
	if resp.StatusCode != 400 {
		t.Fatalf("json body: %d %s", resp.StatusCode, body)
	}
	st := s.Stats()
	if st.TokensIssued != 1 || st.TokenFailures != 4 {
		t.Fatalf("stats: issued %d failures %d", st.TokensIssued, st.TokenFailures)
	}
	if st.RequestCount(EndpointToken, 200) != 1 || st.RequestCount(EndpointToken, 401) != 2 || st.RequestCount(EndpointToken, 400) != 2 {
		t.Fatalf("requests: %v", st.Requests)
	}
	if strings.Contains(logs.String(), DefaultClientSecret) || strings.Contains(logs.String(), tr["access_token"].(string)) {
		t.Fatalf("log leaks a secret:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "path=/oauth/token") {
		t.Fatalf("request not logged:\n%s", logs.String())
	}
}

func TestBearerErrors(t *testing.T) {
	s, c := start(t, Options{TokenTTL: 10 * time.Second})
	tok := token(t, s)
	qq := q("type", "receipt", "dateRangeStartsAt", today, "dateRangeEndsAt", today)
	list(t, s, tok, qq)

	c.Advance(10 * time.Second)
	resp, body := listRaw(t, s, tok, qq)
	if resp.StatusCode != 401 || failCode(t, body) != "token_expired" {
		t.Fatalf("expired token: %d %s", resp.StatusCode, body)
	}
	resp, body = listRaw(t, s, "", qq)
	if resp.StatusCode != 401 || failCode(t, body) != "unauthorized" {
		t.Fatalf("no token: %d %s", resp.StatusCode, body)
	}
	resp, body = listRaw(t, s, tok[:len(tok)-2]+"AA", qq)
	if resp.StatusCode != 401 || failCode(t, body) != "unauthorized" {
		t.Fatalf("tampered token: %d %s", resp.StatusCode, body)
	}
	// A token minted by a simulator with another secret is unknown here.
	other, err := New(Options{ClientSecret: "another", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = listRaw(t, s, other.mintToken(c.Now().Add(time.Hour), 1), qq)
	if resp.StatusCode != 401 || failCode(t, body) != "unauthorized" {
		t.Fatalf("foreign token: %d %s", resp.StatusCode, body)
	}
	list(t, s, token(t, s), qq) // a fresh token works again
	st := s.Stats()
	if st.TokensExpired != 1 || st.Unauthorized != 3 || st.TokensIssued != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPagingAndDownload(t *testing.T) {
	s, _ := start(t, Options{})
	if n := s.Published("url protect", t0); n != 8 {
		t.Fatalf("Published = %d, want 8", n)
	}
	tok := token(t, s)
	var urls []string
	var caught []bool
	page := ""
	for i := 0; i < 10; i++ {
		qq := q("type", "url protect", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "3")
		if page != "" {
			qq.Set("nextPage", page)
		}
		l := list(t, s, tok, qq)
		for _, v := range l.Value {
			urls = append(urls, v.URL)
			exp, err := time.Parse(time.RFC3339, v.Expiry)
			if err != nil || !exp.Equal(t0.Add(15*time.Minute)) {
				t.Fatalf("expiry %q (%v)", v.Expiry, err)
			}
			if v.Size <= 0 {
				t.Fatalf("size %d", v.Size)
			}
		}
		caught = append(caught, *l.IsCaughtUp)
		page = *l.NextPage
		if *l.IsCaughtUp {
			break
		}
	}
	if len(urls) != 8 || len(caught) != 3 || caught[0] || caught[1] || !caught[2] {
		t.Fatalf("got %d urls, caughtUp sequence %v", len(urls), caught)
	}
	for i, u := range urls {
		if !strings.HasPrefix(u, s.URL()+"/storage/") || !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "X-Amz-Expires=900") {
			t.Fatalf("url %q", u)
		}
		lines, err := download(t, u)
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if len(lines) != 10 {
			t.Fatalf("file %d: %d lines", i, len(lines))
		}
		for n, line := range lines {
			if want := s.Event("url protect", i, n); line != string(want) {
				t.Fatalf("file %d line %d:\n got %s\nwant %s", i, n, line, want)
			}
		}
	}
	// The listed size is the exact number of bytes served.
	resp, err := http.Get(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if f := s.file("url protect", 0); int64(len(raw)) != s.size(f) {
		t.Fatalf("size %d, served %d", s.size(f), len(raw))
	}
	// The caught-up token returns nothing more, still with a token.
	l := list(t, s, tok, q("type", "url protect", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "nextPage", page))
	if len(l.Value) != 0 || !*l.IsCaughtUp {
		t.Fatalf("after catch-up: %d items, caughtUp %v", len(l.Value), *l.IsCaughtUp)
	}
	st := s.Stats()
	if st.Pages != 4 || st.FilesListed != 8 || st.FilesCompleted != 9 || st.RecordsServed != 90 || st.CaughtUpPages != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestContinuation(t *testing.T) {
	s, c := start(t, Options{LiveInterval: time.Minute})
	tok := token(t, s)
	qq := q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today)
	l := list(t, s, tok, qq)
	// 8 historical files plus live files of 10:00-10:07 (7 at 1/min).
	if len(l.Value) != 15 || !*l.IsCaughtUp {
		t.Fatalf("first listing: %d items, caughtUp %v", len(l.Value), *l.IsCaughtUp)
	}
	qq.Set("nextPage", *l.NextPage)
	l = list(t, s, tok, qq)
	if len(l.Value) != 0 || !*l.IsCaughtUp {
		t.Fatalf("nothing new expected, got %d", len(l.Value))
	}
	c.Advance(3*time.Minute + 30*time.Second)
	qq.Set("nextPage", *l.NextPage)
	l = list(t, s, tok, qq)
	if len(l.Value) != 3 || !*l.IsCaughtUp {
		t.Fatalf("after 3.5 min: %d items, caughtUp %v", len(l.Value), *l.IsCaughtUp)
	}
	for i, v := range l.Value {
		if !strings.Contains(v.URL, "/storage/cg/av/"+strconv.Itoa(15+i)+".ndjson.gz?") {
			t.Fatalf("item %d: %s", i, v.URL)
		}
		lines, err := download(t, v.URL)
		if err != nil || len(lines) != 10 || lines[3] != string(s.Event("av", 15+i, 3)) {
			t.Fatalf("live file %d: %d lines, %v", 15+i, len(lines), err)
		}
	}
	f, _ := s.File("av", 17)
	if !f.Published.Equal(t0.Add(-7 * time.Minute).Add(10 * time.Minute)) {
		t.Fatalf("file 17 published %v", f.Published)
	}
	// A range of another day lists nothing and is caught up.
	cont := *l.NextPage
	l = list(t, s, tok, q("type", "av", "dateRangeStartsAt", "2026-11-27", "dateRangeEndsAt", "2026-11-27"))
	if len(l.Value) != 0 || !*l.IsCaughtUp {
		t.Fatalf("yesterday: %d items", len(l.Value))
	}
	// A day's range excludes files of later days, even published ones.
	c.Advance(14 * time.Hour) // 00:10:30 next day
	l = list(t, s, token(t, s), q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "100", "nextPage", cont))
	wantToday := s.Published("av", time.Date(2026, 11, 28, 23, 59, 59, 999999999, time.UTC)) - 18
	if len(l.Value) != min(100, wantToday) || *l.IsCaughtUp != (wantToday <= 100) {
		t.Fatalf("rest of day: %d items (want %d), caughtUp %v", len(l.Value), wantToday, *l.IsCaughtUp)
	}
}

func TestValidation(t *testing.T) {
	s, _ := start(t, Options{})
	tok := token(t, s)
	for _, bad := range []url.Values{
		q("dateRangeStartsAt", today, "dateRangeEndsAt", today),
		q("type", "bogus", "dateRangeStartsAt", today, "dateRangeEndsAt", today),
		q("type", "av,delivery", "dateRangeStartsAt", today, "dateRangeEndsAt", today),
		q("type", "av", "dateRangeStartsAt", "2026-11-28T00:00:00Z", "dateRangeEndsAt", today),
		q("type", "av", "dateRangeStartsAt", today),
		q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", "2026-11-27"),
		q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "0"),
		q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "101"),
		q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "ten"),
	} {
		resp, body := listRaw(t, s, tok, bad)
		if resp.StatusCode != 400 || failCode(t, body) != "validation_error" {
			t.Errorf("%v: %d %s", bad, resp.StatusCode, body)
		}
	}
	l := list(t, s, tok, q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "2"))
	good := *l.NextPage
	for _, tampered := range []string{good[:len(good)-1] + "x", "B" + good[1:], "garbage", strings.Replace(good, ".", "", 1)} {
		if tampered == good {
			continue
		}
		resp, body := listRaw(t, s, tok, q("type", "av", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "nextPage", tampered))
		if resp.StatusCode != 400 || failCode(t, body) != "invalid_next_page" {
			t.Errorf("tampered %q: %d %s", tampered, resp.StatusCode, body)
		}
	}
	// Token of another type.
	resp, body := listRaw(t, s, tok, q("type", "spam", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "nextPage", good))
	if resp.StatusCode != 400 || failCode(t, body) != "invalid_next_page" {
		t.Errorf("token of other type: %d %s", resp.StatusCode, body)
	}
	// A token alone (no type, no range) continues where it stopped.
	l = list(t, s, tok, q("nextPage", good, "pageSize", "100"))
	if len(l.Value) != 6 || !*l.IsCaughtUp || !strings.Contains(l.Value[0].URL, "/cg/av/2.ndjson.gz") {
		t.Fatalf("token-only continuation: %d items", len(l.Value))
	}
	st := s.Stats()
	if st.ValidationErrors != 9 || st.InvalidNextPage != 5 {
		t.Fatalf("stats: validation %d invalid_next_page %d", st.ValidationErrors, st.InvalidNextPage)
	}
}

func TestStorageErrors(t *testing.T) {
	s, c := start(t, Options{URLTTL: 5 * time.Minute})
	tok := token(t, s)
	l := list(t, s, tok, q("type", "journal", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "1"))
	u := l.Value[0].URL
	check := func(name string, req *http.Request, status int, code string) {
		t.Helper()
		resp, body := do(t, req)
		if resp.StatusCode != status || !strings.Contains(string(body), "<Error><Code>"+code+"</Code>") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
		if resp.Header.Get("X-RateLimit-Limit") != "" {
			t.Errorf("%s: storage must not send rate-limit headers", name)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	check("authorization header", req, 400, "InvalidArgument")

	req, _ = http.NewRequest(http.MethodGet, strings.Replace(u, "X-Amz-Signature=", "X-Amz-Signature=0", 1), nil)
	check("bad signature", req, 403, "AccessDenied")
	req, _ = http.NewRequest(http.MethodGet, strings.Replace(u, "/journal/0.", "/journal/1.", 1), nil)
	check("other object", req, 403, "AccessDenied")
	req, _ = http.NewRequest(http.MethodGet, strings.Replace(u, "X-Amz-Expires=300", "X-Amz-Expires=9000", 1), nil)
	check("longer expiry", req, 403, "AccessDenied")

	// Correctly signed but not (yet) published -> 404.
	f := s.file("journal", 500)
	item := s.presign(s.URL(), f, c.Now())
	req, _ = http.NewRequest(http.MethodGet, item.URL, nil)
	check("unpublished", req, 404, "NoSuchKey")

	c.Advance(5 * time.Minute)
	req, _ = http.NewRequest(http.MethodGet, u, nil)
	check("expired", req, 403, "AccessDenied")

	st := s.Stats()
	if st.StorageAuthHdr != 1 || st.StorageDenied != 4 || st.StorageMissing != 1 || st.FilesServed != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.RequestCount(EndpointStorage, 403) != 4 || st.RequestCount(EndpointStorage, 400) != 1 {
		t.Fatalf("requests %v", st.Requests)
	}
}

func TestRateLimit(t *testing.T) {
	s, c := start(t, Options{RateLimit: 2, RateWindow: time.Minute})
	for i, want := range []struct {
		status    int
		remaining string
		reset     string
	}{{200, "1", "30000"}, {200, "0", "30000"}, {429, "0", "30000"}} {
		resp, body := tokenReq(t, s.URL(), DefaultClientID, DefaultClientSecret, "client_credentials")
		if resp.StatusCode != want.status || resp.Header.Get("X-RateLimit-Remaining") != want.remaining ||
			resp.Header.Get("X-RateLimit-Reset") != want.reset || resp.Header.Get("X-RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d remaining %s reset %s: %s", i, resp.StatusCode,
				resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("X-RateLimit-Reset"), body)
		}
		if want.status == 429 && failCode(t, body) != "rate_limit_exceeded" {
			t.Fatalf("429 body %s", body)
		}
	}
	c.Advance(20 * time.Second) // 2/3 of a request back: still limited, 10 s to go
	resp, _ := listRaw(t, s, "", q())
	if resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Reset") != "10000" {
		t.Fatalf("after 20s: %d reset %s", resp.StatusCode, resp.Header.Get("X-RateLimit-Reset"))
	}
	c.Advance(10 * time.Second)
	resp, _ = listRaw(t, s, "", q())
	if resp.StatusCode != 401 {
		t.Fatalf("after 30s: %d", resp.StatusCode)
	}
	if st := s.Stats(); st.RateLimited != 2 || st.InjectedRateLimits != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInjectedAPIFaults(t *testing.T) {
	s, _ := start(t, Options{RateLimitEvery: 3, ServerErrorEvery: 2, FaultReset: 1500 * time.Millisecond})
	var got []int
	for i := 1; i <= 12; i++ {
		resp, body := tokenReq(t, s.URL(), DefaultClientID, DefaultClientSecret, "client_credentials")
		got = append(got, resp.StatusCode)
		switch resp.StatusCode {
		case 429:
			if resp.Header.Get("X-RateLimit-Reset") != "1500" || resp.Header.Get("X-RateLimit-Remaining") != "0" || failCode(t, body) != "rate_limit_exceeded" {
				t.Fatalf("injected 429: %v %s", resp.Header, body)
			}
		case 500, 503:
			if resp.Header.Get("X-RateLimit-Limit") == "" {
				t.Fatalf("5xx without rate-limit headers")
			}
			failCode(t, body)
		}
	}
	want := []int{200, 500, 429, 503, 200, 429, 200, 500, 429, 503, 200, 429}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	st := s.Stats()
	if st.InjectedRateLimits != 4 || st.RateLimited != 4 || st.InjectedServerErrors != 4 || st.TokensIssued != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFileFaults(t *testing.T) {
	s, _ := start(t, Options{
		RecordsPerFile:     20,
		ExpiredURLEvery:    8, // file 7
		CorruptGzipEvery:   7, // file 6
		TruncatedGzipEvery: 6, // file 5
		BadJSONLineEvery:   5, // file 4
		DuplicateURLEvery:  4, // files 3, 7
		LongLineEvery:      3, // files 2, 5
		LongLineBytes:      3 << 20,
	})
	tok := token(t, s)
	l := list(t, s, tok, q("type", "receipt", "dateRangeStartsAt", today, "dateRangeEndsAt", today))
	if len(l.Value) != 10 {
		t.Fatalf("%d items, want 10 (8 files + 2 duplicates)", len(l.Value))
	}
	if l.Value[3].URL != l.Value[4].URL || l.Value[8].URL != l.Value[9].URL {
		t.Fatalf("duplicates not adjacent")
	}
	urls := []string{}
	for i, v := range l.Value {
		if i == 4 || i == 9 {
			continue
		}
		urls = append(urls, v.URL)
	}
	// Expired URL (file 7).
	resp, err := http.Get(urls[7])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>AccessDenied</Code>") || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired URL: %d %s", resp.StatusCode, b)
	}
	for i := 0; i < 7; i++ {
		f := s.file("receipt", i)
		lines, gzErr := download(t, urls[i])
		switch {
		case f.Faults.CorruptGzip || f.Faults.TruncatedGzip:
			if gzErr == nil || len(lines) != 10 || f.Faults.ValidRecords != 10 {
				t.Fatalf("file %d: want 10 lines then an error, got %d lines, %v", i, len(lines), gzErr)
			}
		default:
			if gzErr != nil || len(lines) != 20 {
				t.Fatalf("file %d: %d lines, %v", i, len(lines), gzErr)
			}
		}
		for n, line := range lines {
			if line != string(s.Event("receipt", i, n)) {
				t.Fatalf("file %d line %d differs from Event", i, n)
			}
			valid := json.Valid([]byte(line))
			if valid == (n == f.Faults.BadJSONLine) {
				t.Fatalf("file %d line %d: valid=%v, bad line is %d", i, n, valid, f.Faults.BadJSONLine)
			}
			long := len(line) > 3<<20
			if long != (n == f.Faults.LongLine) {
				t.Fatalf("file %d line %d: length %d, long line is %d", i, n, len(line), f.Faults.LongLine)
			}
		}
	}
	if got := s.file("receipt", 4).Faults.BadJSONLine; got != 10 {
		t.Fatalf("bad line index %d", got)
	}
	st := s.Stats()
	want := Stats{ExpiredURLs: 1, DuplicateURLs: 2, CorruptFiles: 1, TruncatedFiles: 1, BadJSONLines: 1,
		LongLines: 1 /* file 2; file 5's long line is past its cut */, FilesServed: 7, FilesCompleted: 5, StorageDenied: 1}
	if st.ExpiredURLs != want.ExpiredURLs || st.DuplicateURLs != want.DuplicateURLs || st.CorruptFiles != want.CorruptFiles ||
		st.TruncatedFiles != want.TruncatedFiles || st.BadJSONLines != want.BadJSONLines || st.LongLines != want.LongLines ||
		st.FilesServed != want.FilesServed || st.FilesCompleted != want.FilesCompleted || st.StorageDenied != want.StorageDenied {
		t.Fatalf("stats %+v", st)
	}
}

func TestEventsWellFormed(t *testing.T) {
	s, err := New(Options{Now: func() time.Time { return t0 }, RecordsPerFile: 50, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	detect := map[string]bool{}
	for _, typ := range AllTypes() {
		for file := 0; file < 12; file++ {
			f := s.file(typ, file*17)
			var last int64
			for n := 0; n < f.Records; n++ {
				line := s.Event(typ, f.Index, n)
				for _, c := range line {
					if c < 0x20 || c == 0x7f {
						t.Fatalf("%s %d/%d: raw control byte %#x", typ, f.Index, n, c)
					}
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, line); err != nil || !bytes.Equal(compact.Bytes(), line) {
					t.Fatalf("%s %d/%d: not compact JSON (%v): %s", typ, f.Index, n, err, line)
				}
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatal(err)
				}
				id := EventID(typ, f.Index, n)
				if m["aggregateId"] != id || !strings.HasPrefix(m["processingId"].(string), id+"_") || seen[id] {
					t.Fatalf("%s: bad or duplicate id %v", line, m["aggregateId"])
				}
				seen[id] = true
				if m["type"] != typ && m["eventType"] != typ {
					t.Fatalf("%s: no type", line)
				}
				_, hasSub := m["subtype"]
				_, hasSubType := m["subType"]
				if hasSub == hasSubType {
					t.Fatalf("%s: want exactly one of subtype/subType", line)
				}
				ts := int64(m["timestamp"].(float64))
				if ts < f.WindowStart.UnixMilli() || ts >= f.Published.UnixMilli() || ts < last {
					t.Fatalf("%s %d/%d: timestamp %d outside [%d,%d) or < %d", typ, f.Index, n, ts,
						f.WindowStart.UnixMilli(), f.Published.UnixMilli(), last)
				}
				last = ts
				if m["eventType"] != nil {
					detect["eventType"] = true
				}
				if m["_offset"] != nil {
					detect["_offset"] = true
				}
				switch {
				case typ == "av" && m["virusFound"] != nil:
					detect["av"] = true
				case typ == "url protect" && m["action"] == "Block" && m["urlCategory"] != nil:
					detect["url"] = true
				case typ == "attachment protect" && len(m["sha256"].(string)) == 64:
					detect["attachment"] = true
				case typ == "impersonation protect" && m["taggedMalicious"] == "true":
					detect["impersonation"] = true
				case typ == "receipt" && m["action"] == "Rej" && m["rejectionType"] != nil:
					detect["receipt"] = true
				case typ == "process" && m["action"] == "Hld" && m["holdReason"] != nil:
					detect["process"] = true
				}
				if typ == "receipt" {
					if sp, ok := m["spamProcessingDetail"].(string); ok && json.Valid([]byte(sp)) {
						detect["spamProcessingDetail"] = true
					}
				}
				if sub, ok := m["subject"].(string); ok {
					if strings.Contains(sub, "日本") {
						detect["unicode"] = true
					}
					if strings.Contains(sub, `\`) && strings.Contains(sub, `"`) {
						detect["escapes"] = true
					}
					if len(sub) > 500 {
						detect["long subject"] = true
					}
				}
			}
		}
	}
	for _, k := range []string{"eventType", "_offset", "av", "url", "attachment", "impersonation", "receipt", "process", "spamProcessingDetail", "unicode", "long subject"} {
		if !detect[k] {
			t.Errorf("no event with %s", k)
		}
	}
	// Deterministic: same seed -> same bytes; other seed -> other bytes.
	s2, _ := New(Options{Now: func() time.Time { return t0 }, RecordsPerFile: 50, Seed: 42})
	s3, _ := New(Options{Now: func() time.Time { return t0 }, RecordsPerFile: 50, Seed: 43})
	if !bytes.Equal(s.Event("receipt", 3, 7), s2.Event("receipt", 3, 7)) || bytes.Equal(s.Event("receipt", 3, 7), s3.Event("receipt", 3, 7)) {
		t.Fatal("events are not a pure function of the seed")
	}
	if s.Event("receipt", 0, 50) != nil || s.Event("nope", 0, 0) != nil {
		t.Fatal("Event out of range must be nil")
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", `q"b\s`, "a\x00b\x1fc\x7f", "Grüße 日本 😀", "bad\xffutf8", "\u2028"} {
		out := appendJSONString(nil, in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", in, out, err)
		}
		want := strings.ToValidUTF8(in, "\uFFFD")
		if back != want {
			t.Fatalf("%q -> %s -> %q", in, out, back)
		}
	}
}

func TestBigFileBoundedMemory(t *testing.T) {
	// 400k records (~60 MB of NDJSON) keep the test at a few seconds on a
	// shared 2-core machine; BenchmarkBigFileHTTP streams 2,000,000.
	records := 400_000
	if testing.Short() || raceEnabled {
		records = 20_000
	}
	s, _ := start(t, Options{RecordsPerFile: records, Types: []string{"delivery"}})
	l := list(t, s, token(t, s), q("type", "delivery", "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "1"))
	if l.Value[0].Size <= 0 {
		t.Fatalf("size %d", l.Value[0].Size)
	}
	resp, err := http.Get(l.Value[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	zr, err := gzipReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	lines, maxHeap, err := countLines(zr)
	if err != nil {
		t.Fatal(err)
	}
	if lines != records {
		t.Fatalf("%d lines, want %d", lines, records)
	}
	if maxHeap > 64<<20 {
		t.Fatalf("heap in use reached %d bytes while streaming", maxHeap)
	}
	t.Logf("%d records, max HeapInuse %d KiB", lines, maxHeap>>10)
}

func TestListenAndServe(t *testing.T) {
	s, err := New(Options{LiveInterval: -1, History: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	resp, body := tokenReq(t, "http://"+ln.Addr().String(), DefaultClientID, DefaultClientSecret, "client_credentials")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if err := s.ListenAndServe(context.Background(), "256.0.0.1:1"); err == nil {
		t.Fatal("want a listen error")
	}
}

func TestOptionsValidation(t *testing.T) {
	_, err := New(Options{RecordsPerFile: -1, Types: []string{"av", "virus", "av"}, BaseURL: "ftp://x", RateLimitEvery: -2})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"RecordsPerFile", `"virus"`, "duplicate", "BaseURL", "RateLimitEvery"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error misses %s: %v", want, err)
		}
	}
	s, err := New(Options{Types: []string{"av"}, BaseURL: "http://sim:8080/", LiveInterval: -1, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if s.Published("spam", t0) != 0 || s.Published("av", t0) != 192 {
		t.Fatalf("published: spam %d av %d", s.Published("spam", t0), s.Published("av", t0))
	}
	if _, err := s.File("av", 192); err == nil {
		t.Fatal("file beyond history without live publication must not exist")
	}
	if it := s.presign(s.opts.BaseURL, s.file("av", 0), t0); !strings.HasPrefix(it.URL, "http://sim:8080/storage/cg/av/0.ndjson.gz?") {
		t.Fatalf("url %s", it.URL)
	}
}

func TestRegisterFlags(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	o.RegisterFlags(fs)
	err := fs.Parse([]string{"-records-per-file", "5", "-types", "av, url protect", "-live-interval", "-1s",
		"-rate-limit-every", "7", "-client-secret", "s3", "-v1-app-id", "app"})
	if err != nil {
		t.Fatal(err)
	}
	if o.RecordsPerFile != 5 || len(o.Types) != 2 || o.Types[1] != "url protect" || o.LiveInterval != -time.Second ||
		o.RateLimitEvery != 7 || o.ClientSecret != "s3" || o.V1.AppID != "app" {
		t.Fatalf("%+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentClients pages through every type in parallel and checks that
// the union of downloaded events is exactly the published set, once each.
func TestConcurrentClients(t *testing.T) {
	s, _ := start(t, Options{RecordsPerFile: 5})
	type result struct {
		typ string
		ids []string
		err string
	}
	results := make(chan result, len(allTypes))
	for _, typ := range AllTypes() {
		go func() {
			res := result{typ: typ}
			defer func() { results <- res }()
			form := url.Values{"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}, "grant_type": {"client_credentials"}}
			resp, err := http.PostForm(s.URL()+"/oauth/token", form)
			if err != nil {
				res.err = err.Error()
				return
			}
			var tr tokenResponse
			err = json.NewDecoder(resp.Body).Decode(&tr)
			resp.Body.Close()
			if err != nil {
				res.err = err.Error()
				return
			}
			page := ""
			for {
				qq := q("type", typ, "dateRangeStartsAt", today, "dateRangeEndsAt", today, "pageSize", "3", "nextPage", page)
				req, _ := http.NewRequest(http.MethodGet, s.URL()+"/siem/v1/batch/events/cg?"+qq.Encode(), nil)
				req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					res.err = err.Error()
					return
				}
				var l listing
				err = json.NewDecoder(resp.Body).Decode(&l)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					res.err = fmt.Sprintf("list: %d %v", resp.StatusCode, err)
					return
				}
				for _, v := range l.Value {
					resp, err := http.Get(v.URL)
					if err != nil {
						res.err = err.Error()
						return
					}
					zr, err := gzip.NewReader(resp.Body)
					if err != nil {
						resp.Body.Close()
						res.err = err.Error()
						return
					}
					sc := bufio.NewScanner(zr)
					for sc.Scan() {
						var m struct{ AggregateID string }
						if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
							res.err = err.Error()
						}
						res.ids = append(res.ids, m.AggregateID)
					}
					resp.Body.Close()
					if sc.Err() != nil {
						res.err = sc.Err().Error()
						return
					}
				}
				page = *l.NextPage
				if *l.IsCaughtUp {
					return
				}
			}
		}()
	}
	for range allTypes {
		res := <-results
		if res.err != "" {
			t.Fatalf("%s: %s", res.typ, res.err)
		}
		want := map[string]bool{}
		for f := range s.Published(res.typ, t0) {
			for n := range 5 {
				want[EventID(res.typ, f, n)] = true
			}
		}
		if len(res.ids) != len(want) {
			t.Fatalf("%s: %d events, want %d", res.typ, len(res.ids), len(want))
		}
		for _, id := range res.ids {
			if !want[id] {
				t.Fatalf("%s: unexpected or duplicate event %s", res.typ, id)
			}
			delete(want, id)
		}
	}
	if st := s.Stats(); st.TokensIssued != 10 || st.FilesCompleted != 80 {
		t.Fatalf("stats: tokens %d files %d", st.TokensIssued, st.FilesCompleted)
	}
}

func TestRecordsAndDeliverable(t *testing.T) {
	s, err := New(Options{Now: func() time.Time { return t0 }, History: time.Hour, LiveInterval: -1, RecordsPerFile: 4,
		ExpiredURLEvery: 4, CorruptGzipEvery: 3, BadJSONLineEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	total, deliverable := 0, 0
	for f, n := range s.Records("spam", t0) {
		total++
		if f.Deliverable(n) {
			deliverable++
		}
	}
	// Files 0..3: 1 bad line (n=2) -> 3; 2 corrupt (n<2) -> 2; 3 expired -> 0.
	if total != 16 || s.Expected("spam", t0) != 16 || deliverable != 4+3+2+0 {
		t.Fatalf("total %d deliverable %d", total, deliverable)
	}
	s.count("x", 2)
	if s.Stats().Named["x"] != 2 {
		t.Fatal("named counter")
	}
}
