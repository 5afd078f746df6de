package flowcontrol

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// Limiter is the events-per-second budget shared by every stream. Create it
// with NewLimiter; it is safe for concurrent use.
type Limiter struct {
	unlimited atomic.Bool
	eps       atomic.Uint64 // math.Float64bits of the rate; 0 = unlimited
	granted   atomic.Uint64 // tokens handed out while limited

	mu     sync.Mutex                   // serialises SetRate
	bucket atomic.Pointer[rate.Limiter] // nil while unlimited
	m      *metrics.Metrics
}

// NewLimiter returns a Limiter of eventsPerSecond (0 or less: unlimited)
// that reports its rate and waits in m.
func NewLimiter(eventsPerSecond float64, m *metrics.Metrics) *Limiter {
	l := &Limiter{m: m}
	l.SetRate(eventsPerSecond)
	return l
}

// burstOf is BurstWindow worth of eventsPerSecond, at least one event.
func burstOf(eventsPerSecond float64) int {
	b := eventsPerSecond * BurstWindow.Seconds()
	if b < 1 || math.IsNaN(b) {
		return 1
	}
	if b > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(b)
}

// SetRate changes the rate; 0 or less means unlimited. Waits already
// granted keep their slot; later ones use the new rate. Coming from
// unlimited, the bucket starts full (one burst).
func (l *Limiter) SetRate(eventsPerSecond float64) { l.setRateAt(time.Now(), eventsPerSecond) }

// setRateAt is SetRate at the time now (tests drive it with a fake clock).
func (l *Limiter) setRateAt(now time.Time, eventsPerSecond float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if eventsPerSecond <= 0 || math.IsInf(eventsPerSecond, 1) || math.IsNaN(eventsPerSecond) {
		l.unlimited.Store(true)
		l.bucket.Store(nil)
		l.eps.Store(0)
		l.m.SendRateLimit.Set(0)
		return
	}
	if b := l.bucket.Load(); b != nil {
		b.SetLimitAt(now, rate.Limit(eventsPerSecond))
		b.SetBurstAt(now, burstOf(eventsPerSecond))
	} else {
		b = rate.NewLimiter(rate.Limit(eventsPerSecond), burstOf(eventsPerSecond))
		b.SetLimitAt(now, rate.Limit(eventsPerSecond)) // the bucket's clock starts now
		l.bucket.Store(b)
	}
	l.eps.Store(math.Float64bits(eventsPerSecond))
	l.unlimited.Store(false)
	l.m.SendRateLimit.Set(eventsPerSecond)
}

// Rate returns the current rate in events per second; 0 means unlimited.
func (l *Limiter) Rate() float64 { return math.Float64frombits(l.eps.Load()) }

// Granted counts the tokens handed out while the rate was limited: the
// events sent (or about to be) under the limit.
func (l *Limiter) Granted() uint64 { return l.granted.Load() }

// Wait takes one token, waiting until it is due or ctx is done (then it
// returns ctx's error and gives the token back). Unlimited: it returns at
// once. The time waited is added to the send_rate_limit_wait metric.
func (l *Limiter) Wait(ctx context.Context) error {
	if l.unlimited.Load() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	r, delay := l.reserve(start)
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		l.m.SendRateWait.Add(delay.Seconds())
		return nil
	case <-ctx.Done():
		now := time.Now()
		r.CancelAt(now)
		l.granted.Add(^uint64(0)) // not used after all
		l.m.SendRateWait.Add(now.Sub(start).Seconds())
		return ctx.Err()
	}
}

// reserve takes one token at now and returns how long the caller must wait
// for it. Tests drive it with a fake clock.
func (l *Limiter) reserve(now time.Time) (*rate.Reservation, time.Duration) {
	b := l.bucket.Load()
	if b == nil { // made unlimited since the caller looked
		return nil, 0
	}
	r := b.ReserveN(now, 1)
	l.granted.Add(1)
	// The burst is at least 1, so the reservation is always OK.
	return r, r.DelayFrom(now)
}
