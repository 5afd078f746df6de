package syslogfmt

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

func TestSeverityTable(t *testing.T) {
	tests := []struct {
		typ, js string
		want    int
	}{
		{"av", `{"virusFound":"bad.virus.found"}`, 4},
		{"av", `{"Virus":"Anomali:Phishing"}`, 4},
		{"av", `{"virusFound":null}`, 5},
		{"av", `{"virusFound":""}`, 5},
		{"av", `{"virusfound":"x"}`, 5}, // names are case-sensitive
		{"av", `{}`, 5},
		{"url protect", `{"action":"Block"}`, 4},
		{"url protect", `{"action":"blocked"}`, 4},
		{"url protect", `{"reason":"malicious","urlCategory":"Blocked"}`, 4},
		{"url protect", `{"urlCategory":"Blocked"}`, 4},
		{"url protect", `{"blockReason":"Malicious","action":"Allow"}`, 4},
		{"url protect", `{"action":"Allow","urlCategory":"Phishing & Fraud"}`, 6},
		{"attachment protect", `{"fileName":"x.doc"}`, 4},
		{"attachment protect", `{"result":"safe"}`, 6},
		{"attachment protect", `{"Result":"Clean"}`, 6},
		{"attachment protect", `{"result":"malicious"}`, 4},
		{"attachment protect", `{"result":"timeout"}`, 4},
		{"impersonation protect", `{"taggedMalicious":"true"}`, 4},
		{"impersonation protect", `{"TaggedMalicious":true}`, 4},
		{"impersonation protect", `{"taggedMalicious":"false","action":"Hold"}`, 5},
		{"internal email protect", `{"urlCategory":"Dangerous file extension"}`, 4},
		{"internal email protect", `{"ScanResultInfo":"Blocked URL Category"}`, 4},
		{"internal email protect", `{"scanResults":null,"urlCategory":null}`, 5},
		{"receipt", `{"action":"Acc"}`, 6},
		{"receipt", `{"action":"Rej","rejectionType":"IP Found in RBL"}`, 5},
		{"receipt", `{"Act":"Rej"}`, 5},
		{"receipt", `{"action":"Rej","rejectionType":"Malicious QRCode Detection"}`, 4},
		{"receipt", `{"Act":"Rej","RejType":"Virus Detected"}`, 4},
		{"receipt", `{"action":"Acc","spamProcessingDetail":"{\"verdict\":{\"decision\":\"SPAM\"}}"}`, 5},
		{"receipt", `{"action":"Acc","spamProcessingDetail":{"verdict":{"decision":"SPAM"}}}`, 5},
		{"receipt", `{"action":"Acc","spamProcessingDetail":"{\"verdict\":{\"decision\":\"REQUESTED\"}}"}`, 6},
		{"receipt", `{"nested":{"action":"Rej"}}`, 6}, // top level only
		{"receipt", `{"a":"\"action\":\"Rej\""}`, 6},
		{"process", `{"action":"Hld","holdReason":"Spm"}`, 5},
		{"process", `{"Act":"Hld"}`, 5},
		{"process", `{"action":"Acc"}`, 6},
		{"process", `{"action":"Sdbx"}`, 6},
		{"delivery", `{"delivered":"true"}`, 6},
		{"delivery", `{"delivered":"false"}`, 5},
		{"delivery", `{"Delivered":false}`, 5},
		{"delivery", `{"delivered":"true","rejectionType":"Recipient rejected"}`, 5},
		{"delivery", `{"delivered":"true","rejectionType":null}`, 6},
		{"spam", `{}`, 5},
		{"journal", `{"action":"Rej"}`, 6},
		{"unknown", `{"virusFound":"x"}`, 6},
		{"receipt", `{"action":`, 6}, // malformed: no panic
		{"receipt", `not json`, 6},
	}
	for _, tc := range tests {
		got := Severity(&source.Record{Type: tc.typ, JSON: []byte(tc.js)})
		if got != tc.want {
			t.Errorf("Severity(%s %s) = %d, want %d", tc.typ, tc.js, got, tc.want)
		}
	}
}

// TestSeverityOfRealSamples pins the severity of every real sample.
func TestSeverityOfRealSamples(t *testing.T) {
	want := map[string]int{
		"v2-attachment-protect-1": 4, "v2-attachment-protect-2": 4, "v2-av-3": 4,
		"v2-delivery-4": 6, "v2-delivery-5": 6, "v2-impersonation-protect-6": 5,
		"v2-internal-email-protect-7": 4, "v2-journal-8": 6,
		"v2-process-9": 5, "v2-process-10": 6, "v2-process-11": 6, "v2-process-12": 6,
		"v2-receipt-13": 6, "v2-receipt-14": 5, "v2-receipt-15": 6, "v2-receipt-16": 4,
		"v2-spam-17": 5, "v2-receipt-18": 6, "v2-receipt-19": 5, "v2-receipt-20": 6,
		"v2-url-protect-21": 4, "v2-url-protect-22": 4, "v2-url-protect-23": 4,
		"v1-demisto-1": 6, "v1-demisto-2": 6, "v1-demisto-3": 6,
		"v1-elastic-1": 6, "v1-elastic-2": 6, "v1-elastic-3": 6, "v1-elastic-4": 5,
		"v1-elastic-5": 6, "v1-elastic-6": 4, "v1-elastic-7": 5, "v1-elastic-8": 4,
		"v1-elastic-9": 4, "v1-elastic-10": 4, "v1-elastic-11": 4, "v1-kv-1": 6,
	}
	samples := loadSamples(t)
	if len(samples) != len(want) {
		t.Fatalf("%d samples, %d expectations", len(samples), len(want))
	}
	for _, s := range samples {
		w, ok := want[s.name]
		if !ok {
			t.Errorf("no expectation for %s", s.name)
			continue
		}
		if got := Severity(&s.rec); got != w {
			t.Errorf("%s: severity %d, want %d", s.name, got, w)
		}
	}
}

// TestFieldsScan checks the member walk on strings holding quotes,
// brackets and escapes, nested values and escaped keys.
func TestFieldsScan(t *testing.T) {
	var f fields
	f.scan([]byte(`{"a":"x\"}","b":{"c":[1,"]"]},"d":null,"e\"f":-1.5e3,"g":[],"action":"Rej","virusFound":{"x":"}\\"},` +
		`"act\u0069on":"escaped key","result":"` + strings.Repeat(`\"long\\`, 30) + `","delivered":false}`))
	for _, c := range []struct{ name, got, want string }{
		{"action", string(f.action), "Rej"},
		{"virus", string(f.virus), `{"x":"}\\"}`},
		{"result", string(f.result), strings.Repeat(`\"long\\`, 30)},
		{"delivered", string(f.delivered), "false"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	// Duplicate keys: the last one wins, as in encoding/json.
	f = fields{}
	f.scan([]byte(`{"action":"Acc","Act":"Rej","x":1}`))
	if string(f.action) != "Rej" {
		t.Errorf("duplicate: action = %q", f.action)
	}
	// Malformed input stops the walk, keeping what was read.
	for _, in := range []string{`{"action":"Rej","x":`, `{"action":"Rej","x":"`, `{"action":"Rej" ,"x":1}`, `{"action":"Rej","x"`} {
		f = fields{}
		f.scan([]byte(in))
		if string(f.action) != "Rej" {
			t.Errorf("%s: action = %q", in, f.action)
		}
	}
}

// TestAppendWithFields: the members located by jsonl.NormalizeMembers (as
// the API 2.0 source passes them in Record.Fields) give the same message,
// byte for byte, as reading the JSON: severity, own logType members
// renamed, shrinking. For every sample, under every type, plus events
// with their own logType.
func TestAppendWithFields(t *testing.T) {
	recs := []*source.Record{}
	for _, s := range loadSamples(t) {
		r := s.rec
		r.Raw = nil
		recs = append(recs, &r)
	}
	for _, js := range []string{
		`{"logType":"MTA","action":"Block","n":1}`,
		`{"a":1,"logType":{"x":2},"logType":"y","originalLogType":3}`,
		`{"x":"logType","y":{"logType":1},"z":"\"logType\":2"}`,
		`{"log\u0054ype":1,"big":"` + strings.Repeat("é\\\"x", 30000) + `"}`,
	} {
		recs = append(recs, &source.Record{Time: fixedNow, JSON: []byte(js)})
	}
	f := mustNew(t, testConfig())
	for _, r := range recs {
		wf := withFields(t, r)
		for _, typ := range mimecastTypes {
			r.Type, wf.Type = typ, typ
			want, wantShrunk, err := f.Append(nil, r)
			if err != nil {
				t.Fatal(err)
			}
			got, gotShrunk, err := f.Append(nil, wf)
			if err != nil || gotShrunk != wantShrunk || !bytes.Equal(got, want) {
				t.Fatalf("%s as %q with Fields:\n%.300q, %v, %v\nwithout:\n%.300q, %v", r.JSON, typ, got, gotShrunk, err, want, wantShrunk)
			}
		}
	}
}

// mimecastTypes are the log types (mimecast.Types, which this package does
// not import).
var mimecastTypes = []string{"receipt", "process", "delivery", "av", "spam", "internal email protect",
	"impersonation protect", "url protect", "attachment protect", "journal"}
