package api1

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
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
