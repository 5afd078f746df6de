package transport

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// addAt adds msg and stamps the ring at now: a message flushed as soon as
// it is sent.
func addAt(r *replayRing, now time.Time, msg []byte) {
	r.add(msg)
	r.stamp(now)
}

// ringMessages returns the live messages of r, oldest first, as strings.
func ringMessages(r *replayRing, now time.Time) []string {
	var out []string
	for _, e := range r.live(now) {
		out = append(out, string(e.msg))
	}
	return out
}

func TestReplayRingWindowAndBytes(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	r := replayRing{window: 2 * time.Second, maxBytes: 10}
	for i, m := range []string{"aaa", "bbb", "ccc"} {
		addAt(&r, t0.Add(time.Duration(i)*time.Second), []byte(m))
	}
	if got := ringMessages(&r, t0.Add(2*time.Second)); fmt.Sprint(got) != "[aaa bbb ccc]" {
		t.Fatalf("live = %q", got)
	}
	// Beyond maxBytes: the oldest goes.
	addAt(&r, t0.Add(2*time.Second), []byte("dd"))
	if got := ringMessages(&r, t0.Add(2*time.Second)); fmt.Sprint(got) != "[bbb ccc dd]" || r.bytes != 8 {
		t.Fatalf("live = %q, bytes %d", got, r.bytes)
	}
	// Outside the window.
	if got := ringMessages(&r, t0.Add(3500*time.Millisecond)); fmt.Sprint(got) != "[ccc dd]" {
		t.Fatalf("live = %q", got)
	}
	if got := ringMessages(&r, t0.Add(10*time.Second)); len(got) != 0 || r.len() != 0 || r.bytes != 0 || len(r.chunks) != 0 {
		t.Fatalf("live = %q, len %d, bytes %d, chunks %d", got, r.len(), r.bytes, len(r.chunks))
	}
	// Larger than maxBytes: not kept.
	addAt(&r, t0.Add(10*time.Second), []byte("0123456789A"))
	if r.len() != 0 {
		t.Fatalf("kept a message larger than maxBytes")
	}
	// Disabled.
	off := replayRing{window: 0, maxBytes: 10}
	addAt(&off, t0, []byte("x"))
	if off.len() != 0 {
		t.Fatal("disabled ring kept a message")
	}
}

// TestReplayRingReusesChunks checks that the copies survive the caller
// reusing its buffer, that recycled chunks never corrupt live messages and
// that memory stays bounded while messages of mixed sizes stream through.
func TestReplayRingReusesChunks(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	const maxBytes = 256 << 10
	r := replayRing{window: time.Hour, maxBytes: maxBytes}
	buf := make([]byte, 0, 64<<10)
	var sent [][]byte
	for i := range 6000 {
		size := 50 + i*37%900
		if i%150 == 0 {
			size = 20000 + i%3000 // larger than a quarter chunk: a chunk of its own
		}
		buf = buf[:0]
		for len(buf) < size {
			buf = fmt.Appendf(buf, "<%d>", i)
		}
		msg := buf[:size]
		addAt(&r, t0, msg)
		sent = append(sent, bytes.Clone(msg))
		clear(buf[:cap(buf)]) // the caller reuses its buffer
		if i%397 == 0 || i == 5999 {
			live := r.live(t0)
			if len(live) == 0 {
				t.Fatalf("message %d: nothing live", i)
			}
			total := 0
			for k, e := range live {
				want := sent[len(sent)-len(live)+k]
				if !bytes.Equal(e.msg, want) {
					t.Fatalf("message %d: live entry %d is %q…, want %q…", i, k, e.msg[:min(20, len(e.msg))], want[:min(20, len(want))])
				}
				total += len(e.msg)
			}
			if total != r.bytes || total > maxBytes {
				t.Fatalf("message %d: %d bytes live, ring says %d, max %d", i, total, r.bytes, maxBytes)
			}
			held := 0
			for _, c := range r.chunks {
				held += cap(c)
			}
			for _, c := range r.spare {
				held += cap(c)
			}
			if limit := maxBytes + maxBytes/4 + (maxSpareChunks+2)*r.chunkSize(); held > limit {
				t.Fatalf("message %d: chunks hold %d bytes, more than %d", i, held, limit)
			}
		}
	}
}

func TestReplayRingAddAllocs(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	r := replayRing{window: time.Hour, maxBytes: 1 << 20}
	msg := bytes.Repeat([]byte("m"), 800)
	for range 5000 { // warm up: entries slice and chunks at their steady size
		addAt(&r, t0, msg)
	}
	if n := testing.AllocsPerRun(1000, func() { addAt(&r, t0, msg) }); n != 0 {
		t.Errorf("add allocates %v times per message in steady state", n)
	}
}

// refRing is the replay ring as first written (one allocation per
// message), plus messages not yet stamped (zero at: never too old): the
// reference for TestReplayRingMatchesReference and
// TestReplayRingStampedAtFlush.
type refRing struct {
	window   time.Duration
	maxBytes int
	entries  []replayEntry
	bytes    int
}

func (r *refRing) add(now time.Time, msg []byte) {
	if r.window <= 0 || r.maxBytes <= 0 || len(msg) > r.maxBytes {
		return
	}
	r.entries = append(r.entries, replayEntry{at: now, msg: bytes.Clone(msg)})
	r.bytes += len(msg)
	r.prune(now)
}

func (r *refRing) stamp(now time.Time) {
	for i := range r.entries {
		if r.entries[i].at.IsZero() {
			r.entries[i].at = now
		}
	}
	r.prune(now)
}

func (r *refRing) prune(now time.Time) {
	for len(r.entries) > 0 {
		e := r.entries[0]
		if (e.at.IsZero() || now.Sub(e.at) <= r.window) && r.bytes <= r.maxBytes {
			break
		}
		r.bytes -= len(e.msg)
		r.entries = r.entries[1:]
	}
}

// compareLive fails t unless r and the reference would replay the same
// messages, with the same times, after a loss noticed at now.
func compareLive(t *testing.T, r *replayRing, ref *refRing, now time.Time, where string) {
	t.Helper()
	live := r.live(now)
	ref.prune(now)
	if len(live) != len(ref.entries) || r.bytes != ref.bytes {
		t.Fatalf("%s: %d live (%d bytes), reference %d (%d bytes)", where, len(live), r.bytes, len(ref.entries), ref.bytes)
	}
	for k := range live {
		if !bytes.Equal(live[k].msg, ref.entries[k].msg) || !live[k].at.Equal(ref.entries[k].at) {
			t.Fatalf("%s: live entry %d differs from the reference", where, k)
		}
	}
}

// TestReplayRingStampedAtFlush: messages are timed by the flush that puts
// them on the wire. Until then no age drops them (a connection lost with
// them in its buffer replays them whenever it is noticed), maxBytes does;
// after a replay (unstamp) they wait for the next flush again.
func TestReplayRingStampedAtFlush(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	r := replayRing{window: time.Second, maxBytes: 10}
	r.add([]byte("aaa"))
	r.add([]byte("bbb"))
	if !r.unstamped() {
		t.Fatal("added messages are not waiting for their stamp")
	}
	if got := ringMessages(&r, t0.Add(time.Hour)); fmt.Sprint(got) != "[aaa bbb]" {
		t.Fatalf("unstamped: live = %q", got)
	}
	r.stamp(t0)
	r.add([]byte("ccc"))
	if got := ringMessages(&r, t0.Add(2*time.Second)); fmt.Sprint(got) != "[ccc]" {
		t.Fatalf("after the window of the stamped ones: live = %q", got)
	}
	r.add([]byte("dddddddd")) // 11 bytes > 10: the oldest goes, stamped or not
	if got := ringMessages(&r, t0); fmt.Sprint(got) != "[dddddddd]" || r.bytes != 8 {
		t.Fatalf("beyond maxBytes: live = %q, %d bytes", got, r.bytes)
	}
	r.stamp(t0.Add(5 * time.Second))
	r.unstamp() // replayed into a new connection's buffer
	if got := ringMessages(&r, t0.Add(time.Hour)); fmt.Sprint(got) != "[dddddddd]" {
		t.Fatalf("after unstamp: live = %q", got)
	}
	r.stamp(t0.Add(time.Hour))
	if got := ringMessages(&r, t0.Add(time.Hour+2*time.Second)); len(got) != 0 || r.unstamped() {
		t.Fatalf("stamped again then aged: live = %q", got)
	}

	// Random sends, flushes, replays and looks, against the reference.
	rng := rand.New(rand.NewPCG(5, 6))
	for _, cfg := range []struct {
		window   time.Duration
		maxBytes int
	}{{time.Second, 64 << 10}, {20 * time.Millisecond, 1 << 20}, {time.Hour, 5000}} {
		r := replayRing{window: cfg.window, maxBytes: cfg.maxBytes}
		ref := refRing{window: cfg.window, maxBytes: cfg.maxBytes}
		now := t0
		for i := range 6000 {
			now = now.Add(time.Duration(rng.IntN(2000)) * time.Microsecond)
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, 1+rng.IntN(1500))
			msg[0] = byte(i)
			r.add(msg)
			ref.add(time.Time{}, msg)
			switch rng.IntN(40) {
			case 0, 1: // a flush
				r.stamp(now)
				ref.stamp(now)
			case 2: // a replay after a loss
				if rng.IntN(4) == 0 {
					r.unstamp()
					for k := range ref.entries {
						ref.entries[k].at = time.Time{}
					}
				}
			case 3: // a loss noticed later
				later := now.Add(time.Duration(rng.IntN(int(2 * cfg.window))))
				compareLive(t, &r, &ref, later, fmt.Sprintf("%+v message %d", cfg, i))
				now = later
			}
		}
	}
}

// TestReplayRingMatchesReference drives the chunked ring and the reference
// with the same random messages, sizes and clock, and compares what they
// would replay.
func TestReplayRingMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, cfg := range []struct {
		window   time.Duration
		maxBytes int
	}{{time.Second, 64 << 10}, {50 * time.Millisecond, 1 << 20}, {time.Hour, 5000}, {time.Second, 300 << 10}} {
		r := replayRing{window: cfg.window, maxBytes: cfg.maxBytes}
		ref := refRing{window: cfg.window, maxBytes: cfg.maxBytes}
		now := time.Unix(1700000000, 0)
		for i := range 4000 {
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Microsecond)
			size := 1 + rng.IntN(1500)
			if rng.IntN(100) == 0 {
				size = rng.IntN(cfg.maxBytes + 100)
			}
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			if size > 0 {
				msg[0] = byte(i)
			}
			addAt(&r, now, msg)
			ref.add(now, msg)
			if rng.IntN(50) == 0 {
				later := now.Add(time.Duration(rng.IntN(int(2 * cfg.window))))
				compareLive(t, &r, &ref, later, fmt.Sprintf("%+v message %d", cfg, i))
				now = later
			}
		}
	}
}
