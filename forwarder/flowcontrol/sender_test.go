package flowcontrol

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// countingSender records what reaches it.
type countingSender struct {
	mu        sync.Mutex
	msgs      []string
	confirmed []uint64
	err       error
}

func (s *countingSender) Send(_ context.Context, msg []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, string(msg))
	return 7, nil
}

func (s *countingSender) Confirm(_ context.Context, epoch uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmed = append(s.confirmed, epoch)
	return s.err
}

func (s *countingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

func TestSenderWaitsForTokens(t *testing.T) {
	m := newMetrics(t)
	next := &countingSender{}
	s := NewSender(next, NewLimiter(20, m)) // burst 1: the 2nd and 3rd wait
	for _, msg := range []string{"a", "b", "c"} {
		epoch, err := s.Send(context.Background(), []byte(msg))
		if err != nil || epoch != 7 {
			t.Fatalf("Send(%s) = %d, %v; want the wrapped sender's epoch 7", msg, epoch, err)
		}
	}
	if got := next.msgs; len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Errorf("wrapped sender got %q", got)
	}
	if got := testutil.ToFloat64(m.SendRateWait); got <= 0 {
		t.Errorf("send_rate_limit_wait_seconds_total = %v, want > 0 (two sends waited for a token)", got)
	}
	next.err = errors.New("connection lost")
	if err := s.Confirm(context.Background(), 7); !errors.Is(err, next.err) || len(next.confirmed) != 1 || next.confirmed[0] != 7 {
		t.Errorf("Confirm = %v, wrapped sender saw %v", err, next.confirmed)
	}
}

func TestSenderCancelWhileWaiting(t *testing.T) {
	next := &countingSender{}
	s := NewSender(next, NewLimiter(0.001, newMetrics(t))) // next token in 1000 s
	if _, err := s.Send(context.Background(), []byte("first")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, []byte("second"))
		done <- err
	}()
	for s.lim.Granted() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	// The test would hang for 1000 s if Send did not return on cancel.
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Send after cancel = %v, want context.Canceled", err)
	}
	if next.count() != 1 {
		t.Errorf("wrapped sender got %d messages, want 1 (the cancelled one is not sent)", next.count())
	}
}

func TestSenderUnlimitedDoesNotWait(t *testing.T) {
	m := newMetrics(t)
	next := &countingSender{}
	lim := NewLimiter(0, m)
	s := NewSender(next, lim)
	for range 10_000 {
		if _, err := s.Send(context.Background(), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if next.count() != 10_000 {
		t.Errorf("wrapped sender got %d, want 10000", next.count())
	}
	if w, g := testutil.ToFloat64(m.SendRateWait), lim.Granted(); w != 0 || g != 0 {
		t.Errorf("unlimited: waited %v s, %d tokens taken; want 0, 0", w, g)
	}
}
