// Package forwarder runs the pipeline of mimecast-forwarder: one goroutine
// per stream fetches batches from its source.Source, formats every record
// as a syslog message, hands it to a shared Sender, waits until the receiver
// has the whole batch and only then commits the batch's cursor.
//
// Delivery is at-least-once: a batch whose delivery failed part way (the
// receiver went away, the connection was replaced) is fetched again from
// the same cursor and sent again from its start; a cursor is never committed
// past a record that was not delivered. A batch that was delivered but whose
// cursor could not be written is retried until the write succeeds, so a full
// disk pauses the stream instead of losing its place.
//
// The pipeline is generic: it knows streams, batches, records and cursors,
// nothing about Mimecast (package mimecast provides the sources).
package forwarder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// Formatter turns one record into one syslog message (without framing).
// It must be safe for concurrent use. forwarder/syslogfmt implements it.
type Formatter interface {
	Append(dst []byte, r *source.Record) (out []byte, shrunk bool, err error)
}

// Sender delivers messages to the receiver. It must be safe for concurrent
// use. forwarder/transport implements it; WriterSender writes to an
// io.Writer.
type Sender interface {
	// Send writes one message, blocking while no receiver is reachable,
	// and returns the epoch of the connection that took it: the epoch
	// changes whenever a connection is lost or replaced. An error for
	// which source.IsPermanent holds (a receiver that cannot be used as
	// configured) stops the stream instead of sending the batch again.
	Send(ctx context.Context, msg []byte) (epoch uint64, err error)
	// Confirm returns nil once every message sent so far reached the
	// receiver on the connection of epoch; an error means the caller must
	// send its batch again.
	Confirm(ctx context.Context, epoch uint64) error
}

// CursorStore keeps one cursor per stream. checkpoint.Store implements it.
// A store that also has Corrupt(stream string, problem error) error (as
// checkpoint.Store does) words the error of a stored cursor the source
// refuses (source.CursorChecker).
type CursorStore interface {
	Load(stream string) ([]byte, error)
	Save(stream string, cursor []byte) error
}

// Config tunes the pipeline.
type Config struct {
	// PollInterval is the wait after the API said a stream is caught up
	// (POLL_INTERVAL). While not caught up, the next batch is fetched at once.
	PollInterval time.Duration
	// RetryMin and RetryMax bound the exponential back-off (with jitter)
	// after a failed fetch or cursor write.
	RetryMin, RetryMax time.Duration
	// Once makes every stream stop when it is caught up; Run then returns.
	// Any failure then ends the stream and makes Run return an error.
	Once bool
	// FetchErrorReason, when set, names the stream_errors_total reason of a
	// fetch error (e.g. "auth" for refused credentials); "" or nil means
	// "fetch". Permanent errors are counted by their source.
	FetchErrorReason func(error) string
	// MaxDeliveryRetries bounds, in Once mode, how often one batch is sent
	// again after delivery failures before the stream gives up. Unlimited
	// when not in Once mode.
	MaxDeliveryRetries int
	// ProgressEvery is the least time between two progress lines of one
	// stream while it is behind (not caught up); 0 logs none.
	ProgressEvery time.Duration
	// Now is the clock of the pipeline; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the defaults: poll every minute, back off 1 s to 5
// min, a progress line every 30 s while a stream is behind.
func DefaultConfig() Config {
	return Config{PollInterval: time.Minute, RetryMin: time.Second, RetryMax: 5 * time.Minute, MaxDeliveryRetries: 10,
		ProgressEvery: DefaultProgressEvery}
}

// Validate reports every problem of c, one line each.
func (c Config) Validate() error {
	var errs []error
	if c.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("POLL_INTERVAL %s: must be positive", c.PollInterval))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, fmt.Errorf("retry back-off %s..%s: minimum must be positive and not above the maximum", c.RetryMin, c.RetryMax))
	}
	return errors.Join(errs...)
}

// Forwarder runs the streams. Create it with New and call Run once.
type Forwarder struct {
	cfg     Config
	sources []source.Source
	fmt     Formatter
	sender  Sender
	store   CursorStore
	m       *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	status map[string]StreamStatus
}

// StreamStatus is what Status reports about one stream.
type StreamStatus struct {
	Records  uint64    // records delivered and committed since start
	Batches  uint64    // batches committed since start
	CaughtUp bool      // the last batch was the last one for now
	Newest   time.Time // own time of the newest event delivered
	Err      error     // why the stream stopped, if it did
}

// New prepares a Forwarder. Every source must have a distinct stream name.
func New(cfg Config, sources []source.Source, f Formatter, s Sender, store CursorStore, m *metrics.Metrics, log *slog.Logger) (*Forwarder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(sources) == 0 {
		return nil, errors.New("forwarder: no stream to run")
	}
	seen := map[string]bool{}
	status := map[string]StreamStatus{}
	for _, src := range sources {
		name := src.Stream()
		if seen[name] {
			return nil, fmt.Errorf("forwarder: stream %q configured twice", name)
		}
		seen[name] = true
		status[name] = StreamStatus{}
		m.InitStream(name)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Forwarder{cfg: cfg, sources: sources, fmt: f, sender: s, store: store, m: m, log: log, now: now, status: status}, nil
}

// Status returns a snapshot of every stream's progress.
func (f *Forwarder) Status() map[string]StreamStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]StreamStatus, len(f.status))
	for k, v := range f.status {
		out[k] = v
	}
	return out
}

func (f *Forwarder) update(stream string, fn func(*StreamStatus)) {
	f.mu.Lock()
	st := f.status[stream]
	fn(&st)
	f.status[stream] = st
	f.mu.Unlock()
}

// Run loads every stream's cursor (an unreadable cursor is an error before
// anything starts; one its source refuses stops that stream with a
// permanent error), then runs the streams until ctx is done or, in Once
// mode, until every stream is caught up. It returns nil on a clean stop,
// else the errors of the streams that failed.
func (f *Forwarder) Run(ctx context.Context) error {
	cursors := make([][]byte, len(f.sources))
	for i, src := range f.sources {
		c, err := f.store.Load(src.Stream())
		if err != nil {
			return fmt.Errorf("stream %s: load cursor: %w", src.Stream(), err)
		}
		cursors[i] = c
	}
	errs := make([]error, len(f.sources))
	var wg sync.WaitGroup
	for i, src := range f.sources {
		wg.Go(func() {
			err := f.runStream(ctx, src, cursors[i])
			if err != nil {
				f.update(src.Stream(), func(s *StreamStatus) { s.Err = err })
				f.log.Error("stream stopped", "stream", src.Stream(), "err", err)
				errs[i] = fmt.Errorf("stream %s: %w", src.Stream(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// corruptCursor describes a stored cursor the source refused: with the
// store's own words when it has them (checkpoint.Store.Corrupt names the
// file and what to do), else generically.
func (f *Forwarder) corruptCursor(stream string, problem error) error {
	if c, ok := f.store.(interface{ Corrupt(string, error) error }); ok {
		return c.Corrupt(stream, problem)
	}
	return fmt.Errorf("stored cursor of stream %s is unusable: %w", stream, problem)
}

// errStop ends a stream cleanly (Once mode, caught up).
var errStop = errors.New("stream done")

func (f *Forwarder) runStream(ctx context.Context, src source.Source, cursor []byte) error {
	stream := src.Stream()
	log := f.log.With("stream", stream)
	log.Info("stream started", "resuming", cursor != nil)
	if err := source.CheckCursor(src, cursor); err != nil {
		// A stored cursor that the source cannot use stays unusable:
		// retrying would spin forever while looking healthy.
		f.m.StreamErrors.WithLabelValues(stream, metrics.ReasonCursor).Inc()
		return source.Permanent(f.corruptCursor(stream, err))
	}
	failures := 0     // consecutive failed fetches or cursor writes, for back-off
	redeliveries := 0 // consecutive delivery failures of the same batch
	prog := newProgress(f.cfg.ProgressEvery, f.now())
	for {
		if ctx.Err() != nil {
			return nil
		}
		next, caughtUp, err := f.deliverBatch(ctx, src, cursor, prog, log)
		switch {
		case err == nil:
			failures, redeliveries = 0, 0
		case ctx.Err() != nil:
			log.Info("stream stopping; the batch in flight will be fetched again at the next start")
			return nil
		case errors.Is(err, errDelivery):
			redeliveries++
			f.m.BatchRetries.WithLabelValues(stream).Inc()
			f.m.StreamErrors.WithLabelValues(stream, metrics.ReasonDelivery).Inc()
			log.Warn("delivery interrupted; the batch will be sent again from its start", "err", err, "attempt", redeliveries)
			if f.cfg.Once && redeliveries > f.cfg.MaxDeliveryRetries {
				return fmt.Errorf("giving up after %d delivery attempts: %w", redeliveries, err)
			}
			// Send blocks until the receiver is back, so the first retry
			// goes at once; a batch failing again and again backs off.
			if redeliveries > 1 && !sleep(ctx, backoff(f.cfg.RetryMin, f.cfg.RetryMax, redeliveries-1)) {
				return nil
			}
			continue
		case source.IsPermanent(err):
			return err
		default:
			failures++
			if f.cfg.Once {
				return err
			}
			wait := backoff(f.cfg.RetryMin, f.cfg.RetryMax, failures)
			log.Error("batch failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		cursor = next
		if !caughtUp {
			prog.behind(f.now(), log)
		} else {
			prog.caughtUp(f.now())
			f.m.CaughtUp.WithLabelValues(stream).Set(float64(f.now().UnixNano()) / 1e9)
			if f.cfg.Once {
				log.Info("stream caught up")
				return nil
			}
			if !sleep(ctx, f.cfg.PollInterval) {
				return nil
			}
		}
	}
}

// errDelivery marks a failure of the receiver during a batch.
var errDelivery = errors.New("delivery failed")

// deliverBatch fetches, sends and commits one batch. It returns the new
// cursor and whether the source is caught up.
func (f *Forwarder) deliverBatch(ctx context.Context, src source.Source, cursor []byte, prog *progress, log *slog.Logger) ([]byte, bool, error) {
	stream := src.Stream()
	batch, err := src.Fetch(ctx, cursor)
	if err != nil {
		// A permanent error's reason is only known to the source, which
		// counts it (e.g. invalid_token); the rest are fetch failures.
		if !source.IsPermanent(err) {
			reason := metrics.ReasonFetch
			if f.cfg.FetchErrorReason != nil {
				if r := f.cfg.FetchErrorReason(err); r != "" {
					reason = r
				}
			}
			f.m.StreamErrors.WithLabelValues(stream, reason).Inc()
		}
		return nil, false, fmt.Errorf("fetch: %w", err)
	}
	if c, ok := batch.(io.Closer); ok {
		defer func() {
			if err := c.Close(); err != nil {
				log.Warn("closing batch", "err", err)
			}
		}()
	}
	f.m.LastPoll.WithLabelValues(stream).Set(float64(f.now().UnixNano()) / 1e9)

	var (
		buf     = make([]byte, 0, 4096)
		count   uint64
		shrunk  uint64
		newest  time.Time
		sendErr error
		epoch   uint64 // of the connection that took the batch's first message
	)
	err = batch.Records(ctx, func(r *source.Record) error {
		out, wasShrunk, ferr := f.fmt.Append(buf[:0], r)
		if ferr != nil {
			// A record the formatter cannot render is a bug, not bad
			// input (the source validated it): stop rather than skip.
			return fmt.Errorf("format %s record: %w", r.Type, ferr)
		}
		buf = out
		ep, serr := f.sender.Send(ctx, out)
		if serr != nil {
			sendErr = serr
			return serr
		}
		if count == 0 {
			epoch = ep
		} else if ep != epoch {
			// The connection was replaced since the batch's first message:
			// what went to the old one may be lost.
			sendErr = fmt.Errorf("connection replaced during the batch (epoch %d → %d)", epoch, ep)
			return sendErr
		}
		if wasShrunk {
			shrunk++
		}
		count++
		if r.Time.After(newest) {
			newest = r.Time
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err() // shutting down: not an error of the stream
		}
		if sendErr != nil && errors.Is(err, sendErr) {
			if source.IsPermanent(sendErr) {
				// The receiver cannot be used as configured (a
				// certificate that does not verify, with --once).
				return nil, false, fmt.Errorf("send: %w", err)
			}
			return nil, false, fmt.Errorf("%w: %w", errDelivery, err)
		}
		f.m.StreamErrors.WithLabelValues(stream, metrics.ReasonFetch).Inc()
		return nil, false, fmt.Errorf("read batch: %w", err)
	}
	if count > 0 {
		if err := f.sender.Confirm(ctx, epoch); err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, fmt.Errorf("%w: %w", errDelivery, err)
		}
	}
	next := batch.Cursor()
	if err := f.commit(ctx, stream, next, log); err != nil {
		return nil, false, err
	}
	f.m.RecordsForwarded.WithLabelValues(stream).Add(float64(count))
	if shrunk > 0 {
		f.m.RecordsShrunk.WithLabelValues(stream).Add(float64(shrunk))
	}
	f.m.Batches.WithLabelValues(stream).Inc()
	label, position := batchPosition(batch, newest)
	prog.delivered(count, label, position, newest)
	if !position.IsZero() {
		f.m.Position.WithLabelValues(stream).Set(float64(position.UnixNano()) / 1e9)
	}
	caughtUp := batch.CaughtUp()
	f.update(stream, func(s *StreamStatus) {
		s.Records += count
		s.Batches++
		s.CaughtUp = caughtUp
		// Batches are not strictly ordered by event time: keep the newest.
		if newest.After(s.Newest) {
			s.Newest = newest
			f.m.LastEvent.WithLabelValues(stream).Set(float64(newest.UnixNano()) / 1e9)
		}
	})
	log.Debug("batch committed", "records", count, "caught_up", caughtUp)
	return next, caughtUp, nil
}

// commit writes the cursor, retrying with back-off until it succeeds (a
// full disk pauses the stream; the data is already delivered, so giving up
// would only cause duplicates at the next start).
func (f *Forwarder) commit(ctx context.Context, stream string, cursor []byte, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		err := f.store.Save(stream, cursor)
		if err == nil {
			f.m.CursorCommits.WithLabelValues(stream).Inc()
			return nil
		}
		f.m.CursorFailures.WithLabelValues(stream).Inc()
		f.m.StreamErrors.WithLabelValues(stream, metrics.ReasonCursor).Inc()
		if f.cfg.Once || ctx.Err() != nil {
			return source.Permanent(fmt.Errorf("commit cursor: %w", err))
		}
		wait := backoff(f.cfg.RetryMin, f.cfg.RetryMax, attempt)
		log.Error("cannot write cursor; the stream waits (the batch was delivered)", "err", err, "retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return source.Permanent(fmt.Errorf("commit cursor: %w", err))
		}
	}
}

// backoff returns min·2^(attempt-1) capped at max, with ±20 % jitter.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	if rand.IntN(2) == 0 {
		return d - jitter
	}
	return d + jitter
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
