package syslogfmt

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// FuzzAppend checks, for arbitrary JSON objects, raw lines, types, times and
// limits in the Wazuh range (480–65535): the message never holds LF, CR or
// NUL, never exceeds the limit, always parses as strict RFC 5424, and in
// json mode MSG is always valid UTF-8 JSON naming the type with exactly one
// logType key (unless the event spells one with \u escapes); unshrunk messages without an own logType carry the original
// bytes; the Fields located by jsonl.NormalizeMembers change nothing.
// Seeds: every real sample (added below) plus
// testdata/fuzz/FuzzAppend.
func FuzzAppend(f *testing.F) {
	for i, s := range loadSamples(f) {
		f.Add(s.rec.JSON, s.rec.Raw, s.rec.Type, s.rec.Time.UnixMilli(), uint16(i*1000), i%2 == 0)
	}
	f.Add([]byte(`{"a":"`+strings.Repeat(`\u00e9\ud83d\ude00\"é`, 400)+`"}`), []byte(nil), "url protect", int64(0), uint16(700), false)
	f.Add([]byte(`{}`), []byte("a=b\r\n\x00|c=\\d\\"), "receipt", int64(-62135596800001), uint16(0), true)
	f.Add([]byte(`{"logType":"MTA","logType":1,"originalLogType":[],"x":{"logType":2}}`), []byte(nil), "receipt", int64(0), uint16(65000), false)
	f.Add([]byte("{\"a\":\"\xff\xfe\xc0\xaf\",\"logType\":\""+strings.Repeat("x", 2000)+"\"}"), []byte(nil), "av", int64(0), uint16(100), false)

	parser := rfc5424.NewParser()
	f.Fuzz(func(t *testing.T, js, raw []byte, typ string, ms int64, maxSel uint16, rawMode bool) {
		var fields []source.Field // as the API 2.0 source gives them
		if len(js) > 0 {
			var info jsonl.Info
			var err error
			if js, info, err = jsonl.NormalizeMembers(nil, js, 0, nil); err != nil {
				return // source.Record.JSON is always a compact object, valid UTF-8
			}
			for _, m := range info.Members {
				fields = append(fields, source.Field{Key: m.KeyIn(js), Value: m.ValueIn(js)})
			}
		}
		c := testConfig()
		c.MaxMessageBytes = MinMessageBytes + int(maxSel)%(65536-MinMessageBytes)
		if rawMode {
			c.Body = BodyRaw
		}
		fm, err := New(c)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		r := &source.Record{Type: typ, Time: time.UnixMilli(ms), JSON: js, Raw: raw}
		out, shrunk, err := fm.Append(nil, r)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		// The same record with the members located while compacting: the
		// same bytes (Severity reads the Fields instead of the JSON).
		withFields := *r
		withFields.Fields = fields
		if out2, shrunk2, err := fm.Append(nil, &withFields); err != nil || shrunk2 != shrunk || !bytes.Equal(out2, out) {
			t.Fatalf("with Fields: %q, %v, %v; without: %q, %v", out2, shrunk2, err, out, shrunk)
		}
		if i := bytes.IndexAny(out, "\n\r\x00"); i >= 0 {
			t.Fatalf("forbidden byte %q at %d", out[i], i)
		}
		if bytes.Contains(out, utf8BOM) && !bytes.Contains(js, utf8BOM) && !bytes.Contains(raw, utf8BOM) && !strings.Contains(typ, string(utf8BOM)) {
			t.Fatal("BOM added")
		}
		if len(out) > c.MaxMessageBytes {
			t.Fatalf("%d bytes > limit %d", len(out), c.MaxMessageBytes)
		}
		pm, err := parser.Parse(out)
		if err != nil {
			t.Fatalf("RFC5424 parse: %v\n%.300q", err, out)
		}
		m := pm.(*rfc5424.SyslogMessage)
		if wantID := MsgID(typ); m.MsgID == nil && wantID != "-" || m.MsgID != nil && *m.MsgID != wantID {
			t.Fatalf("MSGID %v for type %q", m.MsgID, typ)
		}
		msg := msgOf(m)
		if rawMode && len(trimBOM(raw)) > 0 {
			if !shrunk && msg != strings.NewReplacer("\n", " ", "\r", " ", "\x00", " ").Replace(string(trimBOM(raw))) {
				t.Fatalf("raw MSG changed")
			}
			return
		}
		if !json.Valid([]byte(msg)) {
			t.Fatalf("MSG is not valid JSON: %.300q", msg)
		}
		var top struct {
			Mimecast struct {
				LogType string `json:"logType"`
			} `json:"mimecast"`
		}
		if err := json.Unmarshal([]byte(msg), &top); err != nil {
			t.Fatalf("MSG: %v", err)
		}
		if !strings.HasPrefix(msg, `{"mimecast":{"logType":"`) {
			t.Fatalf("MSG prefix %.60q", msg)
		}
		if !utf8.ValidString(msg) && utf8.ValidString(typ) {
			t.Fatalf("MSG is not valid UTF-8: %.300q", msg)
		}
		// A key spelling logType with \u escapes is not recognised (see
		// hasLogTypeKey): no source writes one.
		escapes := bytes.Contains(js, []byte(`\u`))
		if n := countKeys(t, msg, "logType"); n != 1 && !escapes {
			t.Fatalf("%d logType keys in %.300q", n, msg)
		}
		own := len(js) > 2 && hasLogTypeKey(js[1:len(js)-1])
		if !shrunk && len(js) > 2 && !own && !strings.Contains(msg, string(js[1:len(js)-1])) {
			t.Fatal("original bytes not preserved")
		}
		if ref := len(js) > 2 && hasLogTypeRef(js); own != ref && !escapes {
			t.Fatalf("hasLogTypeKey(%q) = %v", js, own)
		}
		if shrunk && !markerRE.MatchString(msg) {
			t.Fatalf("shrunk without marker: %.300q", msg)
		}
	})
}

// hasLogTypeRef is hasLogTypeKey on encoding/json: does the object js
// have a top-level member named logType?
func hasLogTypeRef(js []byte) bool {
	d := json.NewDecoder(bytes.NewReader(js))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return false
		}
		if k == "logType" {
			return true
		}
		var v json.RawMessage
		if d.Decode(&v) != nil {
			return false
		}
	}
	return false
}
