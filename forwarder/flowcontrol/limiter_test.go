package flowcontrol

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// takeAsFastAsAllowed takes n tokens, each as soon as it is due, on a fake
// clock starting at t, and returns the clock after the last one and how
// many came without waiting.
func takeAsFastAsAllowed(l *Limiter, t time.Time, n int) (time.Time, int) {
	free := 0
	for range n {
		_, d := l.reserve(t)
		if d == 0 {
			free++
		}
		t = t.Add(d)
	}
	return t, free
}

// within reports whether got is want ± 1 ms (float rounding of the bucket).
func within(got, want time.Duration) bool {
	diff := got - want
	return diff > -time.Millisecond && diff < time.Millisecond
}

func TestLimiterRateOnFakeClock(t *testing.T) {
	m := newMetrics(t)
	l := NewLimiter(0, m)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.setRateAt(t0, 1000)
	if got := l.Rate(); got != 1000 {
		t.Fatalf("Rate = %v, want 1000", got)
	}
	if got := testutil.ToFloat64(m.SendRateLimit); got != 1000 {
		t.Errorf("send_rate_limit_events_per_second = %v, want 1000", got)
	}
	// The bucket starts full: a burst of 50 ms worth (50 tokens), then one
	// token per millisecond.
	end, free := takeAsFastAsAllowed(l, t0, 10_000)
	if free != 50 {
		t.Errorf("%d tokens without waiting, want the burst of 50", free)
	}
	if span := end.Sub(t0); !within(span, 9950*time.Millisecond) {
		t.Errorf("10000 tokens at 1000/s took %s of fake time, want 9.95 s (10000 minus a burst of 50)", span)
	}
	if got := l.Granted(); got != 10_000 {
		t.Errorf("Granted = %d, want 10000", got)
	}

	// A lower rate applies to the next tokens; the burst shrinks with it.
	l.setRateAt(end, 100)
	end2, _ := takeAsFastAsAllowed(l, end, 500)
	if span := end2.Sub(end); !within(span, 5*time.Second) {
		t.Errorf("500 tokens at 100/s took %s, want 5 s", span)
	}
	// After an idle minute the bucket holds only the new burst (5).
	_, free = takeAsFastAsAllowed(l, end2.Add(time.Minute), 20)
	if free != 5 {
		t.Errorf("after idling at 100/s, %d tokens without waiting, want the burst of 5", free)
	}
}

func TestBurstOf(t *testing.T) {
	for eps, want := range map[float64]int{0.5: 1, 1: 1, 20: 1, 40: 2, 1000: 50, 50_000: 2500} {
		if got := burstOf(eps); got != want {
			t.Errorf("burstOf(%v) = %d, want %d", eps, got, want)
		}
	}
}

func TestLimiterUnlimited(t *testing.T) {
	m := newMetrics(t)
	l := NewLimiter(0, m)
	ctx := context.Background()
	for range 100_000 {
		if err := l.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if l.Rate() != 0 || l.Granted() != 0 {
		t.Errorf("unlimited: Rate %v, Granted %d; want 0, 0", l.Rate(), l.Granted())
	}
	if got := testutil.ToFloat64(m.SendRateWait); got != 0 {
		t.Errorf("unlimited: waited %v s, want 0", got)
	}
	// Limited, then unlimited again.
	l.SetRate(5)
	l.SetRate(0)
	if got := testutil.ToFloat64(m.SendRateLimit); got != 0 {
		t.Errorf("send_rate_limit_events_per_second = %v after SetRate(0), want 0", got)
	}
}

func TestLimiterWaitCancelled(t *testing.T) {
	m := newMetrics(t)
	l := NewLimiter(0.001, m) // one token per 1000 s, burst 1
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx) }()
	for l.Granted() < 2 { // the second Wait holds its reservation
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
	if got := l.Granted(); got != 1 {
		t.Errorf("Granted = %d after a cancelled wait, want 1 (the token is given back)", got)
	}
	if got := testutil.ToFloat64(m.SendRateWait); got <= 0 || got > 1000 {
		t.Errorf("send_rate_limit_wait_seconds_total = %v, want the time spent before the cancel", got)
	}
	// An already cancelled context takes no token.
	if err := l.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a done context = %v", err)
	}
	if got := l.Granted(); got != 1 {
		t.Errorf("Granted = %d, want 1", got)
	}
}

func BenchmarkLimiterWait(b *testing.B) {
	for _, bc := range []struct {
		name string
		eps  float64
	}{{"unlimited", 0}, {"limited-1e9", 1e9}} {
		b.Run(bc.name, func(b *testing.B) {
			l := NewLimiter(bc.eps, newMetricsB(b))
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Wait(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
