package flowcontrol

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// Controller adapts a Limiter's rate to what wazuh-analysisd.state says.
// Create it with NewController and call Run once.
type Controller struct {
	path string
	lim  *Limiter
	pol  Policy
	m    *metrics.Metrics
	log  *slog.Logger

	// Used by the Run goroutine only.
	have        bool           // prev is a usable snapshot
	prev        AnalysisdState // last snapshot acted on
	prevAt      time.Time      // when prev was read
	prevGranted uint64         // lim.Granted() then
	threshold   float64        // see Policy.Decide
	fallback    string         // why the state is unusable ("" while usable)
	started     bool           // a snapshot has been read once
}

// NewController returns a Controller that reads the state file at path and
// sets lim's rate by pol. lim should start at pol.Safe().
func NewController(path string, lim *Limiter, pol Policy, m *metrics.Metrics, log *slog.Logger) *Controller {
	return &Controller{path: path, lim: lim, pol: pol, m: m, log: log, threshold: math.Inf(1)}
}

// Run polls the state file every PollInterval until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	c.Poll(time.Now())
	t := time.NewTicker(c.pol.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.Poll(now)
		}
	}
}

// Poll reads the state file once, at the time now, and acts on a new
// snapshot.
func (c *Controller) Poll(now time.Time) {
	st, err := ReadAnalysisdState(c.path)
	if err != nil {
		c.m.WazuhStateReadErrors.Inc()
		c.fallBack("unreadable", err)
		return
	}
	if err := st.CheckFresh(c.path, now, c.pol.StaleAfter); err != nil {
		c.fallBack("stale", err)
		return
	}
	c.m.WazuhEventsDropped.Set(float64(st.EventsDropped))
	c.m.WazuhEventQueueUsage.Set(st.EventQueueUsage)
	c.m.WazuhRuleQueueUsage.Set(st.RuleMatchingQueueUsage)
	granted := c.lim.Granted()
	if !c.have {
		c.recover(st)
		c.baseline(st, now, granted)
		return
	}
	if st.ModTime.Equal(c.prev.ModTime) && st.EventsReceived == c.prev.EventsReceived {
		return // the same snapshot: Wazuh rewrites it every few seconds
	}
	sent := granted - c.prevGranted
	rate := c.lim.Rate()
	d := c.pol.Decide(c.prev, st, sent, now.Sub(c.prevAt), rate, c.threshold)
	c.threshold = d.Threshold
	attrs := []any{"reason", string(d.Reason), "rate_before", math.Round(rate), "rate", math.Round(d.Rate),
		"event_queue_usage", st.EventQueueUsage, "rule_matching_queue_usage", st.RuleMatchingQueueUsage,
		"events_dropped", st.EventsDropped, "sent", sent}
	switch {
	case d.Dropped > 0 && sent > 0:
		c.log.Warn("Wazuh analysisd dropped events while we were sending: lowering the rate",
			append([]any{"dropped", d.Dropped}, attrs...)...)
	case d.Dropped > 0:
		c.log.Info("Wazuh analysisd dropped events (not ours: nothing sent since the last snapshot): lowering the rate",
			append([]any{"dropped", d.Dropped}, attrs...)...)
	case d.Rate < rate:
		c.log.Info("Wazuh analysisd queue filling: lowering the rate", attrs...)
	case d.Rate != rate:
		c.log.Debug("raising the rate", attrs...)
	}
	if d.Rate != rate {
		c.lim.SetRate(d.Rate)
	}
	c.baseline(st, now, granted)
}

// baseline makes st the snapshot the next one is compared with.
func (c *Controller) baseline(st AnalysisdState, now time.Time, granted uint64) {
	c.have, c.prev, c.prevAt, c.prevGranted = true, st, now, granted
}

// recover logs the first usable snapshot, or the end of a fallback.
func (c *Controller) recover(st AnalysisdState) {
	attrs := []any{"path", c.path, "rate", math.Round(c.lim.Rate()), "event_queue_usage", st.EventQueueUsage,
		"event_queue_size", st.EventQueueSize, "events_dropped", st.EventsDropped}
	switch {
	case c.fallback != "":
		c.log.Info("Wazuh analysisd state readable again: adapting the rate from the safe rate", attrs...)
	case !c.started:
		c.log.Info("adapting the output rate to Wazuh analysisd's queue", attrs...)
	}
	c.fallback, c.started = "", true
}

// fallBack sets the safe rate and forgets the last snapshot; it logs once
// per episode (and again if the cause changes).
func (c *Controller) fallBack(why string, err error) {
	c.have = false
	c.threshold = math.Inf(1)
	c.m.WazuhEventsDropped.Set(math.NaN())
	c.m.WazuhEventQueueUsage.Set(math.NaN())
	c.m.WazuhRuleQueueUsage.Set(math.NaN())
	if c.fallback == why {
		return
	}
	c.fallback = why
	safe := c.pol.Safe()
	c.lim.SetRate(safe)
	c.log.Warn("cannot use Wazuh analysisd state: sending at the safe rate until it can be read",
		"err", err, "rate", math.Round(safe))
}
