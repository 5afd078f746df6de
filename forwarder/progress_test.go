package forwarder_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// backfillSource stands for a Mimecast endpoint with a long history: batch
// i reads the hour starting at start+i h, holds perBatch events (each at
// half past), and takes 10 s of the clock to fetch. The batches in
// caughtUp are the last for now; done is closed at the last batch, after
// which the source has nothing new.
type backfillSource struct {
	stream, typ string
	clk         *mimecasttest.Clock
	start       time.Time
	batches     int
	perBatch    int
	caughtUp    map[int]bool
	positioner  bool // batches implement source.Positioner
	done        chan struct{}
}

func (s *backfillSource) Stream() string { return s.stream }

func (s *backfillSource) Fetch(ctx context.Context, cursor []byte) (source.Batch, error) {
	i := 0
	if cursor != nil {
		n, err := strconv.Atoi(string(cursor))
		if err != nil {
			return nil, err
		}
		i = n
	}
	s.clk.Advance(10 * time.Second)
	b := &backfillBatch{i: i, pos: s.start.Add(time.Duration(i) * time.Hour), n: s.perBatch, typ: s.typ, caughtUp: s.caughtUp[i]}
	switch {
	case i == s.batches-1:
		close(s.done)
	case i >= s.batches:
		// Nothing new: the last batch again, empty, caught up.
		b = &backfillBatch{i: s.batches - 1, pos: s.start.Add(time.Duration(s.batches-1) * time.Hour), typ: s.typ, caughtUp: true}
	}
	if s.positioner {
		return &positionedBatch{b}, nil
	}
	return b, nil
}

type backfillBatch struct {
	i, n     int
	pos      time.Time
	typ      string
	caughtUp bool
}

func (b *backfillBatch) Records(ctx context.Context, fn func(*source.Record) error) error {
	t := b.pos.Add(30 * time.Minute)
	for k := range b.n {
		js := fmt.Sprintf(`{"batch":%d,"n":%d,"eventTime":%q}`, b.i, k, t.Format(time.RFC3339))
		if err := fn(&source.Record{Type: b.typ, Time: t, JSON: []byte(js)}); err != nil {
			return err
		}
	}
	return nil
}
func (b *backfillBatch) Cursor() []byte { return []byte(strconv.Itoa(b.i + 1)) }
func (b *backfillBatch) CaughtUp() bool { return b.caughtUp }

type positionedBatch struct{ *backfillBatch }

func (b *positionedBatch) Position() (string, time.Time) {
	return fmt.Sprintf("window %d", b.i), b.pos
}

var progressRE = regexp.MustCompile(`msg="stream progress" stream=(\S+) (.*)`)

// TestProgress: while a stream is behind, the pipeline logs one line per
// stream at most every ProgressEvery (here 30 s of a fake clock, 10 s per
// batch) with where it is, the records delivered so far, the rate and how
// far behind now it is; a caught-up batch starts over. The position is
// the batch's source.Positioner answer, else its newest event, and it is
// exported as mimecast_forwarder_position_timestamp_seconds.
func TestProgress(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	start := t0.Add(-48 * time.Hour)
	for _, positioner := range []bool{true, false} {
		t.Run(fmt.Sprintf("positioner=%v", positioner), func(t *testing.T) {
			clk := mimecasttest.NewClock(t0)
			logs := &mimecasttest.SyncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			rcv := newReceiver(t)
			m, store, formatter, sender := newOutput(t, log, t.TempDir(), rcv.addr(), syslogfmt.BodyJSON, 0)
			defer store.Close()
			defer sender.Close()
			src := &backfillSource{stream: "audit", typ: "audit", clk: clk, start: start, batches: 15, perBatch: 100,
				caughtUp: map[int]bool{9: true, 14: true}, positioner: positioner, done: make(chan struct{})}
			cfg := forwarder.DefaultConfig()
			cfg.PollInterval, cfg.Now = time.Millisecond, clk.Now
			fwd, err := forwarder.New(cfg, []source.Source{src}, formatter, sender, store, m, log)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- fwd.Run(ctx) }()
			<-src.done
			eventuallyTrue(t, func() bool { return fwd.Status()["audit"].Batches >= 15 })
			cancel()
			if err := <-errc; err != nil {
				t.Fatal(err)
			}

			// Batch i is committed at t0+10s·(i+1); batch 9 is caught up.
			var want []string
			for _, i := range []int{2, 5, 8, 12} {
				now := t0.Add(time.Duration(i+1) * 10 * time.Second)
				pos := start.Add(time.Duration(i) * time.Hour)
				newest := pos.Add(30 * time.Minute)
				line := ""
				if positioner {
					line = fmt.Sprintf("at=\"window %d\" position=%s ", i, pos.Format(time.RFC3339))
				} else {
					line = fmt.Sprintf("position=%s ", newest.Format(time.RFC3339))
				}
				want = append(want, line+fmt.Sprintf("behind=%s records=%d rate=10.0/s", now.Sub(newest), (i+1)*100))
			}
			var got []string
			for _, m := range progressRE.FindAllStringSubmatch(logs.String(), -1) {
				if m[1] != "audit" {
					t.Errorf("progress line of stream %q", m[1])
				}
				got = append(got, m[2])
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			last := start.Add(14 * time.Hour)
			if !positioner {
				last = last.Add(30 * time.Minute)
			}
			if got := testutil.ToFloat64(m.Position.WithLabelValues("audit")); got != float64(last.Unix()) {
				t.Errorf("position_timestamp_seconds = %v, want %v (%s)", got, last.Unix(), last)
			}
			if rcv.count() != 1500 {
				t.Errorf("receiver got %d events, want 1500", rcv.count())
			}
		})
	}
}

// eventuallyTrue waits (up to 10 s) for cond.
func eventuallyTrue(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
