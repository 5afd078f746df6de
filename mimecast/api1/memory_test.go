package api1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// TestInvalidUTF8Replaced: an API 1.0 JSON event with invalid UTF-8 in a
// string is forwarded with \ufffd in its place, and counted.
func TestInvalidUTF8Replaced(t *testing.T) {
	zipped := makeZip(t, zipMember{name: "receipt_1.json", data: []byte("{\"type\":\"MTA\",\"data\":[{\"a\":\"x\xff\xfe\",\"k\xc0\xaf\":1},{\"b\":\"ok\"}]}")})
	e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA.zip", zipped, "next")
	})
	got, _ := fetchAll(t, e, nil)
	if len(got) != 2 || got[0].JSON != `{"a":"x\ufffd\ufffd","k\ufffd\ufffd":1}` {
		t.Fatalf("got %+v", got)
	}
	if v := value(t, e.m.InvalidUTF8.WithLabelValues(StreamName)); v != 1 {
		t.Errorf("records_invalid_utf8_total = %v, want 1", v)
	}
}

// TestKeyValueLongLineBudget: a key_value line longer than 1 MiB is read
// within the shared line budget, which is free again afterwards; one the
// budget cannot hold is skipped and counted.
func TestKeyValueLongLineBudget(t *testing.T) {
	budget := jsonl.NewLineBudget(jsonl.LineClaim(3<<20), nil) // lines up to 3 MiB
	long := "datetime=2017-05-26T16:47:41+0100|acc=C0A0|Subject=" + strings.Repeat("s", 2<<20)
	tooLong := "acc=C0A0|Subject=" + strings.Repeat("t", 4<<20)
	zipped := makeZip(t, zipMember{name: "receipt_1.log", data: []byte(long + "\n" + tooLong + "\nacc=after\n")})
	e := newEnv(t, func(c *Config) { c.LineBudget = budget }, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA.zip", zipped, "next")
	})
	got, _ := fetchAll(t, e, nil)
	if len(got) != 2 || got[0].Raw != long || !strings.Contains(got[1].JSON, "after") {
		t.Fatalf("got %d records", len(got))
	}
	if budget.InUse() != 0 {
		t.Errorf("budget in use %d after the batch", budget.InUse())
	}
	if v := value(t, e.m.RecordsSkipped.WithLabelValues(StreamName, "bad_line")); v != 1 {
		t.Errorf("records_skipped{bad_line} = %v, want 1", v)
	}
}

// TestJSONLongEventBudget: an API 1.0 JSON event longer than 1 MiB is read
// within the shared line budget, which is free again afterwards; one longer
// than the budget allows is read through without being kept, skipped as
// too_large, and the member goes on.
func TestJSONLongEventBudget(t *testing.T) {
	budget := jsonl.NewLineBudget(jsonl.LineClaim(3<<20), nil) // events up to 3 MiB
	event := func(acc string, pad int) string {
		return `{"datetime":"2017-05-26T16:47:41+0100","acc":"` + acc + `","Subject":"` + strings.Repeat("s", pad) + `"}`
	}
	long := event("long", 2<<20)
	members := []zipMember{
		{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[` + event("a", 10) + "," + long + "," + event("b", 10) + `]}`)},
		{name: "process_1.json", data: []byte(`{"type":"MTA","data":[` + event("c", 10) + "," + event("huge", 4<<20) + "," + event("after", 10) + `]}`)},
		{name: "delivery_1.json", data: []byte(`{"type":"MTA","data":[` + event("d", 10) + `]}`)},
	}
	zipped := makeZip(t, members...)
	e := newEnv(t, func(c *Config) { c.LineBudget = budget }, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA.zip", zipped, "next")
	})
	got, _ := fetchAll(t, e, nil)
	var accs []string
	for _, r := range got {
		m := decodeMap(t, []byte(r.JSON))
		accs = append(accs, m["acc"].(string))
	}
	if strings.Join(accs, ",") != "d,c,after,a,long,b" { // members in name order
		t.Fatalf("records %v, want d,c,after,a,long,b", accs)
	}
	if got[4].JSON != long {
		t.Errorf("the long event changed on the way (%d bytes, want %d)", len(got[4].JSON), len(long))
	}
	if budget.InUse() != 0 {
		t.Errorf("budget in use %d after the batch", budget.InUse())
	}
	if v := value(t, e.m.RecordsSkipped.WithLabelValues(StreamName, "too_large")); v != 1 {
		t.Errorf("records_skipped{too_large} = %v, want 1", v)
	}
	if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, "malformed_file")); v != 0 {
		t.Errorf("files_skipped{malformed_file} = %v, want 0", v)
	}
	if !contains(e.logs.String(), "JSON event too large") || !contains(e.logs.String(), "process_1.json") {
		t.Errorf("no too_large warning naming the member:\n%s", e.logs.String())
	}
}

// TestJSONLongEventWaitCancelled: a long JSON event waiting for the line
// budget (held elsewhere) gives up when the context ends: Records returns
// the context's error, not a damaged member, and holds nothing.
func TestJSONLongEventWaitCancelled(t *testing.T) {
	budget := jsonl.NewLineBudget(jsonl.LineClaim(3<<20), nil)
	if err := budget.Acquire(t.Context(), budget.Size()); err != nil { // another stream holds it all
		t.Fatal(err)
	}
	long := `{"acc":"long","Subject":"` + strings.Repeat("s", 1<<20+1000) + `"}`
	zipped := makeZip(t, zipMember{name: "receipt_1.json", data: []byte(`{"type":"MTA","data":[{"acc":"a"},` + long + `]}`)})
	e := newEnv(t, func(c *Config) { c.LineBudget = budget }, func(w http.ResponseWriter, req siemRequest, n int) {
		writeFile(w, "MTA.zip", zipped, "next")
	})
	b, err := e.src.Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.(io.Closer).Close()
	ctx, cancel := context.WithCancel(t.Context())
	var accs []string
	err = b.Records(ctx, func(r *source.Record) error {
		accs = append(accs, string(r.JSON))
		cancel() // the next event is the long one: it waits, then sees the end of ctx
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(accs) != 1 {
		t.Fatalf("Records = %v after %d records, want context.Canceled after 1", err, len(accs))
	}
	if budget.InUse() != budget.Size() {
		t.Errorf("budget in use %d, want only the other stream's %d", budget.InUse(), budget.Size())
	}
	if v := value(t, e.m.FilesSkipped.WithLabelValues(StreamName, "malformed_file")) + value(t, e.m.FilesSkipped.WithLabelValues(StreamName, "corrupt_archive")); v != 0 {
		t.Errorf("a cancelled wait was counted as a damaged member (%v)", v)
	}
}
