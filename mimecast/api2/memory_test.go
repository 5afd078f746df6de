package api2

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// TestRecordsInvalidUTF8 checks that invalid UTF-8 inside JSON strings
// (invalid bytes, an overlong encoding) never reaches the record: each
// byte becomes \ufffd and the record is counted.
func TestRecordsInvalidUTF8(t *testing.T) {
	e := newEnv(t, nil)
	e.api.files["f.gz"] = gz(t, []byte("{\"timestamp\":1,\"a\":\"x\xff\xfe\",\"b\":\"\xc0\xaf\"}\n"+event(2, "ok")+"\n"))
	e.api.setPage(true, "", "f.gz")
	b, _ := e.src(t, "receipt").Fetch(t.Context(), nil)
	recs, err := collect(t, b)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%v %v", recs, err)
	}
	if want := `{"timestamp":1,"a":"x\ufffd\ufffd","b":"\ufffd\ufffd"}`; recs[0].JSON != want || !utf8.ValidString(recs[0].JSON) {
		t.Errorf("record = %q, want %q", recs[0].JSON, want)
	}
	if got := value(t, e.m.InvalidUTF8.WithLabelValues("receipt")); got != 1 {
		t.Errorf("records_invalid_utf8_total = %v, want 1", got)
	}
}

// TestRecordsShareLineBudget runs two streams that meet a long line at the
// same time with a budget for one: the second stream's long line waits
// until the first stream has finished with its own, then both deliver
// every record and the budget is free again.
func TestRecordsShareLineBudget(t *testing.T) {
	const maxLine = 2 << 20
	budget := jsonl.NewLineBudget(jsonl.LineClaim(maxLine), nil)
	e := newEnv(t, func(c *Config) { c.MaxLineBytes = maxLine; c.LineBudget = budget })
	long := func(ts int64) string { return event(ts, strings.Repeat("L", 3<<19)) } // 1.5 MiB
	content := event(1, "before") + "\n" + long(2) + "\n" + event(3, "after") + "\n"
	e.api.files["f.gz"] = gz(t, []byte(content))
	e.api.setPage(true, "", "f.gz")
	b1, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := e.src(t, "url-protect").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}

	holding := make(chan struct{})
	proceed := make(chan struct{})
	var wg sync.WaitGroup
	var n1 int
	var err1 error
	wg.Go(func() {
		err1 = b1.Records(t.Context(), func(r *source.Record) error {
			n1++
			if len(r.JSON) > 1<<20 {
				close(holding) // the first stream holds the budget here
				<-proceed
			}
			return nil
		})
	})
	<-holding
	if budget.InUse() != jsonl.LineClaim(maxLine) {
		t.Fatalf("in use %d while a stream holds a long line", budget.InUse())
	}
	var mu sync.Mutex
	var got2 []int
	var err2 error
	wg.Go(func() {
		err2 = b2.Records(t.Context(), func(r *source.Record) error {
			mu.Lock()
			got2 = append(got2, len(r.JSON))
			mu.Unlock()
			return nil
		})
	})
	for budget.Waiting() == 0 { // the second stream reaches its long line
		runtime.Gosched()
	}
	mu.Lock()
	if len(got2) != 1 {
		t.Errorf("second stream delivered %d records while waiting, want 1 (the one before its long line)", len(got2))
	}
	mu.Unlock()
	close(proceed)
	wg.Wait()
	if err1 != nil || err2 != nil || n1 != 3 || len(got2) != 3 || got2[1] != len(long(2)) {
		t.Fatalf("first: %d records, %v; second: %v, %v", n1, err1, got2, err2)
	}
	if budget.InUse() != 0 {
		t.Errorf("in use %d after both batches", budget.InUse())
	}
	for _, s := range []string{"receipt", "url-protect"} {
		if got := value(t, e.m.RecordsSkipped.WithLabelValues(s, metrics.ReasonTooLarge)); got != 0 {
			t.Errorf("%s: records_skipped{too_large} = %v", s, got)
		}
	}
}

// TestRecordsLineLargerThanBudget: a line the whole budget cannot hold is
// skipped as too large and counted, as a line over MaxLineBytes is.
func TestRecordsLineLargerThanBudget(t *testing.T) {
	budget := jsonl.NewLineBudget(4<<20, nil) // lines up to ~2 MiB
	e := newEnv(t, func(c *Config) { c.LineBudget = budget })
	e.api.files["f.gz"] = gz(t, []byte(event(1, strings.Repeat("x", 3<<20))+"\n"+event(2, "after")+"\n"))
	e.api.setPage(true, "", "f.gz")
	b, _ := e.src(t, "receipt").Fetch(t.Context(), nil)
	recs, err := collect(t, b)
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].JSON, "after") {
		t.Fatalf("%v %v", len(recs), err)
	}
	if got := value(t, e.m.RecordsSkipped.WithLabelValues("receipt", metrics.ReasonTooLarge)); got != 1 {
		t.Errorf("records_skipped{too_large} = %v, want 1", got)
	}
	if budget.InUse() != 0 {
		t.Errorf("in use %d", budget.InUse())
	}
}
