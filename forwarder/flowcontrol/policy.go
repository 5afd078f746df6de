package flowcontrol

import (
	"math"
	"time"
)

// Policy holds the numbers of the adaptive control. DefaultPolicy returns
// the package constants; Config sets the ceiling.
type Policy struct {
	SafeRate       float64 // start and fallback rate, events/s
	Floor          float64 // lowest rate, events/s
	Ceiling        float64 // highest rate, events/s; 0 = none
	IncreaseFactor float64 // below the threshold
	ProbeFactor    float64 // at or above the threshold
	StepQueueShare float64 // share of the queue one increase may fill before it shows
	DecreaseFactor float64
	CutFactor      float64
	LowUsage       float64 // queue usage below which the rate may rise
	RisingUsage    float64 // queue usage from which a rising queue lowers the rate
	BusyUsage      float64 // queue usage from which analysisd counts as busy (its speed is measured)
	HighUsage      float64 // queue usage at which the rate is cut
	MinUtilization float64 // share of the allowed tokens used, to rise
	CapacityShare  float64 // share of analysisd's measured speed a decrease may keep
	PollInterval   time.Duration
	StaleAfter     time.Duration
}

// DefaultPolicy returns the package constants, with AdaptiveCeiling.
func DefaultPolicy() Policy {
	return Policy{
		SafeRate:       SafeRate,
		Floor:          Floor,
		Ceiling:        AdaptiveCeiling,
		IncreaseFactor: IncreaseFactor,
		ProbeFactor:    ProbeFactor,
		StepQueueShare: StepQueueShare,
		DecreaseFactor: DecreaseFactor,
		CutFactor:      CutFactor,
		LowUsage:       LowUsage,
		RisingUsage:    RisingUsage,
		BusyUsage:      BusyUsage,
		HighUsage:      HighUsage,
		MinUtilization: MinUtilization,
		CapacityShare:  CapacityShare,
		PollInterval:   PollInterval,
		StaleAfter:     StaleAfter,
	}
}

// Reason says why Decide chose a rate.
type Reason string

// Reasons of a Decision.
const (
	ReasonIncrease  Reason = "queue low, nothing dropped: increase"
	ReasonProbe     Reason = "queue low, nothing dropped, above the threshold: increase gently"
	ReasonUnderused Reason = "queue low, rate not used: hold"
	ReasonAtCeiling Reason = "queue low, at the ceiling: hold"
	ReasonRising    Reason = "queue filling: decrease"
	ReasonDraining  Reason = "queue moderate or draining: hold"
	ReasonQueueHigh Reason = "queue high: cut"
	ReasonDropped   Reason = "events dropped: cut"
	ReasonRestarted Reason = "manager restarted: hold"
)

// Decision is the outcome of Decide.
type Decision struct {
	Rate      float64 // new rate, events/s
	Threshold float64 // new threshold, events/s (+Inf: none)
	Reason    Reason
	Dropped   uint64 // growth of events_dropped between the snapshots
}

// ceiling is the effective ceiling: +Inf for none.
func (p Policy) ceiling() float64 {
	if p.Ceiling <= 0 {
		return math.Inf(1)
	}
	return p.Ceiling
}

// clamp bounds r to [Floor, ceiling]; the ceiling wins over the floor.
func (p Policy) clamp(r float64) float64 {
	c := p.ceiling()
	return max(min(p.Floor, c), min(r, c))
}

// Safe is the start and fallback rate: SafeRate within the bounds.
func (p Policy) Safe() float64 { return p.clamp(p.SafeRate) }

// Decide returns the rate to use after a new snapshot now of the state
// file: prev is the previous snapshot, sent the tokens granted between the
// two, elapsed the time between them, rate the current rate and threshold
// the rate above which it only probes (+Inf before the first decrease). It
// is a pure function; the package doc states the policy.
func (p Policy) Decide(prev, now AnalysisdState, sent uint64, elapsed time.Duration, rate, threshold float64) Decision {
	hold := func(r Reason) Decision { return Decision{Rate: p.clamp(rate), Threshold: threshold, Reason: r} }
	if now.EventsDropped < prev.EventsDropped || now.EventsReceived < prev.EventsReceived {
		// A new manager, maybe configured differently: forget the threshold.
		return Decision{Rate: p.clamp(rate), Threshold: math.Inf(1), Reason: ReasonRestarted}
	}
	// Decreases start from what was really sent: cutting a rate that was
	// not used would change nothing.
	sentRate := rate
	if secs := elapsed.Seconds(); secs > 0 {
		sentRate = min(rate, float64(sent)/secs)
	}
	// While its queues hold many events analysisd works flat out, so what
	// it processed between the snapshots is its speed: a decrease goes at
	// least to our share of CapacityShare of it. A queue that is only a
	// little filled says nothing of its speed.
	dropped := now.EventsDropped - prev.EventsDropped
	usage, prevUsage := now.QueueUsage(), prev.QueueUsage()
	capacity := math.Inf(1)
	if dropped > 0 || usage >= p.BusyUsage {
		capacity = p.capacity(prev, now, sent, elapsed)
	}
	decrease := func(factor float64, r Reason, dropped uint64) Decision {
		t := threshold
		if sentRate >= p.Floor { // what we sent was too much: remember 90 % of it
			t = p.clamp(sentRate * p.DecreaseFactor)
		}
		return Decision{Rate: p.clamp(min(sentRate*factor, capacity)), Threshold: t, Reason: r, Dropped: dropped}
	}
	switch {
	case dropped > 0:
		return decrease(p.CutFactor, ReasonDropped, dropped)
	case usage >= p.HighUsage:
		return decrease(p.CutFactor, ReasonQueueHigh, 0)
	case usage >= p.RisingUsage && usage > prevUsage:
		return decrease(p.DecreaseFactor, ReasonRising, 0)
	case usage >= p.LowUsage:
		return hold(ReasonDraining)
	case rate >= p.ceiling():
		return hold(ReasonAtCeiling)
	case elapsed <= 0 || float64(sent) < p.MinUtilization*rate*elapsed.Seconds():
		return hold(ReasonUnderused)
	}
	next, reason := rate*p.IncreaseFactor, ReasonIncrease
	if rate >= threshold {
		next, reason = rate*p.ProbeFactor, ReasonProbe
	} else {
		next = min(next, threshold)
	}
	// A step over the manager's capacity fills its queue until the next
	// snapshot shows it (elapsed + a poll later): bound the step so that
	// this fills at most StepQueueShare of the queue.
	if now.EventQueueSize > 0 {
		step := p.StepQueueShare * float64(now.EventQueueSize) / (elapsed + p.PollInterval).Seconds()
		next = min(next, rate+step)
	}
	return Decision{Rate: p.clamp(next), Threshold: threshold, Reason: reason}
}

// capacity estimates how many events/s of ours analysisd takes while it is
// busy: the events it processed between the snapshots per second (by the
// snapshots' own times), times CapacityShare, times our share of what it
// received. +Inf when the snapshots say nothing (no time between them, or
// nothing processed).
func (p Policy) capacity(prev, now AnalysisdState, sent uint64, elapsed time.Duration) float64 {
	dt := now.ModTime.Sub(prev.ModTime)
	if dt <= 0 {
		dt = elapsed
	}
	if dt <= 0 || now.EventsProcessed <= prev.EventsProcessed {
		return math.Inf(1)
	}
	processed := float64(now.EventsProcessed-prev.EventsProcessed) / dt.Seconds()
	share := 1.0
	if received := now.EventsReceived - prev.EventsReceived; received > 0 {
		share = min(1, float64(sent)/float64(received))
	}
	return p.CapacityShare * processed * share
}
