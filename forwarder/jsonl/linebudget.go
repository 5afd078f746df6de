package jsonl

import (
	"context"
	"sync"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// DefaultLineBudget is the memory budget for long lines of the daemon: two
// lines of DefaultMaxLine bytes at once (see LineClaim).
const DefaultLineBudget = 2 * (2*DefaultMaxLine + lineClaimSlack)

// lineClaimSlack is added to a claim for the CR LF of the line and the
// rounding of buffer sizes.
const lineClaimSlack = 64 << 10

// LineClaim returns the bytes a Scanner reserves from its LineBudget
// for one line longer than the small-line allowance (1 MiB) when its
// maximum line size is maxLine (<= 0: DefaultMaxLine): room for the line
// itself and for one derived copy of the same size (its normalised JSON).
func LineClaim(maxLine int) int64 {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return 2*int64(maxLine) + lineClaimSlack
}

// SmallLine is how long a line or value may grow in a reader's own
// buffers before it must reserve memory from a LineBudget.
const SmallLine = lineBufKeep

// BudgetedLine returns what a reader of lines (or of JSON values) up to
// maxLine bytes (<= 0: DefaultMaxLine) reserves from budget for one longer
// than SmallLine, and the longest it then accepts: LineClaim(maxLine) and
// maxLine, or, when budget (not nil) is smaller than that claim, the whole
// budget and the longest line it can hold.
func BudgetedLine(maxLine int, budget *LineBudget) (claim int64, longest int) {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	claim = LineClaim(maxLine)
	if budget != nil {
		if size := budget.Size(); claim > size {
			return size, int(max((size-lineClaimSlack)/2, 1))
		}
	}
	return claim, maxLine
}

// LineBudget bounds the memory that all the streams of a process hold at
// once for long lines. Lines up to 1 MiB are read in each stream's own
// small buffers; a Scanner whose line grows past that first reserves
// LineClaim bytes of the budget, waiting (first come, first served) while
// other streams hold it, and gives them back when it moves to the next
// line. So ten streams meeting a 30 MB line at the same moment hold at
// most Size bytes of line buffers: the others wait, and a line that cannot
// fit the whole budget is skipped as too long. Because a stream holds at
// most one reservation and never waits while holding one, waiting cannot
// deadlock.
//
// Create one with NewLineBudget and pass it to every source; a nil
// *LineBudget is valid and unlimited. LineBudget is safe for concurrent use.
type LineBudget struct {
	size int64
	m    *metrics.Metrics

	mu      sync.Mutex
	free    int64
	waiters []*lineWaiter // FIFO
}

type lineWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes are granted
}

// NewLineBudget returns a budget of size bytes. m, if not nil, gets the
// bytes in use (line_budget_bytes) and the time spent waiting
// (line_budget_wait_seconds_total). size <= 0 returns nil: unlimited.
func NewLineBudget(size int64, m *metrics.Metrics) *LineBudget {
	if size <= 0 {
		return nil
	}
	return &LineBudget{size: size, free: size, m: m}
}

// Size returns the budget in bytes (0 for a nil, unlimited budget).
func (b *LineBudget) Size() int64 {
	if b == nil {
		return 0
	}
	return b.size
}

// InUse returns the bytes currently reserved.
func (b *LineBudget) InUse() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.size - b.free
}

// Waiting returns how many callers wait for the budget now.
func (b *LineBudget) Waiting() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

// Acquire reserves n bytes (1 ≤ n ≤ Size), waiting behind earlier callers
// until they are free or ctx is done; it then returns ctx's error and
// reserves nothing. A nil budget grants everything at once.
func (b *LineBudget) Acquire(ctx context.Context, n int64) error {
	if b == nil {
		return ctx.Err()
	}
	if n > b.size {
		n = b.size // callers cap their claims; stay safe
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.free >= n {
		b.free -= n
		b.mu.Unlock()
		b.gauge()
		return nil
	}
	w := &lineWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	start := time.Now()
	defer func() {
		if b.m != nil {
			b.m.LineBudgetWait.Add(time.Since(start).Seconds())
		}
	}()
	select {
	case <-w.ready:
		b.gauge()
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.free += n
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grantLocked()
		b.mu.Unlock()
		b.gauge()
		return ctx.Err()
	}
}

// Release gives back n bytes reserved by Acquire.
func (b *LineBudget) Release(n int64) {
	if b == nil || n <= 0 {
		return
	}
	if n > b.size {
		n = b.size
	}
	b.mu.Lock()
	b.free += n
	b.grantLocked()
	b.mu.Unlock()
	b.gauge()
}

// grantLocked wakes waiters in order while the first one fits.
func (b *LineBudget) grantLocked() {
	for len(b.waiters) > 0 && b.free >= b.waiters[0].n {
		w := b.waiters[0]
		b.waiters = b.waiters[1:]
		b.free -= w.n
		close(w.ready)
	}
}

func (b *LineBudget) gauge() {
	if b.m != nil {
		b.m.LineBudgetInUse.Set(float64(b.InUse()))
	}
}
