package jsonl

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// waitForWaiters yields until n callers wait in b (the test's own timeout
// bounds it).
func waitForWaiters(b *LineBudget, n int) {
	for b.Waiting() < n {
		runtime.Gosched()
	}
}

func TestLineBudgetFIFO(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry(), "t", "r")
	b := NewLineBudget(100, m)
	ctx := t.Context()
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.LineBudgetInUse); got != 60 {
		t.Errorf("line_budget_bytes = %v, want 60", got)
	}
	granted := make(chan int64, 2)
	go func() {
		if b.Acquire(ctx, 50) == nil {
			granted <- 50
		}
	}()
	waitForWaiters(b, 1)
	go func() {
		if b.Acquire(ctx, 10) == nil { // fits now, but must queue behind fifty
			granted <- 10
		}
	}()
	waitForWaiters(b, 2) // ten waits although 40 bytes are free
	if b.InUse() != 60 {
		t.Fatalf("in use %d: a later, smaller claim overtook the queue", b.InUse())
	}
	b.Release(60)
	if sum := <-granted + <-granted; sum != 60 {
		t.Errorf("granted %d bytes, want 60", sum)
	}
	if b.InUse() != 60 {
		t.Errorf("in use %d, want 60", b.InUse())
	}
	b.Release(60)
	if b.InUse() != 0 || testutil.ToFloat64(m.LineBudgetInUse) != 0 {
		t.Errorf("in use %d after releasing everything", b.InUse())
	}
	if testutil.ToFloat64(m.LineBudgetWait) <= 0 {
		t.Error("line_budget_wait_seconds_total did not count the waits")
	}
}

func TestLineBudgetCancel(t *testing.T) {
	b := NewLineBudget(10, nil)
	if err := b.Acquire(t.Context(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() { errc <- b.Acquire(ctx, 5) }()
	waitForWaiters(b, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
	b.Release(10)
	if b.InUse() != 0 || b.Waiting() != 0 {
		t.Errorf("in use %d, %d waiting after a cancelled wait", b.InUse(), b.Waiting())
	}
	var unlimited *LineBudget
	if unlimited.Acquire(t.Context(), 1<<40) != nil || unlimited.Size() != 0 {
		t.Error("a nil budget must grant everything")
	}
	unlimited.Release(1)
}

// longInput is a line of n bytes of valid JSON, then "next".
func longInput(n int) string {
	return `{"a":"` + strings.Repeat("x", n-8) + "\"}\nnext\n"
}

// TestBudgetLineScannerShares shows two streams meeting a long line at the
// same time within a budget of one claim: the second waits until the first
// moves on, and each line is read whole.
func TestBudgetLineScannerShares(t *testing.T) {
	const maxLine = 4 << 20
	b := NewLineBudget(LineClaim(maxLine), nil)
	ctx := t.Context()
	s1 := NewBudgetScanner(ctx, strings.NewReader(longInput(3<<20)), maxLine, b)
	defer s1.Close()
	if !s1.Scan() || len(s1.Bytes()) != 3<<20 || s1.TooLong() {
		t.Fatalf("first stream: %d bytes, too long %v, err %v", len(s1.Bytes()), s1.TooLong(), s1.Err())
	}
	out, _, err := s1.Normalize()
	if err != nil || !bytes.Equal(out, s1.Bytes()) {
		t.Fatalf("Normalize of the long line: %d bytes, %v", len(out), err)
	}
	if b.InUse() != LineClaim(maxLine) {
		t.Fatalf("in use %d while holding a long line, want %d", b.InUse(), LineClaim(maxLine))
	}

	s2 := NewBudgetScanner(ctx, strings.NewReader(longInput(2<<20)), maxLine, b)
	defer s2.Close()
	done := make(chan int)
	go func() {
		if !s2.Scan() {
			done <- -1
			return
		}
		done <- len(s2.Bytes())
	}()
	waitForWaiters(b, 1) // the second stream waits for the first
	if !s1.Scan() || string(s1.Bytes()) != "next" {
		t.Fatalf("first stream's next line: %q", s1.Bytes())
	}
	if n := <-done; n != 2<<20 {
		t.Fatalf("second stream read %d bytes, want %d (err %v)", n, 2<<20, s2.Err())
	}
	if b.InUse() != LineClaim(maxLine) {
		t.Errorf("in use %d, want one claim (the second stream's)", b.InUse())
	}
	s2.Close()
	if b.InUse() != 0 {
		t.Errorf("in use %d after Close", b.InUse())
	}
}

// TestBudgetLineScannerLimits: a budget smaller than a claim lowers the
// longest line; a too long line gives its reservation back at once; short
// lines never touch the budget; cancelling the wait ends the scan.
func TestBudgetLineScannerLimits(t *testing.T) {
	b := NewLineBudget(6<<20+lineClaimSlack, nil) // room for 3 MiB lines
	s := NewBudgetScanner(t.Context(), strings.NewReader("short\n"+longInput(4<<20)+longInput(2<<20)), 32<<20, b)
	defer s.Close()
	if s.MaxLine() != 3<<20 {
		t.Fatalf("MaxLine = %d, want 3 MiB", s.MaxLine())
	}
	if !s.Scan() || string(s.Bytes()) != "short" || b.InUse() != 0 {
		t.Fatalf("short line: %q, in use %d", s.Bytes(), b.InUse())
	}
	if !s.Scan() || !s.TooLong() || s.Size() != 4<<20+1 || !strings.HasPrefix(string(s.Bytes()), `{"a":"xxx`) || len(s.Bytes()) != 200 {
		t.Fatalf("4 MiB line: too long %v, size %d, %d bytes kept", s.TooLong(), s.Size(), len(s.Bytes()))
	}
	if b.InUse() != 0 {
		t.Errorf("in use %d after a too long line", b.InUse())
	}
	for _, want := range []string{"next", strings.Repeat("x", 10)} {
		if !s.Scan() || !strings.Contains(string(s.Bytes()), want) || s.TooLong() {
			t.Fatalf("want a line with %q, got %d bytes, too long %v", want, len(s.Bytes()), s.TooLong())
		}
	}

	// Cancelled while waiting.
	s.Close()
	if err := b.Acquire(t.Context(), b.Size()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	s2 := NewBudgetScanner(ctx, strings.NewReader(longInput(2<<20)), 32<<20, b)
	defer s2.Close()
	res := make(chan bool)
	go func() { res <- s2.Scan() }()
	waitForWaiters(b, 1)
	cancel()
	if <-res || !errors.Is(s2.Err(), context.Canceled) {
		t.Errorf("Scan after cancel: err %v, want context.Canceled", s2.Err())
	}
	b.Release(b.Size())
	if b.InUse() != 0 {
		t.Errorf("in use %d at the end", b.InUse())
	}
}

// TestBudgetLineScannerUTF8Limit: the normalised copy of a long line stays
// in its reservation; replacing invalid UTF-8 that would overflow it is
// refused as too large.
func TestBudgetLineScannerUTF8Limit(t *testing.T) {
	const maxLine = 2 << 20
	b := NewLineBudget(LineClaim(maxLine), nil)
	line := `{"a":"` + strings.Repeat("\xff", maxLine-8) + "\"}\n"
	s := NewBudgetScanner(t.Context(), strings.NewReader(line+line[:1<<10-3]+"\"}\n"), maxLine, b)
	defer s.Close()
	if !s.Scan() {
		t.Fatal(s.Err())
	}
	if _, _, err := s.Normalize(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("2 MiB of invalid UTF-8: err = %v, want ErrTooLarge", err)
	}
	if !s.Scan() {
		t.Fatal(s.Err())
	}
	out, info, err := s.Normalize()
	if err != nil || info.Replaced != 1<<10-9 || len(out) != 1<<10-1+5*info.Replaced {
		t.Errorf("short line: %d bytes, %+v, %v", len(out), info, err)
	}
}
