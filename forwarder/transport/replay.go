package transport

import "time"

// replayEntry is one message kept for replay.
type replayEntry struct {
	at  time.Time // when it was on the wire (stamp); zero until then
	msg []byte    // a copy, inside one of the ring's chunks
	seq uint64    // sequence number of that chunk
}

// Chunk sizes of the replay ring's byte store: maxBytes/8, within these
// bounds.
const (
	minReplayChunk = 16 << 10
	maxReplayChunk = 256 << 10
	// maxSpareChunks is how many emptied chunks are kept for reuse.
	maxSpareChunks = 4
)

// replayRing keeps the most recently sent messages: those sent within window,
// at most maxBytes message bytes in total. Not safe for concurrent use (the
// Sender's lock guards it).
//
// A message is added when it is written to the connection's buffer and
// timed when that buffer is flushed (stamp): what counts for the window is
// when it went on the wire, and one clock reading per flush is cheaper
// than one per message. A message not yet stamped is newer than every
// stamped one; it is never dropped for its age, only for maxBytes.
//
// Message bytes are copied, in sending order, into a few large chunks that
// are recycled once every message in them is pruned, so keeping a message
// costs a copy but no allocation. Memory stays below about maxBytes plus a
// quarter for the unused tails of chunks, plus the spare chunks.
type replayRing struct {
	window   time.Duration
	maxBytes int
	entries  []replayEntry // live entries are entries[head:]
	head     int
	stamped  int // entries[:stamped] have their time (at)
	bytes    int

	chunks   [][]byte // chunks[k] has sequence number firstSeq+k; the last one is being filled
	firstSeq uint64
	spare    [][]byte // emptied standard-size chunks, len 0
}

func (r *replayRing) enabled() bool { return r.window > 0 && r.maxBytes > 0 }

// chunkSize is the size of a standard chunk.
func (r *replayRing) chunkSize() int {
	return min(max(r.maxBytes/8, minReplayChunk), maxReplayChunk)
}

// add records a copy of msg, not yet stamped.
func (r *replayRing) add(msg []byte) {
	if !r.enabled() || len(msg) > r.maxBytes {
		return
	}
	kept, seq := r.store(msg)
	r.entries = append(r.entries, replayEntry{msg: kept, seq: seq})
	r.bytes += len(msg)
	if r.bytes > r.maxBytes {
		r.prune(time.Time{})
	}
}

// unstamped reports messages added since the last stamp.
func (r *replayRing) unstamped() bool { return r.stamped < len(r.entries) }

// stamp records that every message added so far was on the wire at now,
// and drops those older than the window.
func (r *replayRing) stamp(now time.Time) {
	for i := r.stamped; i < len(r.entries); i++ {
		r.entries[i].at = now
	}
	r.stamped = len(r.entries)
	r.prune(now)
}

// store copies msg into the chunk being filled, or a new one, and returns
// the copy and the chunk's sequence number.
func (r *replayRing) store(msg []byte) ([]byte, uint64) {
	n := len(r.chunks)
	if n == 0 || cap(r.chunks[n-1])-len(r.chunks[n-1]) < len(msg) {
		var c []byte
		size := r.chunkSize()
		switch {
		case len(msg) > size/4:
			// A large message gets a chunk of its own, not recycled, so that
			// at most a quarter of a standard chunk is ever left unused.
			c = make([]byte, 0, len(msg))
		case len(r.spare) > 0:
			c = r.spare[len(r.spare)-1]
			r.spare[len(r.spare)-1] = nil
			r.spare = r.spare[:len(r.spare)-1]
		default:
			c = make([]byte, 0, size)
		}
		r.chunks = append(r.chunks, c)
		n++
	}
	c := r.chunks[n-1]
	start := len(c)
	c = append(c, msg...)
	r.chunks[n-1] = c
	return c[start:len(c):len(c)], r.firstSeq + uint64(n-1)
}

// prune drops the oldest entries beyond maxBytes and, unless now is zero,
// the stamped entries older than the window before now.
func (r *replayRing) prune(now time.Time) {
	pruned := false
	for r.head < len(r.entries) {
		e := r.entries[r.head]
		if r.bytes <= r.maxBytes && (now.IsZero() || r.head >= r.stamped || now.Sub(e.at) <= r.window) {
			break
		}
		r.bytes -= len(e.msg)
		r.entries[r.head] = replayEntry{}
		r.head++
		pruned = true
	}
	r.stamped = max(r.stamped, r.head)
	if r.head == len(r.entries) {
		r.entries = r.entries[:0]
		r.head = 0
		r.stamped = 0
	} else if r.head >= 1024 && r.head*2 >= len(r.entries) {
		n := copy(r.entries, r.entries[r.head:])
		clear(r.entries[n:])
		r.entries = r.entries[:n]
		r.stamped -= r.head
		r.head = 0
	}
	if pruned {
		r.recycle()
	}
}

// recycle releases the chunks older than the oldest live entry's (all of
// them when no entry is left).
func (r *replayRing) recycle() {
	drop := len(r.chunks)
	if r.head < len(r.entries) {
		drop = int(r.entries[r.head].seq - r.firstSeq)
	}
	if drop == 0 {
		return
	}
	size := r.chunkSize()
	for _, c := range r.chunks[:drop] {
		if cap(c) == size && len(r.spare) < maxSpareChunks {
			r.spare = append(r.spare, c[:0])
		}
	}
	n := copy(r.chunks, r.chunks[drop:])
	clear(r.chunks[n:])
	r.chunks = r.chunks[:n]
	r.firstSeq += uint64(drop)
}

// live returns the entries sent within the window before now or not yet
// stamped, oldest first, and forgets the older ones. The slice and the
// messages are valid until the next add or prune.
func (r *replayRing) live(now time.Time) []replayEntry {
	r.prune(now)
	return r.entries[r.head:]
}

// unstamp marks every message kept as not yet on the wire: after a
// replay they wait in the new connection's buffer, as much at risk as the
// messages sent with them, and the next stamp times them all.
func (r *replayRing) unstamp() {
	for i := r.head; i < len(r.entries); i++ {
		r.entries[i].at = time.Time{}
	}
	r.stamped = r.head
}

// len returns the number of messages kept.
func (r *replayRing) len() int { return len(r.entries) - r.head }
