package api1

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// elasticPrefixes names the member prefix of each line of the elastic sample.
var elasticPrefixes = []string{
	"receipt_", "process_", "process_", "process_", "delivery_", "av_",
	"spameventthread_", "iep_", "impersonation_", "ttp_url_", "ttp_ap_",
}

func TestJSONSamplesRoundTrip(t *testing.T) {
	demisto := mimecasttest.ReadFile(t, mimecasttest.V1JSONDemisto)
	lines := mimecasttest.Lines(t, mimecasttest.V1JSONElastic)
	if len(lines) != len(elasticPrefixes) {
		t.Fatalf("elastic sample has %d lines, want %d", len(lines), len(elasticPrefixes))
	}
	// Group the elastic lines into one member per prefix, as Mimecast does.
	byPrefix := map[string][][]byte{}
	var order []string
	for i, l := range lines {
		p := elasticPrefixes[i]
		if _, ok := byPrefix[p]; !ok {
			order = append(order, p)
		}
		byPrefix[p] = append(byPrefix[p], l)
	}
	members := []zipMember{{name: "receipt_20220523162044000.json", data: demisto}}
	// want: expected events in member name order.
	type wantRec struct {
		typ   string
		event []byte
	}
	memberEvents := map[string][]wantRec{}
	var dem struct{ Data []json.RawMessage }
	if err := json.Unmarshal(demisto, &dem); err != nil {
		t.Fatal(err)
	}
	for _, ev := range dem.Data {
		memberEvents["receipt_20220523162044000.json"] = append(memberEvents["receipt_20220523162044000.json"], wantRec{"receipt", ev})
	}
	for _, p := range order {
		name := p + "20211129153015541.json"
		doc := []byte(`{"type":"MTA","data":[` + string(bytes.Join(byPrefix[p], []byte(",\n"))) + "]}")
		members = append(members, zipMember{name: name, data: doc})
		typ, known := TypeFromMemberName(name)
		if !known {
			t.Fatalf("prefix %s unknown", p)
		}
		for _, l := range byPrefix[p] {
			memberEvents[name] = append(memberEvents[name], wantRec{typ, l})
		}
	}
	var names []string
	for _, m := range members {
		names = append(names, m.name)
	}
	sortStrings(names)
	var want []wantRec
	for _, n := range names {
		want = append(want, memberEvents[n]...)
	}
	zipped := makeZip(t, members...)

	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA_20220523.zip", zipped, "token-2")
	})
	got, b := fetchAll(t, e, nil)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Type != want[i].typ {
			t.Errorf("record %d type %q, want %q", i, got[i].Type, want[i].typ)
		}
		if !reflect.DeepEqual(decodeMap(t, []byte(got[i].JSON)), decodeMap(t, want[i].event)) {
			t.Errorf("record %d differs:\n got %s\nwant %s", i, got[i].JSON, want[i].event)
		}
		if got[i].Raw != "" {
			t.Errorf("record %d has Raw for a JSON member", i)
		}
		if strings.ContainsAny(got[i].JSON, "\n\r") || !json.Valid([]byte(got[i].JSON)) {
			t.Errorf("record %d JSON not compact: %q", i, got[i].JSON)
		}
		if got[i].Time.IsZero() {
			t.Errorf("record %d has no time", i)
		}
	}
	// The demisto events carry -0400: 12:20:44-0400 is 16:20:44Z.
	found := false
	for _, r := range got {
		if strings.Contains(r.JSON, `"aCode":"l1b4x0uvOs2sRFzGsHoYzQ"`) {
			found = true
			if w := time.Date(2022, 5, 23, 16, 20, 44, 0, time.UTC); !r.Time.Equal(w) || r.Time.Location() != time.UTC {
				t.Errorf("time %v, want %v", r.Time, w)
			}
		}
	}
	if !found {
		t.Error("demisto event not found")
	}
	if c, _ := DecodeCursor(b.Cursor()); c != "token-2" {
		t.Errorf("cursor token %q, want token-2", c)
	}
	if b.CaughtUp() {
		t.Error("a file batch must not be caught up")
	}
	reqs := e.fs.reqs()
	if len(reqs) != 1 || reqs[0].Token != nil || reqs[0].Type != "MTA" || !reqs[0].Compress || reqs[0].FileFormat != "json" {
		t.Errorf("request = %+v, want MTA, compress, json, no token", reqs)
	}
	if v := value(t, e.m.FilesFetched.WithLabelValues(StreamName)); v != 1 {
		t.Errorf("files fetched = %v", v)
	}
	if v := value(t, e.m.APIRequests.WithLabelValues(metrics.EndpointSIEMLogs, "200")); v != 1 {
		t.Errorf("api requests{get_siem_logs,200} = %v", v)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestKeyValueMembers(t *testing.T) {
	sample := mimecasttest.KeyValueLine(t)
	piped := []byte(`datetime=2017-05-26T16:47:41-0400|aCode=x|Subject=\a | b\|Act=Acc`)
	bad := []byte(`not a key value line`)
	member := bytes.Join([][]byte{sample, piped, {}, bad}, []byte("\r\n"))
	zipped := makeZip(t,
		zipMember{name: "receipt_20170526164741000.log", data: member},
		zipMember{name: "delivery_20170526164741000.log", data: append(append([]byte{}, sample...), '\n')},
	)
	e := newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue }, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA.zip", zipped, "next")
	})
	got, _ := fetchAll(t, e, EncodeCursor("start"))
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3: %+v", len(got), got)
	}
	if got[0].Type != "delivery" || got[1].Type != "receipt" || got[2].Type != "receipt" {
		t.Errorf("types %q %q %q", got[0].Type, got[1].Type, got[2].Type)
	}
	if got[0].Raw != string(sample) || got[1].Raw != string(sample) || got[2].Raw != string(piped) {
		t.Errorf("Raw not the original lines: %q", []string{got[0].Raw, got[1].Raw, got[2].Raw})
	}
	m := decodeMap(t, []byte(got[1].JSON))
	for _, pair := range strings.Split(strings.Replace(string(sample), `|SpamProcessingDetail=`, "\x00", 1), "|") {
		if strings.Contains(pair, "\x00") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		v = strings.Trim(v, `\`)
		if m[k] != v {
			t.Errorf("key %q = %v, want %q", k, m[k], v)
		}
	}
	if m["SpamProcessingDetail"] != `{"spf":{"info":"SPF_FAIL","allow":true},"dkim":{"info":"DKIM_UNKNOWN","allow":true}}` {
		t.Errorf("SpamProcessingDetail = %v", m["SpamProcessingDetail"])
	}
	if len(m) != 17 {
		t.Errorf("%d keys, want 17", len(m))
	}
	if w := time.Date(2017, 5, 26, 15, 47, 41, 0, time.UTC); !got[1].Time.Equal(w) {
		t.Errorf("time %v, want %v", got[1].Time, w)
	}
	if w := time.Date(2017, 5, 26, 20, 47, 41, 0, time.UTC); !got[2].Time.Equal(w) {
		t.Errorf("-0400 time %v, want %v", got[2].Time, w)
	}
	if s := decodeMap(t, []byte(got[2].JSON))["Subject"]; s != "a | b" {
		t.Errorf("piped subject = %v", s)
	}
	if v := value(t, e.m.RecordsSkipped.WithLabelValues(StreamName, metrics.ReasonBadLine)); v != 1 {
		t.Errorf("bad lines = %v, want 1", v)
	}
	reqs := e.fs.reqs()
	if len(reqs) != 1 || reqs[0].Token == nil || *reqs[0].Token != "start" || reqs[0].FileFormat != "key_value" {
		t.Errorf("request = %+v", reqs)
	}
}

func TestCorruptZipMovesOn(t *testing.T) {
	good := makeZip(t, zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[{"a":1}]}`)})
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA.zip", good[:len(good)/2], "after-corrupt")
	})
	got, b := fetchAll(t, e, nil)
	if len(got) != 0 {
		t.Errorf("got %d records from a corrupt zip", len(got))
	}
	if tok, _ := DecodeCursor(b.Cursor()); tok != "after-corrupt" {
		t.Errorf("cursor %q: must move past the corrupt file", tok)
	}
	if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, metrics.ReasonCorruptArchive)); v != 1 {
		t.Errorf("corrupt_archive = %v, want 1", v)
	}
}

func TestDamagedMembersKeepGoodRecords(t *testing.T) {
	badCRC := makeZip(t, zipMember{name: "av_1.json", data: []byte(`{"type":"MTA","data":[{"crc":1}]}`), store: true})
	// Flip a byte inside the stored data: the CRC check fails at the end.
	i := bytes.Index(badCRC, []byte(`"crc":1`))
	badCRC[i+6] = '2'
	zipped := makeZip(t,
		zipMember{name: "delivery_1.json", data: []byte(`{"type":"MTA","data":[{"d":1},{"d":2}]}`)},
		zipMember{name: "process_1.json", data: []byte(`{ "type" : "MTA", "data" : `)},
		zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[{"r":1},{"r":2},{"r":`)},
		zipMember{name: "spameventthread_1.json", data: []byte(`{"type":"MTA","data":[{"s":1},42,{"s":2}]}`)},
	)
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		if n == 1 {
			writeFile(w, "MTA.zip", zipped, "t2")
			return
		}
		writeFile(w, "MTA2.zip", badCRC, "t3")
	})
	got, b := fetchAll(t, e, nil)
	var keys []string
	for _, r := range got {
		keys = append(keys, r.JSON)
	}
	want := []string{`{"d":1}`, `{"d":2}`, `{"r":1}`, `{"r":2}`, `{"s":1}`, `{"s":2}`}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("records %q, want %q", keys, want)
	}
	if tok, _ := DecodeCursor(b.Cursor()); tok != "t2" {
		t.Errorf("cursor %q", tok)
	}
	if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, metrics.ReasonMalformedFile)); v != 2 {
		t.Errorf("malformed_file = %v, want 2", v)
	}
	if v := value(t, e.m.RecordsSkipped.WithLabelValues(StreamName, metrics.ReasonInvalidJSON)); v != 1 {
		t.Errorf("invalid_json = %v, want 1", v)
	}
	got, b = fetchAll(t, e, b.Cursor())
	_ = got // the record may or may not be delivered before the CRC check fails
	if tok, _ := DecodeCursor(b.Cursor()); tok != "t3" {
		t.Errorf("cursor %q", tok)
	}
	if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, metrics.ReasonCorruptArchive)); v != 1 {
		t.Errorf("corrupt_archive = %v, want 1 (bad CRC)", v)
	}
}

func TestNoMoreLogsIsCaughtUp(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeNoMoreLogs(w) })
	cur := EncodeCursor("tok-7")
	got, b := fetchAll(t, e, cur)
	if len(got) != 0 || !b.CaughtUp() || !bytes.Equal(b.Cursor(), cur) {
		t.Errorf("records %d, caught up %v, cursor %s", len(got), b.CaughtUp(), b.Cursor())
	}
	if _, ok := b.(io.Closer); ok {
		t.Log("empty batch is a Closer")
	}
}

func TestFailCodes(t *testing.T) {
	cases := []struct {
		code     string
		auth     bool
		contains string
	}{
		{CodeBindingExpired, true, "access key has expired"},
		{CodeDeveloperKey, true, "MIMECAST_APP_ID and MIMECAST_APP_KEY"},
		{CodeIncorrectRegion, true, "MIMECAST_BASE_URL"},
		{CodeValidationBlank, false, "refused the request as invalid"},
		{"err_something_new", false, "err_something_new"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeFail(w, c.code, "the message") })
			_, err := e.src.Fetch(t.Context(), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, mimecast.ErrAuth) != c.auth {
				t.Errorf("errors.Is(ErrAuth) = %v, want %v: %v", !c.auth, c.auth, err)
			}
			if !strings.Contains(err.Error(), c.contains) || !strings.Contains(err.Error(), "the message") || !strings.Contains(err.Error(), c.code) {
				t.Errorf("error %q lacks %q, the code or the message", err, c.contains)
			}
			if source.IsPermanent(err) {
				t.Errorf("%s must not be permanent", c.code)
			}
			var apiErr *mimecast.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != c.code {
				t.Errorf("no APIError with the code: %v", err)
			}
			for _, secret := range []string{testSecretB64, testAppKey, testAccessKey} {
				if strings.Contains(err.Error(), secret) || strings.Contains(e.logs.String(), secret) {
					t.Errorf("a secret leaked into the error or the logs")
				}
			}
		})
	}
}

func TestHTTP401IsAuth(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"meta":{"status":401},"data":[],"fail":[{"errors":[{"code":"err_xdk_authentication","message":"nope"}]}]}`)
	})
	_, err := e.src.Fetch(t.Context(), nil)
	if !errors.Is(err, mimecast.ErrAuth) || !strings.Contains(err.Error(), "clock") {
		t.Errorf("err = %v", err)
	}
}

func TestInvalidTokenStops(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFail(w, CodeInvalidToken, "The SIEM token is invalid")
	})
	_, err := e.src.Fetch(t.Context(), EncodeCursor("stale"))
	if !source.IsPermanent(err) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want permanent ErrInvalidToken", err)
	}
	if !strings.Contains(err.Error(), "MIMECAST_RESTART_ON_INVALID_TOKEN") {
		t.Errorf("error does not name the option: %v", err)
	}
	if v := value(t, e.m.StreamErrors.WithLabelValues(StreamName, metrics.ReasonInvalidToken)); v != 1 {
		t.Errorf("stream errors{invalid_token} = %v", v)
	}
	if n := len(e.fs.reqs()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestInvalidTokenRestarts(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[{"x":"y"}]}`)})
	e := newEnv(t, func(c *Config) { c.RestartOnInvalidToken = true }, func(w http.ResponseWriter, req siemRequest, n int) {
		if req.Token != nil {
			writeFail(w, CodeInvalidToken, "The SIEM token is invalid")
			return
		}
		writeFile(w, "MTA.zip", zipped, "fresh")
	})
	got, b := fetchAll(t, e, EncodeCursor("stale"))
	if len(got) != 1 || got[0].JSON != `{"x":"y"}` {
		t.Errorf("records %+v", got)
	}
	if tok, _ := DecodeCursor(b.Cursor()); tok != "fresh" {
		t.Errorf("cursor %q", tok)
	}
	reqs := e.fs.reqs()
	if len(reqs) != 2 || reqs[0].Token == nil || *reqs[0].Token != "stale" || reqs[1].Token != nil {
		t.Errorf("requests %+v", reqs)
	}
	if v := value(t, e.m.StreamErrors.WithLabelValues(StreamName, metrics.ReasonInvalidToken)); v != 1 {
		t.Errorf("stream errors{invalid_token} = %v", v)
	}
	if !strings.Contains(e.logs.String(), "restarting from the oldest") {
		t.Error("no warning logged")
	}
}

func TestRateLimitedThenServed(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "ttp_url_1.json", data: []byte(`{"type":"MTA","data":[{"u":1}]}`)})
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		if n == 1 {
			w.Header().Set("X-RateLimit-Reset", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		writeFile(w, "MTA.zip", zipped, "t")
	})
	got, _ := fetchAll(t, e, nil)
	if len(got) != 1 || got[0].Type != "url protect" {
		t.Errorf("records %+v", got)
	}
	if v := value(t, e.m.APIRateLimited.WithLabelValues(metrics.EndpointSIEMLogs)); v != 1 {
		t.Errorf("rate limited = %v", v)
	}
	reqs := e.fs.reqs()
	if len(reqs) != 2 || reqs[0].Header.Get("x-mc-req-id") == reqs[1].Header.Get("x-mc-req-id") {
		t.Errorf("the retry must carry a new request id: %d requests", len(reqs))
	}
}

func TestFileWithoutTokenIsError(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[]}`)})
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "") })
	_, err := e.src.Fetch(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "mc-siem-token") {
		t.Fatalf("err = %v", err)
	}
	if f := tmpFiles(t, e.cfg.TempDir); len(f) != 0 {
		t.Errorf("temp files left: %v", f)
	}
}

func TestCloseRemovesSpool(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[{"a":1}]}`)})
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "n") })
	b, err := e.src.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := tmpFiles(t, e.cfg.TempDir); len(f) != 1 {
		t.Fatalf("spool files: %v", f)
	}
	// Records can be read twice (the file stays until Close).
	for range 2 {
		n := 0
		if err := b.Records(t.Context(), func(*source.Record) error { n++; return nil }); err != nil || n != 1 {
			t.Fatalf("Records: %d, %v", n, err)
		}
	}
	c := b.(io.Closer)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if f := tmpFiles(t, e.cfg.TempDir); len(f) != 0 {
		t.Errorf("spool not removed: %v", f)
	}
}

func TestCallbackErrorReturnedUnchanged(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[{"a":1},{"a":2}]}`)})
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "n") })
	b, err := e.src.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.(io.Closer).Close()
	stop := errors.New("receiver down")
	calls := 0
	err = b.Records(t.Context(), func(*source.Record) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("err = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestUnknownMemberPrefixForwarded(t *testing.T) {
	zipped := makeZip(t,
		zipMember{name: "newtype_20240101120000000.json", data: []byte(`{"type":"MTA","data":[{"a":1},{"a":2}]}`)},
		zipMember{name: "receipt_20240101120000000.json", data: []byte(`{"type":"MTA","data":[{"r":1}]}`)},
	)
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "n") })
	got, _ := fetchAll(t, e, nil)
	if len(got) != 3 || got[0].Type != "newtype" || got[1].Type != "newtype" || got[2].Type != "receipt" {
		t.Errorf("records %+v", got)
	}
	if v := value(t, e.m.UnknownType.WithLabelValues(StreamName)); v != 2 {
		t.Errorf("unknown type records = %v, want 2", v)
	}
	if !strings.Contains(e.logs.String(), "unknown type prefix") {
		t.Error("not logged")
	}
}

func TestUncompressedAnswer(t *testing.T) {
	doc := []byte(`{"type":"MTA","data":[{"a":"b"}]}`)
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "jrnl_20240101.json", doc, "n") })
	got, _ := fetchAll(t, e, nil)
	if len(got) != 1 || got[0].Type != "journal" || got[0].JSON != `{"a":"b"}` {
		t.Errorf("records %+v", got)
	}
}

func TestBadCursorIsPermanent(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) { writeNoMoreLogs(w) })
	for _, c := range []string{`not json`, `{"v":2,"token":"x"}`} {
		if _, err := e.src.Fetch(t.Context(), []byte(c)); !source.IsPermanent(err) {
			t.Errorf("cursor %s: err = %v, want permanent", c, err)
		}
	}
	if n := len(e.fs.reqs()); n != 0 {
		t.Errorf("%d requests sent with a bad cursor", n)
	}
}

func TestStartTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "get_mta_siem_logs_checkpoint")
	if err := os.WriteFile(path, []byte("eyJ0b2tlbiI6ImFiYyJ9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.StartTokenFile = path }, func(w http.ResponseWriter, req siemRequest, n int) { writeNoMoreLogs(w) })
	_, b := fetchAll(t, e, nil)
	reqs := e.fs.reqs()
	if len(reqs) != 1 || reqs[0].Token == nil || *reqs[0].Token != "eyJ0b2tlbiI6ImFiYyJ9" {
		t.Fatalf("requests %+v", reqs)
	}
	if tok, _ := DecodeCursor(b.Cursor()); tok != "eyJ0b2tlbiI6ImFiYyJ9" {
		t.Errorf("caught-up cursor %q must keep the start token", tok)
	}
	// A stored cursor wins over the start token.
	fetchAll(t, e, EncodeCursor("stored"))
	if r := e.fs.reqs(); *r[1].Token != "stored" {
		t.Errorf("token %q, want stored", *r[1].Token)
	}
}

func TestTypeFromMemberName(t *testing.T) {
	cases := map[string]struct {
		typ   string
		known bool
	}{
		"receipt_20211018093329655.json": {"receipt", true},
		"TTP_URL_20211129153015541.json": {"url protect", true},
		"ttp_ap_1.log":                   {"attachment protect", true},
		"dir/jrnl_1.json":                {"journal", true},
		"iep_1.json":                     {"internal email protect", true},
		"impersonation_1.json":           {"impersonation protect", true},
		"spameventthread_1.json":         {"spam", true},
		"av_1.json":                      {"av", true},
		"delivery_1.json":                {"delivery", true},
		"process_1.json":                 {"process", true},
		"newthing_20240101_1200.json":    {"newthing", false},
		"Weird Name!.json":               {"weirdname", false},
		"12345.json":                     {"12345", false},
		"...":                            {"unknown", false},
	}
	for name, w := range cases {
		typ, known := TypeFromMemberName(name)
		if typ != w.typ || known != w.known {
			t.Errorf("%q → %q %v, want %q %v", name, typ, known, w.typ, w.known)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	if s := string(EncodeCursor("a\"b")); s != `{"v":1,"token":"a\"b"}` {
		t.Errorf("cursor %s", s)
	}
	if s := string(EncodeCursor("")); s != `{"v":1}` {
		t.Errorf("empty cursor %s", s)
	}
	if tok, err := DecodeCursor(EncodeCursor("x")); tok != "x" || err != nil {
		t.Errorf("%q %v", tok, err)
	}
}

// TestCursorRefusesDamage: every field of a stored cursor is checked; a
// damaged one stops the stream (permanent) before any request.
func TestCursorRefusesDamage(t *testing.T) {
	e := newEnv(t, nil, func(w http.ResponseWriter, _ siemRequest, _ int) { writeNoMoreLogs(w) })
	for _, bad := range []string{`garbage`, `{"v":2,"token":"t"}`, `{"token":"t"}`, `{"v":1,"token":5}`, `{"v":1,"token":"a\u0000b"}`,
		`{"v":1,"token":"a\nb"}`, `{"v":1,"token":"t","day":"yesterday"}`, `{"v":1,"token":"t"} x`, `[]`,
		`{"v":1,"token":"` + strings.Repeat("t", maxTokenBytes+1) + `"}`} {
		if _, err := DecodeCursor([]byte(bad)); err == nil {
			t.Errorf("%.60s: DecodeCursor accepted it", bad)
		}
		if err := e.src.CheckCursor([]byte(bad)); err == nil {
			t.Errorf("%.60s: CheckCursor accepted it", bad)
		}
		if _, err := e.src.Fetch(t.Context(), []byte(bad)); !source.IsPermanent(err) {
			t.Errorf("%.60s: Fetch = %v, want a permanent error", bad, err)
		}
	}
	if n := len(e.fs.reqs()); n != 0 {
		t.Errorf("%d requests made with damaged cursors", n)
	}
	for _, good := range []string{`{"v":1}`, `{"v":1,"token":"eyJ0b2tlbiI6ImFiYyJ9"}`, ` {"v":1,"token":"a\"b"}` + "\n"} {
		if err := e.src.CheckCursor([]byte(good)); err != nil {
			t.Errorf("%s: CheckCursor = %v", good, err)
		}
	}
}
