package transport

import "time"

// replayEntry is one message kept for replay.
type replayEntry struct {
	at  time.Time
	msg []byte
}

// replayRing keeps the most recently sent messages: those sent within window,
// at most maxBytes message bytes in total. Not safe for concurrent use (the
// Sender's lock guards it).
type replayRing struct {
	window   time.Duration
	maxBytes int
	entries  []replayEntry // live entries are entries[head:]
	head     int
	bytes    int
}

func (r *replayRing) enabled() bool { return r.window > 0 && r.maxBytes > 0 }

// add records a copy of msg sent at now.
func (r *replayRing) add(now time.Time, msg []byte) {
	if !r.enabled() || len(msg) > r.maxBytes {
		return
	}
	r.entries = append(r.entries, replayEntry{at: now, msg: append([]byte(nil), msg...)})
	r.bytes += len(msg)
	r.prune(now)
}

// prune drops entries older than the window and the oldest ones beyond
// maxBytes.
func (r *replayRing) prune(now time.Time) {
	for r.head < len(r.entries) {
		e := r.entries[r.head]
		if now.Sub(e.at) <= r.window && r.bytes <= r.maxBytes {
			break
		}
		r.bytes -= len(e.msg)
		r.entries[r.head] = replayEntry{}
		r.head++
	}
	if r.head == len(r.entries) {
		r.entries = r.entries[:0]
		r.head = 0
	} else if r.head >= 1024 && r.head*2 >= len(r.entries) {
		n := copy(r.entries, r.entries[r.head:])
		clear(r.entries[n:])
		r.entries = r.entries[:n]
		r.head = 0
	}
}

// live returns the entries still inside the window, oldest first. The slice
// is valid until the next add or prune.
func (r *replayRing) live(now time.Time) []replayEntry {
	r.prune(now)
	return r.entries[r.head:]
}

// len returns the number of messages kept.
func (r *replayRing) len() int { return len(r.entries) - r.head }
