package transport

import (
	"sync"
	"sync/atomic"
)

// waitLock is a mutex whose waiters can give up when a channel closes (a
// context's Done, the Sender's done). Free, taking and releasing it costs
// what a sync.Mutex costs, about a third of a channel used as a
// semaphore (send, then receive, each taking the channel's lock): the
// Sender takes it once per message.
type waitLock struct {
	mu      sync.Mutex
	waiters atomic.Int32  // goroutines in lock's slow path
	wake    chan struct{} // one slot: an unlock tells a waiter to try again
}

func newWaitLock() *waitLock { return &waitLock{wake: make(chan struct{}, 1)} }

// tryLock takes the lock if it is free.
func (l *waitLock) tryLock() bool { return l.mu.TryLock() }

// lock takes the lock, waiting as long as it takes unless stop1 or stop2
// (nil: never) closes first: then it returns false without the lock.
func (l *waitLock) lock(stop1, stop2 <-chan struct{}) bool {
	if l.mu.TryLock() {
		return true
	}
	// Count ourselves before trying again: an unlock that happens after a
	// failed attempt then sees us and leaves a wake token.
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		if l.mu.TryLock() {
			return true
		}
		select {
		case <-l.wake:
		case <-stop1:
			return false
		case <-stop2:
			return false
		}
	}
}

// unlock releases the lock and wakes a waiter, if any.
func (l *waitLock) unlock() {
	l.mu.Unlock()
	if l.waiters.Load() > 0 {
		select {
		case l.wake <- struct{}{}:
		default: // a token is already waiting
		}
	}
}
