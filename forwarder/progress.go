package forwarder

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
)

// DefaultProgressEvery is the default Config.ProgressEvery.
const DefaultProgressEvery = 30 * time.Second

// progress follows one stream while it is behind and logs, at most once
// per interval, where it is, what it delivered and how far behind it
// still is. A stream that catches up starts over: a stream behind for less
// than one interval logs nothing.
type progress struct {
	every time.Duration

	total      uint64    // records delivered since the stream started
	since      time.Time // start of the current span (behind since, or the last line)
	sinceTotal uint64    // total at since
	label      string    // where the last batch was (source.Positioner), "" if unknown
	position   time.Time // time of the data of the last batch (as the metric says)
	newest     time.Time // newest event time of the last batch with events
}

func newProgress(every time.Duration, now time.Time) *progress {
	return &progress{every: every, since: now}
}

// batchPosition returns where batch is: its source.Positioner's answer,
// else (no label) the newest event time it delivered.
func batchPosition(batch source.Batch, newest time.Time) (string, time.Time) {
	if p, ok := batch.(source.Positioner); ok {
		return p.Position()
	}
	return "", newest
}

// delivered records a committed batch of count records at label and
// position, newest being its newest event's time (zero if none).
func (p *progress) delivered(count uint64, label string, position, newest time.Time) {
	p.total += count
	p.label = label
	if !position.IsZero() {
		p.position = position
	}
	if !newest.IsZero() {
		p.newest = newest
	}
}

// caughtUp starts a new span at now: the stream is not behind.
func (p *progress) caughtUp(now time.Time) {
	p.since, p.sinceTotal = now, p.total
}

// behind logs one progress line when the stream has been behind for an
// interval since the span started.
func (p *progress) behind(now time.Time, log *slog.Logger) {
	elapsed := now.Sub(p.since)
	if p.every <= 0 || elapsed < p.every {
		return
	}
	attrs := make([]any, 0, 12)
	if p.label != "" {
		attrs = append(attrs, "at", p.label)
	}
	if !p.position.IsZero() {
		// The newest event delivered tells better than the start of a
		// window that held events how far behind the stream is.
		reached := p.position
		if p.newest.After(reached) {
			reached = p.newest
		}
		attrs = append(attrs, "position", p.position.UTC().Format(time.RFC3339), "behind", now.Sub(reached).Round(time.Second))
	}
	rate := float64(p.total-p.sinceTotal) / elapsed.Seconds()
	attrs = append(attrs, "records", p.total, "rate", fmt.Sprintf("%.1f/s", rate))
	log.Info("stream progress", attrs...)
	p.since, p.sinceTotal = now, p.total
}
