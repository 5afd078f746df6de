package syslogfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

var fixedNow = time.Date(2026, 11, 28, 16, 10, 0, 123_456_789, time.UTC)

func testConfig() Config {
	c := DefaultConfig()
	c.Hostname = "fwd01"
	c.Version = "1.2.3"
	c.Now = func() time.Time { return fixedNow }
	return c
}

func mustNew(t testing.TB, c Config) *Formatter {
	t.Helper()
	f, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func format(t testing.TB, f *Formatter, r *source.Record) (string, bool) {
	t.Helper()
	out, shrunk, err := f.Append(nil, r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return string(out), shrunk
}

// parse parses a message with go-syslog's strict RFC 5424 parser.
func parse(t testing.TB, line string) *rfc5424.SyslogMessage {
	t.Helper()
	m, err := rfc5424.NewParser().Parse([]byte(line))
	if err != nil {
		t.Fatalf("RFC5424 parse: %v\nline: %.300q", err, line)
	}
	return m.(*rfc5424.SyslogMessage)
}

// mimecastObject decodes MSG and returns its "mimecast" object.
func mimecastObject(t testing.TB, msg string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(msg))
	d.UseNumber()
	var top map[string]any
	if err := d.Decode(&top); err != nil {
		t.Fatalf("MSG is not JSON: %v\n%.300q", err, msg)
	}
	if d.More() || len(top) != 1 {
		t.Fatalf("MSG must be exactly one object with one key: %.300q", msg)
	}
	obj, ok := top["mimecast"].(map[string]any)
	if !ok {
		t.Fatalf("MSG has no mimecast object: %.300q", msg)
	}
	return obj
}

func decodeObject(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func TestGolden(t *testing.T) {
	v2url := `{"processingId": "processingId", "aggregateId": "aggregateId", "timestamp": 1715767102752, "accountId": "ANONYMIZED", "urlCategory": "Phishing & Fraud", "action": "Block", "url": "http://example.net", "subject": "Redacted", "sourceIp": "1.2.3.4", "senderDomain": "example.com", "senderEnvelope": "janedoe@example.com", "route": "inbound", "recipients": "johndoe@corp.net", "blockReason": "malicious", "messageId": "<11111111111111111111111111111111111111@example.com>", "analysis": "{\"CredentialTheftEvidence\":[\"The website uses an unencrypted connection\"],\"CredentialTheftTags\":[\"NO_CERTIFICATE\",\"NO_IMAGES_PASSED_FILTERING\",\"REDIRECTION\",\"REMOTE_RESOURCES\"]}", "type": "url protect", "subtype": "Block", "_offset": 106007, "_partition": 137}`
	kv := `datetime=2017-05-26T16:47:41+0100|aCode=7O7I7MvGP1mj8plHRDuHEA|acc=C0A0|SpamLimit=0|IP=123.123.123.123|Dir=Internal|MsgId=<81ce15$8r2j59@mail01.example.com>|Subject=\message subject\|headerFrom=from@mimecast.com|Sender=from@mimecast.com|Rcpt=auser@mimecast.com|SpamInfo=[]|Act=Acc|TlsVer=TLSv1|Cphr=TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA|SpamProcessingDetail={"spf":{"info":"SPF_FAIL","allow":true},"dkim":{"info":"DKIM_UNKNOWN","allow":true}}|SpamScore=1`
	imp := `{"Action":"Hold","Definition":"Default Impersonation Definition","Hits":"1","TaggedMalicious":"true","acc":"C0A0","datetime":"2020-07-27T00:39:59+0100"}`

	rawCfg := testConfig()
	rawCfg.Body = BodyRaw
	rawCfg.StructuredData = false
	rawCfg.ProcID = "4242"
	userCfg := testConfig()
	userCfg.Facility = 1
	userCfg.AppName = "mc"
	userCfg.Version = `v1"]\x`

	tests := []struct {
		name string
		cfg  Config
		rec  source.Record
		want string
	}{
		{
			name: "v2 url protect blocked",
			cfg:  testConfig(),
			rec:  source.Record{Type: "url protect", Time: time.UnixMilli(1715767102752), JSON: mimecasttest.Compact(t, []byte(v2url))},
			want: `<132>1 2024-05-15T09:58:22.752Z fwd01 mimecast - url-protect [origin software="mimecast-forwarder" swVersion="1.2.3"] ` +
				`{"mimecast":{"logType":"url protect","processingId":"processingId","aggregateId":"aggregateId","timestamp":1715767102752,"accountId":"ANONYMIZED","urlCategory":"Phishing & Fraud","action":"Block","url":"http://example.net","subject":"Redacted","sourceIp":"1.2.3.4","senderDomain":"example.com","senderEnvelope":"janedoe@example.com","route":"inbound","recipients":"johndoe@corp.net","blockReason":"malicious","messageId":"<11111111111111111111111111111111111111@example.com>","analysis":"{\"CredentialTheftEvidence\":[\"The website uses an unencrypted connection\"],\"CredentialTheftTags\":[\"NO_CERTIFICATE\",\"NO_IMAGES_PASSED_FILTERING\",\"REDIRECTION\",\"REMOTE_RESOURCES\"]}","type":"url protect","subtype":"Block","_offset":106007,"_partition":137}}`,
		},
		{
			name: "empty object, zero time uses the clock",
			cfg:  testConfig(),
			rec:  source.Record{Type: "journal", JSON: []byte(`{}`)},
			want: `<134>1 2026-11-28T16:10:00.123Z fwd01 mimecast - journal [origin software="mimecast-forwarder" swVersion="1.2.3"] {"mimecast":{"logType":"journal"}}`,
		},
		{
			name: "raw key_value, no SD, procid, offset converted to UTC, .000",
			cfg:  rawCfg,
			rec:  source.Record{Type: "receipt", Time: time.Date(2017, 5, 26, 16, 47, 41, 0, time.FixedZone("", 3600)), JSON: []byte(`{"Act":"Acc"}`), Raw: []byte(kv)},
			want: `<134>1 2017-05-26T15:47:41.000Z fwd01 mimecast 4242 receipt - ` + kv,
		},
		{
			name: "v1 impersonation tagged malicious, facility user, escaped swVersion",
			cfg:  userCfg,
			rec:  source.Record{Type: "impersonation protect", Time: time.Date(2020, 7, 26, 23, 39, 59, 999_999_999, time.UTC), JSON: []byte(imp)},
			want: `<12>1 2020-07-26T23:39:59.999Z fwd01 mc - impersonation-protect [origin software="mimecast-forwarder" swVersion="v1\"\]\\x"] ` +
				`{"mimecast":{"logType":"impersonation protect","Action":"Hold","Definition":"Default Impersonation Definition","Hits":"1","TaggedMalicious":"true","acc":"C0A0","datetime":"2020-07-27T00:39:59+0100"}}`,
		},
		{
			name: "raw mode without Raw falls back to json; LF in raw never sent",
			cfg:  rawCfg,
			rec:  source.Record{Type: "spam", Time: time.UnixMilli(0), JSON: []byte(`{"a":1}`)},
			want: `<133>1 1970-01-01T00:00:00.000Z fwd01 mimecast 4242 spam - {"mimecast":{"logType":"spam","a":1}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, shrunk := format(t, mustNew(t, tc.cfg), &tc.rec)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if shrunk {
				t.Error("shrunk = true for a small message")
			}
			parse(t, got)
		})
	}
}

func TestRawModeSanitizesAndStripsBOM(t *testing.T) {
	c := testConfig()
	c.Body = BodyRaw
	f := mustNew(t, c)
	raw := []byte("\xEF\xBB\xBFa=1|b=x\ny\r\x00z")
	got, _ := format(t, f, &source.Record{Type: "receipt", Time: fixedNow, JSON: []byte(`{}`), Raw: raw})
	if !strings.HasSuffix(got, "] a=1|b=x y  z") {
		t.Errorf("got %q", got)
	}
	if strings.ContainsAny(got, "\n\r\x00") || strings.Contains(got, "\uFEFF") {
		t.Errorf("forbidden byte or BOM in %q", got)
	}
	// Raw made only of a BOM: json is used.
	got, _ = format(t, f, &source.Record{Type: "receipt", Time: fixedNow, JSON: []byte(`{"k":"v"}`), Raw: utf8BOM})
	if !strings.HasSuffix(got, ` {"mimecast":{"logType":"receipt","k":"v"}}`) {
		t.Errorf("got %q", got)
	}
}

func TestNonCompactJSONWhitespaceBecomesSpace(t *testing.T) {
	f := mustNew(t, testConfig())
	got, _ := format(t, f, &source.Record{Type: "av", Time: fixedNow, JSON: []byte("{\"a\":\r\n1}")})
	if strings.ContainsAny(got, "\n\r") {
		t.Fatalf("LF/CR in %q", got)
	}
	obj := mimecastObject(t, msgOf(parse(t, got)))
	if obj["a"] != json.Number("1") {
		t.Errorf("a = %v", obj["a"])
	}
	for js, want := range map[string]string{"{ \n}": `{"mimecast":{"logType":"av"}}`, "{ \"b\" : 2\t}": `{"mimecast":{"logType":"av","b" : 2}}`} {
		got, _ := format(t, f, &source.Record{Type: "av", Time: fixedNow, JSON: []byte(js)})
		if !strings.HasSuffix(got, "] "+want) {
			t.Errorf("%q: got %q", js, got)
		}
	}
}

func msgOf(m *rfc5424.SyslogMessage) string {
	if m.Message == nil {
		return ""
	}
	return *m.Message
}

func TestAppendErrors(t *testing.T) {
	f := mustNew(t, testConfig())
	dst := []byte("keep")
	if out, _, err := f.Append(dst, nil); err == nil || string(out) != "keep" {
		t.Errorf("nil record: out %q err %v", out, err)
	}
	for _, js := range []string{`[1]`, `"x"`, `{`, `1`} {
		out, _, err := f.Append(dst, &source.Record{Type: "av", JSON: []byte(js)})
		if err == nil || !strings.Contains(err.Error(), "not an object") || string(out) != "keep" {
			t.Errorf("JSON %q: out %q err %v", js, out, err)
		}
	}
	// nil JSON is treated as {}.
	out, _, err := f.Append(nil, &source.Record{Type: "journal", Time: fixedNow})
	if err != nil || !strings.HasSuffix(string(out), ` {"mimecast":{"logType":"journal"}}`) {
		t.Errorf("nil JSON: %q %v", out, err)
	}
}

func TestAppendKeepsDst(t *testing.T) {
	f := mustNew(t, testConfig())
	r := &source.Record{Type: "journal", Time: fixedNow, JSON: []byte(`{"a":"b"}`)}
	one, _ := format(t, f, r)
	out, _, err := f.Append([]byte("prefix"), r)
	if err != nil || string(out) != "prefix"+one {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestTimestamps(t *testing.T) {
	f := mustNew(t, testConfig())
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.UTC), "2026-01-02T03:04:05.120Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC), "2026-01-02T03:04:05.999Z"},
		{time.Date(2022, 5, 23, 12, 20, 44, 0, time.FixedZone("", -4*3600)), "2022-05-23T16:20:44.000Z"},
		{time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), "0001-01-01T00:00:00.000Z"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "2026-11-28T16:10:00.123Z"}, // out of range: clock
		{time.Time{}, "2026-11-28T16:10:00.123Z"},
	} {
		got, _ := format(t, f, &source.Record{Type: "journal", Time: tc.t, JSON: []byte(`{}`)})
		if ts := strings.Fields(got)[1]; ts != tc.want {
			t.Errorf("%v: timestamp %s, want %s", tc.t, ts, tc.want)
		}
	}
}

func TestMsgID(t *testing.T) {
	for in, want := range map[string]string{
		"url protect":            "url-protect",
		"internal email protect": "internal-email-protect",
		"av":                     "av",
		"":                       "-",
		"a\tb\xffc":              "a_b_c",
		strings.Repeat("x", 40):  strings.Repeat("x", 32),
	} {
		if got := MsgID(in); got != want {
			t.Errorf("MsgID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConcurrentAppend(t *testing.T) {
	f := mustNew(t, testConfig())
	samples := loadSamples(t)
	want := make([]string, len(samples))
	for i := range samples {
		want[i], _ = format(t, f, &samples[i].rec)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for n := 0; n < 20; n++ {
				for i := range samples {
					var err error
					buf, _, err = f.Append(buf[:0], &samples[i].rec)
					if err != nil || string(buf) != want[i] {
						t.Errorf("concurrent output differs for %s: %v", samples[i].name, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestAllSamplesParseAndKeepEveryField(t *testing.T) {
	for _, body := range []BodyMode{BodyJSON, BodyRaw} {
		c := testConfig()
		c.Body = body
		f := mustNew(t, c)
		for _, s := range loadSamples(t) {
			line, shrunk := format(t, f, &s.rec)
			if shrunk {
				t.Errorf("%s: shrunk", s.name)
			}
			m := parse(t, line)
			if *m.Hostname != "fwd01" || *m.Appname != "mimecast" || m.ProcID != nil || *m.MsgID != MsgID(s.rec.Type) {
				t.Errorf("%s: header %v %v %v %v", s.name, *m.Hostname, *m.Appname, m.ProcID, *m.MsgID)
			}
			if sd := *m.StructuredData; !reflect.DeepEqual(sd, map[string]map[string]string{"origin": {"software": "mimecast-forwarder", "swVersion": "1.2.3"}}) {
				t.Errorf("%s: SD %v", s.name, sd)
			}
			if got := int(*m.Severity); got != Severity(&s.rec) || int(*m.Facility) != 16 {
				t.Errorf("%s: severity %d facility %d", s.name, got, *m.Facility)
			}
			if !m.Timestamp.Equal(s.rec.Time.Truncate(time.Millisecond)) {
				t.Errorf("%s: timestamp %v, want %v", s.name, m.Timestamp, s.rec.Time)
			}
			if body == BodyRaw && s.rec.Raw != nil {
				if msgOf(m) != string(s.rec.Raw) {
					t.Errorf("%s: raw MSG %q", s.name, msgOf(m))
				}
				continue
			}
			obj := mimecastObject(t, msgOf(m))
			orig := decodeObject(t, s.rec.JSON)
			if obj["logType"] != s.rec.Type {
				t.Errorf("%s: logType %v", s.name, obj["logType"])
			}
			if !strings.HasPrefix(msgOf(m), `{"mimecast":{"logType":`) {
				t.Errorf("%s: logType is not the first key", s.name)
			}
			delete(obj, "logType")
			if !reflect.DeepEqual(obj, orig) {
				t.Errorf("%s: fields differ\n got %v\nwant %v", s.name, obj, orig)
			}
			if !strings.Contains(msgOf(m), string(s.rec.JSON[1:len(s.rec.JSON)-1])) {
				t.Errorf("%s: original bytes not preserved", s.name)
			}
		}
	}
}

// goSyslogString builds the same message with go-syslog's builder.
func goSyslogString(t testing.TB, c Config, r *source.Record, msg string) string {
	t.Helper()
	m := &rfc5424.SyslogMessage{}
	m.SetPriority(uint8(c.Facility*8 + Severity(r)))
	m.SetVersion(1)
	ts := r.Time.UTC().Truncate(time.Millisecond)
	m.Timestamp = &ts
	m.SetHostname(c.Hostname)
	m.SetAppname(c.AppName)
	if c.ProcID != "-" && c.ProcID != "" {
		m.SetProcID(c.ProcID)
	}
	m.SetMsgID(MsgID(r.Type))
	if c.StructuredData {
		m.SetParameter("origin", "software", escapeSDValue(Software))
		if c.Version != "" {
			m.SetParameter("origin", "swVersion", escapeSDValue(c.Version))
		}
	}
	m.SetMessage(msg)
	s, err := m.String()
	if err != nil {
		t.Fatalf("go-syslog String: %v", err)
	}
	return s
}

// TestEquivalentToGoSyslogBuilder proves the hand-written appender writes
// what go-syslog's builder writes for the same fields, except the
// timestamp, which go-syslog prints with trailing fraction zeros removed
// (".120" → ".12", ".000" → none): there the parsed instants must agree.
func TestEquivalentToGoSyslogBuilder(t *testing.T) {
	cfgs := []Config{testConfig()}
	c := testConfig()
	c.Body, c.StructuredData, c.ProcID, c.Facility, c.AppName = BodyRaw, false, "proc-1", 23, "mimecast-fwd"
	cfgs = append(cfgs, c)
	c = testConfig()
	c.Version, c.Facility = `2.0.0-rc1+"]\`, 0
	cfgs = append(cfgs, c)
	for ci, c := range cfgs {
		f := mustNew(t, c)
		for _, s := range loadSamples(t) {
			mine, _ := format(t, f, &s.rec)
			pm := parse(t, mine)
			theirs := goSyslogString(t, c, &s.rec, msgOf(pm))
			a, b := strings.SplitN(mine, " ", 3), strings.SplitN(theirs, " ", 3)
			if a[0] != b[0] || a[2] != b[2] {
				t.Errorf("cfg %d %s:\n mine   %.200s\n go-syslog %.200s", ci, s.name, mine, theirs)
			}
			pt := parse(t, theirs)
			if !pm.Timestamp.Equal(*pt.Timestamp) {
				t.Errorf("cfg %d %s: timestamps %v vs %v", ci, s.name, pm.Timestamp, pt.Timestamp)
			}
			if !sameBase(pm, pt) {
				t.Errorf("cfg %d %s: parsed messages differ", ci, s.name)
			}
			if !reflect.DeepEqual(pm.StructuredData, pt.StructuredData) {
				t.Errorf("cfg %d %s: SD %v vs %v", ci, s.name, pm.StructuredData, pt.StructuredData)
			}
		}
	}
}

func sameBase(a, b *rfc5424.SyslogMessage) bool {
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	return *a.Priority == *b.Priority && str(a.Hostname) == str(b.Hostname) && str(a.Appname) == str(b.Appname) &&
		str(a.ProcID) == str(b.ProcID) && str(a.MsgID) == str(b.MsgID) && str(a.Message) == str(b.Message) &&
		a.Timestamp.Equal(*b.Timestamp)
}

// TestOwnLogTypeKept checks that an event's own top-level logType never
// gives the mimecast object a second logType key: the formatter's wins and
// the event's is kept under originalLogType (2, 3, … when taken, even when
// the taken name is spelled with escapes); nested logType keys and values
// are left alone.
func TestOwnLogTypeKept(t *testing.T) {
	f := mustNew(t, testConfig())
	for _, tc := range []struct{ in, want string }{
		{`{"a":1,"logType":"MTA","b":2}`, `{"mimecast":{"logType":"receipt","a":1,"originalLogType":"MTA","b":2}}`},
		{`{"logType":{"x":1}}`, `{"mimecast":{"logType":"receipt","originalLogType":{"x":1}}}`},
		{`{"logType":"e","originalLogType":"o","logType":"l","originalLogType3":3}`,
			`{"mimecast":{"logType":"receipt","originalLogType2":"e","originalLogType":"o","originalLogType4":"l","originalLogType3":3}}`},
		{`{ "logType" : 5 , "z":"logType"}`, `{"mimecast":{"logType":"receipt","originalLogType" : 5 , "z":"logType"}}`},
		{`{"n":{"logType":"inner"},"s":"\"logType\":1","u":"\u00e9"}`, `{"mimecast":{"logType":"receipt","n":{"logType":"inner"},"s":"\"logType\":1","u":"\u00e9"}}`},
		{`{"logtype":"case differs"}`, `{"mimecast":{"logType":"receipt","logtype":"case differs"}}`},
		{`{"logType":1,"original\u004cogType":2}`, `{"mimecast":{"logType":"receipt","originalLogType2":1,"original\u004cogType":2}}`},
	} {
		msg, _ := format(t, f, &source.Record{Type: "receipt", Time: fixedNow, JSON: []byte(tc.in)})
		if !strings.HasSuffix(msg, " "+tc.want) {
			t.Errorf("%s:\n got %s\nwant …%s", tc.in, msg, tc.want)
			continue
		}
		if n := countKeys(t, msgOf(parse(t, msg)), "logType"); n != 1 {
			t.Errorf("%s: %d logType keys in the mimecast object", tc.in, n)
		}
	}
}

// TestTypeInvalidUTF8 checks that a type with invalid UTF-8 cannot make MSG
// invalid UTF-8.
func TestTypeInvalidUTF8(t *testing.T) {
	f := mustNew(t, testConfig())
	msg, _ := format(t, f, &source.Record{Type: "bad\xff\xc0\xaf type é", Time: fixedNow, JSON: []byte(`{}`)})
	if !strings.HasSuffix(msg, ` {"mimecast":{"logType":"bad\ufffd\ufffd\ufffd type é"}}`) || !utf8.ValidString(msg) {
		t.Errorf("got %q", msg)
	}
}

// countKeys returns how many times key names a member of the mimecast
// object of msg (encoding/json keeps only one of duplicates, so the tokens
// are counted).
func countKeys(t testing.TB, msg, key string) int {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(msg))
	type level struct{ obj, keyNext bool }
	var st []level
	n := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("MSG %q: %v", msg, err)
		}
		if v, ok := tok.(json.Delim); ok && (v == '}' || v == ']') {
			st = st[:len(st)-1]
			continue
		}
		if top := len(st) - 1; top >= 0 && st[top].obj {
			if st[top].keyNext {
				st[top].keyNext = false
				if len(st) == 2 && tok == key {
					n++
				}
				continue
			}
			st[top].keyNext = true // after this value
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, level{obj: true, keyNext: true})
		case json.Delim('['):
			st = append(st, level{})
		}
	}
}
