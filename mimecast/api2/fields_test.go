package api2

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// fieldsCases are lines whose members are easy to get wrong: repeated
// keys (the last counts), escapes, invalid UTF-8 in keys and values,
// whitespace to compact, nested values.
var fieldsCases = []string{
	`{"action":"Block","action":"allow","virusFound":"x","virusFound":null}`,
	`{"Act":"Hld","action":"rej","rejectionType":"Virus found","rejectionType":""}`,
	`{ "taggedMalicious" : true , "result" :	"CLEAN" , "delivered" : false }`,
	`{"taggedMalicious":"true","result":"safe","delivered":"false","scanResults":[],"urlCategory":{}}`,
	"{\"act\xffion\":\"block\",\"action\":\"bl\xffock\",\"blockReason\":\"malicious\"}",
	`{"action\u0020":"block","a\"ction":"block","reason":"Malicious","urlCategory":"Blocked"}`,
	`{"spamProcessingDetail":{"verdict":{"decision":"SPAM"}},"action":"acc"}`,
	`{"spamProcessingDetail":"{\"verdict\":{\"decision\":\"SPAM\"}}"}`,
	`{"ScanResultInfo":"-","UrlCategory":"null","Virus":"","virusFound":"  "}`,
	`{"RejType":"malicious","RejType":"none","Delivered":"False"}`,
	`{}`,
}

// TestFieldsGiveJSONSeverity: for every sample event, every simulator
// event of every type and the cases above, read through a batch file, the
// severity from the Fields the source located equals the severity from
// scanning its JSON, under every log type.
func TestFieldsGiveJSONSeverity(t *testing.T) {
	var file bytes.Buffer
	lines := 0
	add := func(l []byte) {
		file.Write(l)
		file.WriteByte('\n')
		lines++
	}
	for _, e := range mimecasttest.Events(t) {
		add(e.JSON)
		var pretty bytes.Buffer // the same event with whitespace to drop
		if err := json.Indent(&pretty, e.JSON, "", "  "); err != nil {
			t.Fatal(err)
		}
		add(bytes.ReplaceAll(pretty.Bytes(), []byte("\n"), []byte(" ")))
	}
	for _, l := range mimecasttest.V2CGLines(t) {
		add(l)
	}
	sim, err := simulator.New(simulator.Options{Types: simulator.AllTypes(),
		RecordsPerFile: 100, History: time.Hour, LiveInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range append(simulator.AllTypes(), simulator.CITypes()...) {
		for n := range 100 {
			if ev := sim.Event(typ, 0, n); json.Valid(ev) {
				add(ev)
			}
		}
	}
	for _, c := range fieldsCases {
		add([]byte(c))
	}

	api := newFakeAPI(t)
	api.files["all.gz"] = gz(t, file.Bytes())
	api.setPage(true, "", "all.gz")
	srcs, err := NewSources(Config{BaseURL: api.srv.URL, ClientID: testID, ClientSecret: testSecret,
		Types: []string{"receipt"}}, metrics.New(prometheus.NewRegistry(), "t", "r"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := srcs[0].Fetch(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	bySeverity := map[int]int{}
	err = batch.Records(context.Background(), func(r *source.Record) error {
		n++
		if len(r.Fields) == 0 && string(r.JSON) != "{}" {
			t.Errorf("record %d: no fields: %s", n, r.JSON)
			return nil
		}
		for _, typ := range mimecast.Types {
			withFields := source.Record{Type: typ, JSON: r.JSON, Fields: r.Fields}
			scanned := source.Record{Type: typ, JSON: r.JSON}
			got, want := syslogfmt.Severity(&withFields), syslogfmt.Severity(&scanned)
			if got != want {
				t.Errorf("record %d as %q: severity %d from Fields, %d from JSON: %s", n, typ, got, want, r.JSON)
			}
			bySeverity[want]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != lines {
		t.Fatalf("%d records, want %d", n, lines)
	}
	// Not vacuous: every severity of the table occurs.
	for _, sev := range []int{syslogfmt.SeverityWarning, syslogfmt.SeverityNotice, syslogfmt.SeverityInformational} {
		if bySeverity[sev] == 0 {
			t.Errorf("no record of severity %d: %v", sev, bySeverity)
		}
	}
	t.Logf("%d records × %d types: %v", n, len(mimecast.Types), bySeverity)
}
