package api1

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// formatAll fetches one batch and returns each record formatted by f, and
// whether any record carried JSON.
func formatAll(t *testing.T, e *env, f *syslogfmt.Formatter) (msgs []string, anyJSON bool) {
	t.Helper()
	b, err := e.src.Fetch(t.Context(), EncodeCursor("start"))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	defer b.(io.Closer).Close()
	err = b.Records(t.Context(), func(r *source.Record) error {
		anyJSON = anyJSON || r.JSON != nil
		out, _, err := f.Append(nil, r)
		if err != nil {
			return err
		}
		msgs = append(msgs, string(out))
		return nil
	})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return msgs, anyJSON
}

// TestRawOnlyKeyValueSameMessages: with RawOnly (SYSLOG_BODY=raw) no JSON
// is built for key_value lines, and the raw-body messages (severity, time,
// MSGID, body) are byte for byte those built from the JSON form.
func TestRawOnlyKeyValueSameMessages(t *testing.T) {
	lines := [][]byte{
		mimecasttest.KeyValueLine(t),
		[]byte(`datetime=2017-05-26T16:47:41-0400|aCode=x|Subject=\a | b\|Act=Acc`),
		[]byte(`datetime=2017-05-26T16:47:41+0100|Act=Rej|RejType=Known Virus Signature`),
		[]byte(`datetime=2017-05-26T16:47:41+0100|Act=Acc|SpamProcessingDetail={"decision":"SPAM","x":"|y="}`),
		[]byte(`datetime=bad|datetime=2017-05-26T16:47:41Z|Act=Rej|Act=Acc`), // repeated keys: the first counts
		[]byte(`timestamp=1715767102752|datetime=2017-05-26T16:47:41Z|Act=rej`),
		[]byte(`acc=C0A0|Subject=\no time\`),
	}
	member := append(bytes.Join(lines, []byte("\n")), '\n')
	procLines := [][]byte{
		[]byte(`datetime=2017-05-26T16:47:41+0100|Act=Hld|aCode=1`),
		[]byte(`datetime=2017-05-26T16:47:42+0100|Act=Acc|aCode=2`),
	}
	avLines := [][]byte{
		[]byte(`datetime=2017-05-26T16:47:41+0100|Virus=Eicar|aCode=3`),
		[]byte(`datetime=2017-05-26T16:47:41+0100|Virus=|aCode=4`),
	}
	zipped := makeZip(t,
		zipMember{name: "receipt_20170526164741000.log", data: member},
		zipMember{name: "process_20170526164741000.log", data: bytes.Join(procLines, []byte("\n"))},
		zipMember{name: "av_20170526164741000.log", data: bytes.Join(avLines, []byte("\n"))},
	)
	cfg := syslogfmt.DefaultConfig()
	cfg.Hostname = "h"
	cfg.Body = syslogfmt.BodyRaw
	cfg.Now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	f, err := syslogfmt.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "next") }

	viaJSON, anyJSON := formatAll(t, newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue }, serve), f)
	if !anyJSON {
		t.Fatal("without RawOnly the records carry no JSON")
	}
	raw, anyJSON := formatAll(t, newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue; c.RawOnly = true }, serve), f)
	if anyJSON {
		t.Error("RawOnly built JSON")
	}
	if len(raw) != 11 || len(viaJSON) != len(raw) {
		t.Fatalf("%d and %d messages, want 11", len(viaJSON), len(raw))
	}
	pris := map[string]bool{}
	for i := range raw {
		if raw[i] != viaJSON[i] {
			t.Errorf("message %d:\n raw only %s\n via JSON %s", i, raw[i], viaJSON[i])
		}
		pris[raw[i][:5]] = true
	}
	// The data exercises several severities (local0: <132> warning, <133>
	// notice, <134> informational), so equality is not trivially true.
	for _, p := range []string{"<132>", "<133>", "<134>"} {
		if !pris[p] {
			t.Errorf("no message with %s: %v", p, pris)
		}
	}
}

// TestKeyValueTimeAsEventTime: the time of a key_value record, read from
// its pairs (in both modes), is the time jsonl.EventTime reads from the
// record's JSON form, also with repeated, invalid or missing time fields.
func TestKeyValueTimeAsEventTime(t *testing.T) {
	lines := []string{
		string(mimecasttest.KeyValueLine(t)),
		`datetime=2017-05-26T16:47:41-0400|Act=Acc`,
		`datetime=bad|datetime=2017-05-26T16:47:41Z|Act=Rej`,
		`timestamp=1715767102752|datetime=2017-05-26T16:47:41Z`,
		`datetime=2017-05-26T16:47:41Z|timestamp=1715767102752`,
		`timestamp=x|timestamp=1715767102752|datetime=2017-05-26T16:47:41Z`,
		`timestamp=1715767102|datetime=2017-05-26T16:47:41Z`,
		`datetime=\2017-05-26T16:47:41+0100\|Act=Acc`,
		`Datetime=2017-05-26T16:47:41Z|acc=C0A0`,
		`acc=C0A0|Subject=\no time\`,
		"datetime=2017-05-26T16:47:41+0100\xff|acc=1",
	}
	zipped := makeZip(t, zipMember{name: "receipt_1.log", data: []byte(strings.Join(lines, "\n"))})
	serve := func(w http.ResponseWriter, req siemRequest, n int) { writeFile(w, "MTA.zip", zipped, "next") }
	viaJSON, _ := fetchAll(t, newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue }, serve), nil)
	raw, _ := fetchAll(t, newEnv(t, func(c *Config) { c.FileFormat = FormatKeyValue; c.RawOnly = true }, serve), nil)
	if len(viaJSON) != len(lines) || len(raw) != len(lines) {
		t.Fatalf("%d and %d records, want %d", len(viaJSON), len(raw), len(lines))
	}
	withTime := 0
	for i, r := range viaJSON {
		want, ok := jsonl.EventTime([]byte(r.JSON))
		if !r.Time.Equal(want) || !raw[i].Time.Equal(want) {
			t.Errorf("line %d %s: time %v (raw only %v), EventTime of the JSON %v", i, lines[i], r.Time, raw[i].Time, want)
		}
		if ok {
			withTime++
		}
	}
	if withTime < 6 || withTime == len(lines) {
		t.Errorf("%d of %d lines have a time: the data does not exercise both cases", withTime, len(lines))
	}
}
