package transport_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/checkpoint"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/transport"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// msgHead starts every MSG the forwarder writes (body mode json).
const msgHead = `{"mimecast":{"logType":"`

// killCatalog is what the simulator published: the expected MSG of every
// deliverable event and how often rsyslog wrote it.
type killCatalog struct {
	sim     *simulator.Simulator
	streams map[string]string // stream name → type
	counts  []int32           // per deliverable event: complete copies seen
	slot    map[fileKey][]int // per file: record n → slot (-1: not deliverable)
	bytes   int64             // sum of expected message lengths (MSG + LF)
	minLen  int               // shortest expected MSG
}

type fileKey struct {
	typ  string
	file int
}

// expectedMsg is MSG exactly as the forwarder must write record n of file
// of typ: logType first, then every original field unchanged.
func expectedMsg(sim *simulator.Simulator, typ string, file, n int) string {
	ev := string(sim.Event(typ, file, n))
	inner := strings.TrimPrefix(ev, "{")
	if inner != "}" {
		inner = "," + inner
	}
	return msgHead + typ + `"` + inner + "}"
}

func newKillCatalog(sim *simulator.Simulator, now time.Time) *killCatalog {
	c := &killCatalog{sim: sim, streams: map[string]string{}, slot: map[fileKey][]int{}, minLen: 1 << 30}
	for _, typ := range simulator.AllTypes() {
		c.streams[strings.ReplaceAll(typ, " ", "-")] = typ
		for f, n := range sim.Records(typ, now) {
			k := fileKey{typ, f.Index}
			s := c.slot[k]
			if s == nil {
				s = make([]int, f.Records)
				for i := range s {
					s[i] = -1
				}
				c.slot[k] = s
			}
			if !f.Deliverable(n) {
				continue
			}
			s[n] = len(c.counts)
			c.counts = append(c.counts, 0)
			l := len(expectedMsg(sim, typ, f.Index, n))
			c.bytes += int64(l) + 1
			c.minLen = min(c.minLen, l)
		}
	}
	return c
}

// parseID splits "sim-<stream>-<file>-<n>".
func (c *killCatalog) parseID(id string) (typ string, file, n int, ok bool) {
	rest, ok := strings.CutPrefix(id, "sim-")
	if !ok {
		return "", 0, 0, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", 0, 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", 0, 0, false
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '-')
	if j < 0 {
		return "", 0, 0, false
	}
	file, err = strconv.Atoi(rest[j+1:])
	if err != nil {
		return "", 0, 0, false
	}
	typ, ok = c.streams[rest[:j]]
	return typ, file, n, ok
}

// killScan is the result of reading rsyslog's output file.
type killScan struct {
	complete  int      // messages found whole and byte for byte as expected
	truncated int      // message fragments cut by a kill
	bad       []string // anything else (corrupt or unexpected messages)
}

// scan reads rsyslog's output (template `%msg%\n`) as a stream and counts
// every complete expected message. A kill may cut the line being written;
// the restarted rsyslogd then appends to that cut line, so every line is
// split where a message starts.
func (c *killCatalog) scan(path string) (killScan, error) {
	var res killScan
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	head := []byte(msgHead)
	bad := func(format string, args ...any) {
		if len(res.bad) < 20 {
			res.bad = append(res.bad, truncate(fmt.Sprintf(format, args...), 400))
		}
	}
	for sc.Scan() {
		line := sc.Bytes()
		first := bytes.Index(line, head)
		if first != 0 {
			// The tail of a message cut by a kill, or a fragment of a head.
			res.truncated++
			if first < 0 {
				continue
			}
		}
		line = line[first:]
		for len(line) > 0 {
			end := bytes.Index(line[len(head):], head)
			msg := line
			if end >= 0 {
				msg = line[:len(head)+end]
			}
			line = line[len(msg):]
			id, ok := aggregateID(msg)
			if !ok {
				res.truncated++ // cut before its aggregateId was complete
				continue
			}
			typ, file, n, ok := c.parseID(id)
			slots := c.slot[fileKey{typ, file}]
			if !ok || n < 0 || n >= len(slots) {
				bad("unexpected event %s", id)
				continue
			}
			want := expectedMsg(c.sim, typ, file, n)
			switch {
			case string(msg) == want && slots[n] >= 0:
				c.counts[slots[n]]++
				res.complete++
			case string(msg) == want:
				bad("undeliverable event %s was delivered", id)
			case len(msg) < len(want) && strings.HasPrefix(want, string(msg)):
				res.truncated++
			default:
				bad("message of %s differs from the simulated event: %q", id, truncate(string(msg), 300))
			}
		}
	}
	return res, sc.Err()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// aggregateID returns the value of the first "aggregateId" key of msg.
func aggregateID(msg []byte) (string, bool) {
	const key = `"aggregateId":"`
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := msg[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// TestPipelineRsyslogKill runs the whole pipeline — Mimecast API 2.0
// simulator → api2 sources → forwarder (--once) → syslogfmt →
// transport.Sender (tcp, default replay window and acknowledgement wait) →
// a real rsyslogd on loopback — over a backfill of 200,000 events (10 types
// × 20 files × 1000 records) while rsyslogd is SIGKILLed and restarted 10
// times, each time the output file has grown by about 1/11 of the expected
// bytes. After Run returns and the sender is drained, rsyslogd is stopped
// gracefully and its output file is checked: every deliverable event at
// least once, byte for byte; duplicates are counted, logged and bounded by
// what the kills can explain (per kill: the batch in flight of every
// stream, sent again from its start, plus the replay window's worth of
// messages). It is an integration test that runs for about 20-40 s under
// -race on two cores, so it is skipped with -short.
func TestPipelineRsyslogKill(t *testing.T) {
	transport.NeedRsyslog(t)
	if testing.Short() {
		t.Skip("pipeline kill test skipped with -short")
	}
	const (
		filesPerType   = 20
		recordsPerFile = 1000
		kills          = 10
	)
	types := simulator.AllTypes()
	start := time.Now()

	// The Mimecast side: a fixed clock, history only, no rate limit (the
	// budget is not what this test is about).
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim, err := simulator.NewServer(simulator.Options{
		History: filesPerType * simulator.DefaultCadence, LiveInterval: -1,
		RecordsPerFile: recordsPerFile, RateLimit: -1, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cat := newKillCatalog(sim, now)
	total := len(cat.counts)
	if want := len(types) * filesPerType * recordsPerFile; total != want {
		t.Fatalf("simulator publishes %d deliverable events, want %d", total, want)
	}
	t.Logf("%d events (%d types × %d files × %d records), %d MiB of messages; catalog built in %v",
		total, len(types), filesPerType, recordsPerFile, cat.bytes>>20, time.Since(start).Round(time.Millisecond))

	r := transport.StartRsyslog(t, `%msg%\n`)
	addr := "tcp://" + r.Addr()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	store, err := checkpoint.Open(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fcfg := syslogfmt.DefaultConfig()
	fcfg.Hostname = "kill-host"
	fcfg.Version = "test"
	formatter, err := syslogfmt.New(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	tcfg := transport.DefaultConfig() // default replay window and ack wait
	tcfg.Addresses = []string{addr}
	// A restarted rsyslogd listens within ~100 ms: reconnect promptly
	// instead of the production back-off of 0.5-30 s.
	tcfg.BackoffMin, tcfg.BackoffMax = 20*time.Millisecond, 500*time.Millisecond
	sender, err := transport.New(tcfg, m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	id, secret := sim.Credentials()
	sources, err := api2.NewSources(api2.Config{
		BaseURL: sim.URL(), ClientID: id, ClientSecret: secret,
		Lookback: 6 * time.Hour, PageSize: 1, Now: clock, // one batch = one file
		Client: mimecast.ClientConfig{RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, RetryMax: 5,
			MaxRateLimitRetries: 20, RateLimitWaitMax: time.Second, Timeout: 30 * time.Second, ResponseHeaderTimeout: 30 * time.Second},
	}, m, log)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := forwarder.DefaultConfig()
	pcfg.Once = true
	pcfg.PollInterval = 20 * time.Millisecond
	pcfg.RetryMin, pcfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	fwd, err := forwarder.New(pcfg, sources, formatter, sender, store, m, log)
	if err != nil {
		t.Fatal(err)
	}

	// The killer: SIGKILL and restart rsyslogd each time its output has
	// grown by about 1/(kills+1) of the expected bytes.
	stop := make(chan struct{})
	killerDone := make(chan int, 1)
	go func() {
		done := 0
		defer func() { killerDone <- done }()
		for k := 1; k <= kills; k++ {
			threshold := int64(k) * cat.bytes / (kills + 1)
			for {
				if st, err := os.Stat(r.OutFile()); err == nil && st.Size() >= threshold {
					break
				}
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
			t0 := time.Now()
			r.Kill()
			if err := r.Restart(); err != nil {
				t.Errorf("restarting rsyslogd: %v", err) // not Fatal: this is not the test's goroutine
				return
			}
			done = k
			t.Logf("kill %d at %d%% of the expected output: restarted in %v", k, 100*k/(kills+1), time.Since(t0).Round(time.Millisecond))
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	runErr := fwd.Run(ctx)
	var drainErr error
	if runErr == nil {
		drainErr = sender.Drain(ctx) // as `mimecast-forwarder --once` does
	}
	close(stop)
	killed := <-killerDone
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
	if drainErr != nil {
		t.Fatalf("Drain: %v", drainErr)
	}
	elapsed := time.Since(start)
	r.Stop() // graceful: rsyslogd writes what it has read

	res, err := cat.scan(r.OutFile())
	if err != nil {
		t.Fatalf("reading rsyslog's output: %v", err)
	}
	for _, b := range res.bad {
		t.Error(b)
	}
	lost, dups, maxCopies := 0, 0, int32(0)
	for _, n := range cat.counts {
		if n == 0 {
			lost++
		} else {
			dups += int(n) - 1
		}
		maxCopies = max(maxCopies, n)
	}
	// Per kill: every stream's batch in flight is sent again from its
	// start (PageSize 1: one file), and the replay window (at most
	// ReplayMaxBytes) is sent again after the reconnect.
	perKill := len(types)*recordsPerFile + tcfg.ReplayMaxBytes/cat.minLen
	bound := kills * perKill
	rcv := addr
	t.Logf("%d events, %d kills: lost %d, duplicated %d (%.2f%%, at most %d copies of one event; bound %d), cut by a kill %d, complete messages in the file %d",
		total, killed, lost, dups, 100*float64(dups)/float64(total), maxCopies, bound, res.truncated, res.complete)
	t.Logf("batches resent %v, receiver reconnects %v, replayed %v, pipeline time %v (total %v)",
		sumStreams(m.BatchRetries, types), testutil.ToFloat64(m.ReceiverReconnects.WithLabelValues(rcv)),
		testutil.ToFloat64(m.ReceiverReplayed.WithLabelValues(rcv)), elapsed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	if killed != kills {
		t.Errorf("only %d of %d kills happened before the backfill ended", killed, kills)
	}
	if lost != 0 {
		t.Errorf("lost %d of %d events", lost, total)
		shown := 0
		for k, slots := range cat.slot {
			for n, s := range slots {
				if s >= 0 && cat.counts[s] == 0 && shown < 10 {
					t.Logf("lost %s", simulator.EventID(k.typ, k.file, n))
					shown++
				}
			}
		}
	}
	if dups > bound {
		t.Errorf("%d duplicates, more than the %d that %d kills can explain", dups, bound, kills)
	}
	if res.truncated > 2*kills {
		t.Errorf("%d cut message fragments, but only %d kills", res.truncated, kills)
	}
	if res.complete != total+dups {
		t.Errorf("counted %d complete messages, want %d events + %d duplicates", res.complete, total, dups)
	}
	// The pipeline's own books: every event forwarded and committed once.
	if got := sumStreams(m.RecordsForwarded, types); got != float64(total) {
		t.Errorf("records_forwarded_total = %v, want %d", got, total)
	}
	if got := testutil.ToFloat64(m.ReceiverReconnects.WithLabelValues(rcv)); got < kills {
		t.Errorf("receiver_reconnects_total = %v, want ≥ %d", got, kills)
	}
	for _, typ := range types {
		stream := strings.ReplaceAll(typ, " ", "-")
		st := fwd.Status()[stream]
		if st.Records != filesPerType*recordsPerFile || !st.CaughtUp || st.Err != nil {
			t.Errorf("stream %s: %+v, want %d records, caught up", stream, st, filesPerType*recordsPerFile)
		}
		if c, err := store.Load(stream); err != nil || c == nil {
			t.Errorf("stream %s: no committed cursor (%v)", stream, err)
		}
	}
}

func sumStreams(vec *prometheus.CounterVec, types []string) float64 {
	total := 0.0
	for _, typ := range types {
		total += testutil.ToFloat64(vec.WithLabelValues(strings.ReplaceAll(typ, " ", "-")))
	}
	return total
}
