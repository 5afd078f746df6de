package forwarder_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// failingStore is the real checkpoint store behind a disk that is full for
// the first fails writes.
type failingStore struct {
	forwarder.CursorStore
	mu    sync.Mutex
	fails int
	saved int
}

func (s *failingStore) Save(stream string, cursor []byte) error {
	s.mu.Lock()
	if s.fails > 0 {
		s.fails--
		s.mu.Unlock()
		return &errnoErr{syscall.ENOSPC}
	}
	s.saved++
	s.mu.Unlock()
	return s.CursorStore.Save(stream, cursor)
}

type errnoErr struct{ errno syscall.Errno }

func (e *errnoErr) Error() string { return "write cursor: " + e.errno.Error() }
func (e *errnoErr) Unwrap() error { return e.errno }

// TestCursorWriteFailureWaits: when the cursor cannot be written (disk
// full), the stream waits and retries the write; it does not move on, and
// no event is lost or sent twice once the disk has room again.
func TestCursorWriteFailureWaits(t *testing.T) {
	h := newHarness(t, simulator.Options{History: time.Hour, LiveInterval: -1, Types: []string{"receipt"}})
	want := expected(h.sim, h.clk.Now())
	in := h.start(true)
	defer in.close()
	fs := &failingStore{CursorStore: in.store, fails: 3}
	fwd, err := forwarder.New(forwarder.Config{PollInterval: time.Second, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond},
		h.receiptSource(in), in.formatter, in.sender, fs, in.m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = fwd.Run(ctx) }()
	eventually(t, "all events and a committed cursor", 20*time.Second, func() bool {
		st := fwd.Status()["receipt"]
		return h.rcv.count() >= len(want) && st.CaughtUp
	})
	cancel()
	if got := testutil.ToFloat64(in.m.CursorFailures.WithLabelValues("receipt")); got != 3 {
		t.Errorf("cursor_commit_failures_total = %v, want 3", got)
	}
	if got := testutil.ToFloat64(in.m.StreamErrors.WithLabelValues("receipt", "cursor")); got != 3 {
		t.Errorf("stream_errors_total{reason=cursor} = %v, want 3", got)
	}
	h.checkExactlyOnce(want)
	c, err := in.store.Load("receipt")
	if err != nil || c == nil {
		t.Fatalf("cursor after the disk recovered: %q, %v", c, err)
	}
}

// TestOnceFailsOnCursorWriteFailure: with --once a cursor that cannot be
// written ends the stream with an error (exit non-zero), after delivering.
func TestOnceFailsOnCursorWriteFailure(t *testing.T) {
	h := newHarness(t, simulator.Options{History: time.Hour, LiveInterval: -1, Types: []string{"receipt"}})
	in := h.start(true)
	defer in.close()
	fs := &failingStore{CursorStore: in.store, fails: 1}
	cfg := forwarder.DefaultConfig()
	cfg.Once = true
	fwd, err := forwarder.New(cfg, h.receiptSource(in), in.formatter, in.sender, fs, in.m, h.log)
	if err != nil {
		t.Fatal(err)
	}
	err = fwd.Run(context.Background())
	if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "stream receipt: commit cursor") {
		t.Fatalf("Run = %v, want the cursor write error of stream receipt", err)
	}
	if c, _ := in.store.Load("receipt"); c != nil {
		t.Errorf("a cursor was stored although its write failed: %s", c)
	}
}

// TestOnceFailsOnFetchError: with --once a fetch that fails after the HTTP
// retries ends the run with an error naming the stream.
func TestOnceFailsOnFetchError(t *testing.T) {
	h := newHarness(t, simulator.Options{History: time.Hour, LiveInterval: -1, Types: []string{"receipt"}})
	h.wrongSecret = "not-the-secret"
	in := h.start(true)
	defer in.close()
	err := in.fwd.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "stream receipt: fetch:") || !errors.Is(err, mimecast.ErrAuth) {
		t.Fatalf("Run = %v, want the refused credentials of stream receipt", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(err.Error(), simulator.DefaultClientSecret) {
		t.Errorf("the error shows a secret: %v", err)
	}
	if got := testutil.ToFloat64(in.m.StreamErrors.WithLabelValues("receipt", "auth")); got != 1 {
		t.Errorf("stream_errors_total{reason=auth} = %v, want 1 (refused credentials)", got)
	}
	if h.rcv.count() != 0 {
		t.Errorf("%d messages sent without a successful fetch", h.rcv.count())
	}
}
