package transport

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIndexLineBreakOrNUL checks the vectorised scan against
// bytes.IndexAny on every position of every forbidden byte, alone and in
// combination.
func TestIndexLineBreakOrNUL(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		msg := bytes.Repeat([]byte("a"), n)
		if got := indexLineBreakOrNUL(msg); got != -1 {
			t.Fatalf("len %d clean: %d", n, got)
		}
		for k := range 3 {
			m := bytes.Clone(msg)
			for range k + 1 {
				if n > 0 {
					m[rng.IntN(n)] = "\n\r\x00"[rng.IntN(3)]
				}
			}
			if got, want := indexLineBreakOrNUL(m), bytes.IndexAny(m, "\n\r\x00"); got != want {
				t.Fatalf("%q: %d, want %d", m, got, want)
			}
		}
	}
}

// TestCountersExactAfterConfirm: the message and byte counters, added per
// flush rather than per message, are exact whenever Confirm returns (many
// buffer flushes in between), after a loss and after Close.
func TestCountersExactAfterConfirm(t *testing.T) {
	env := newEnv(t)
	ln := discardServer(t)
	c := testConfig(ProfileWazuh, "tcp://"+ln.Addr().String())
	c.ReplayWindow = 0 // replayed messages would be counted again
	s := newSender(t, env, c)
	r := s.eps[0]
	rng := rand.New(rand.NewPCG(7, 8))
	msgs, total := 0, 0
	send := func(n int) {
		t.Helper()
		for range n {
			m := bytes.Repeat([]byte("m"), 1+rng.IntN(3000))
			if _, err := s.Send(t.Context(), m); err != nil {
				t.Fatal(err)
			}
			msgs++
			total += len(m) + 1
		}
	}
	check := func(when string) {
		t.Helper()
		if v := value(r.messages); v != float64(msgs) {
			t.Errorf("%s: messages = %v, want %d", when, v, msgs)
		}
		if v := value(r.bytes); v != float64(total) {
			t.Errorf("%s: bytes = %v, want %d", when, v, total)
		}
	}
	for batch := range 20 {
		ep := s.Epoch()
		send(1 + rng.IntN(300)) // up to about 14 buffers of 64 KiB
		if err := s.Confirm(t.Context(), ep); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("after Confirm %d", batch))
	}
	// Written to a connection that is then lost: counted, as before.
	send(3)
	s.lock.lock(nil, nil)
	s.drop(s.cur, errors.New("test"))
	s.release()
	check("after a loss")
	// Written, not confirmed, then closed.
	send(7)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after Close")
}

// TestWaitLock: the per-message fast path does not allocate; waiters give
// up on their stop channel or get the lock in turn.
func TestWaitLock(t *testing.T) {
	l := newWaitLock()
	if n := testing.AllocsPerRun(100, func() {
		if !l.lock(nil, nil) {
			t.Fatal("lock")
		}
		l.unlock()
	}); n != 0 {
		t.Errorf("lock+unlock allocates %v", n)
	}
	// A waiter gives up when its stop channel closes, and gets the lock
	// when it is released.
	l.lock(nil, nil)
	stop := make(chan struct{})
	gaveUp := make(chan bool)
	go func() { gaveUp <- !l.lock(stop, nil) }()
	close(stop)
	if !<-gaveUp {
		t.Fatal("waiter took a held lock")
	}
	got := make(chan bool)
	for range 3 {
		go func() { got <- l.lock(nil, make(chan struct{})) }()
	}
	l.unlock()
	for range 3 { // each holder passes it on
		if !<-got {
			t.Fatal("waiter gave up")
		}
		l.unlock()
	}
	if !l.tryLock() {
		t.Fatal("lock not free at the end")
	}
	l.unlock()
}
