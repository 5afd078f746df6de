package mimecast

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock drives a Budget without real waiting.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	return ctx.Err()
}

func TestBudgetSpacing(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := NewBudget(60, 3) // one per second, burst 3
	b.now, b.sleep = clk.now, clk.sleep
	start := clk.now()
	for i := range 10 {
		w, err := b.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Duration(0); i < 3 && w != want {
			t.Errorf("call %d waited %v within the burst", i, w)
		}
	}
	if len(clk.sleeps) != 7 {
		t.Errorf("sleeps = %v, want 7", clk.sleeps)
	}
	for _, d := range clk.sleeps {
		if d < 999*time.Millisecond || d > time.Second {
			t.Errorf("sleep %v, want 1s", d)
		}
	}
	if el := clk.now().Sub(start); el < 7*time.Second-time.Millisecond || el > 7*time.Second {
		t.Errorf("10 calls took %v of fake time, want 7s", el)
	}
	// After an idle minute the bucket is full again, but not beyond the burst.
	clk.t = clk.t.Add(time.Minute)
	n := len(clk.sleeps)
	for range 4 {
		if _, err := b.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(clk.sleeps) - n; got != 1 {
		t.Errorf("after idling, 4 calls slept %d times, want 1", got)
	}
}

func TestBudgetCancel(t *testing.T) {
	b := NewBudget(1, 1)
	if _, err := b.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// The cancelled reservation was given back: the debt is one token, not two.
	b.mu.Lock()
	tokens := b.tokens
	b.mu.Unlock()
	if tokens < -0.01 || tokens > 0.01 {
		t.Errorf("tokens = %v after a cancelled wait, want about 0", tokens)
	}
}

func TestBudgetNilUnlimited(t *testing.T) {
	var b *Budget
	if NewBudget(0, 5) != nil {
		t.Error("NewBudget(0) is not nil")
	}
	for range 100 {
		if w, err := b.Wait(t.Context()); w != 0 || err != nil {
			t.Fatal(w, err)
		}
	}
}
