package transport

import "time"

// replayEntry is one message kept for replay.
type replayEntry struct {
	at  time.Time
	msg []byte // a copy, inside one of the ring's chunks
	seq uint64 // sequence number of that chunk
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
// Message bytes are copied, in sending order, into a few large chunks that
// are recycled once every message in them is pruned, so keeping a message
// costs a copy but no allocation. Memory stays below about maxBytes plus a
// quarter for the unused tails of chunks, plus the spare chunks.
type replayRing struct {
	window   time.Duration
	maxBytes int
	entries  []replayEntry // live entries are entries[head:]
	head     int
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

// add records a copy of msg sent at now.
func (r *replayRing) add(now time.Time, msg []byte) {
	if !r.enabled() || len(msg) > r.maxBytes {
		return
	}
	kept, seq := r.store(msg)
	r.entries = append(r.entries, replayEntry{at: now, msg: kept, seq: seq})
	r.bytes += len(msg)
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

// prune drops entries older than the window and the oldest ones beyond
// maxBytes.
func (r *replayRing) prune(now time.Time) {
	pruned := false
	for r.head < len(r.entries) {
		e := r.entries[r.head]
		if now.Sub(e.at) <= r.window && r.bytes <= r.maxBytes {
			break
		}
		r.bytes -= len(e.msg)
		r.entries[r.head] = replayEntry{}
		r.head++
		pruned = true
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

// live returns the entries sent within the window before now, oldest
// first, and forgets the older ones. The slice and the messages are valid
// until the next add or prune.
func (r *replayRing) live(now time.Time) []replayEntry {
	r.prune(now)
	return r.entries[r.head:]
}

// restamp marks every message kept as sent at now: after a replay, they
// are as much at risk as the messages sent with them.
func (r *replayRing) restamp(now time.Time) {
	for i := r.head; i < len(r.entries); i++ {
		r.entries[i].at = now
	}
}

// len returns the number of messages kept.
func (r *replayRing) len() int { return len(r.entries) - r.head }
