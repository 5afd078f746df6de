package mimecast

import (
	"context"
	"sync"
	"time"
)

// Budget is a token bucket that spaces API calls: it refills at
// requestsPerMinute and holds at most burst tokens; every API request
// (every attempt, retries included) takes one. Share one Budget between all
// the streams that call the same Mimecast account, so that many log types
// polling at once stay under Mimecast's per-user rate limit instead of
// provoking 429 storms. Presigned batch file downloads go to storage, not
// to the API, and do not use it.
//
// A nil *Budget is valid and unlimited. Budget is safe for concurrent use.
type Budget struct {
	mu       sync.Mutex
	interval time.Duration // time to earn one token
	burst    float64
	tokens   float64
	last     time.Time

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewBudget returns a budget of requestsPerMinute with the given burst
// (values below 1 mean 1). requestsPerMinute <= 0 returns nil: unlimited.
// The bucket starts full.
func NewBudget(requestsPerMinute float64, burst int) *Budget {
	if requestsPerMinute <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &Budget{
		interval: time.Duration(float64(time.Minute) / requestsPerMinute),
		burst:    float64(burst),
		tokens:   float64(burst),
		now:      time.Now,
		sleep:    sleepCtx,
	}
}

// Wait takes one token, waiting until one is available or ctx is done. It
// returns how long it waited; on cancellation it returns ctx's error and
// gives the token back.
func (b *Budget) Wait(ctx context.Context) (time.Duration, error) {
	if b == nil {
		return 0, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	now := b.now()
	if !b.last.IsZero() {
		b.tokens += float64(now.Sub(b.last)) / float64(b.interval)
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	b.tokens-- // reserve; a negative balance queues callers in order
	var wait time.Duration
	if b.tokens < 0 {
		wait = time.Duration(-b.tokens * float64(b.interval))
	}
	b.mu.Unlock()
	if wait <= 0 {
		return 0, nil
	}
	if err := b.sleep(ctx, wait); err != nil {
		b.mu.Lock()
		b.tokens++
		b.mu.Unlock()
		return 0, err
	}
	return wait, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
