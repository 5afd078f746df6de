// Package flowcontrol keeps the forwarder from sending faster than the
// receiver can take: a Wazuh manager accepts every TCP write, then drops
// events silently when analysisd's input queue (16384 events by default) is
// full. A sender cannot see that on the wire, so the rate has to be limited
// before the write.
//
// # Rate limit
//
// Limiter is a token bucket (golang.org/x/time/rate) of events per second
// shared by every stream; Sender wraps the pipeline's sender so that each
// Send first takes a token. The rate can be changed at run time (SetRate);
// 0 means unlimited and costs one atomic load per message. The burst is
// BurstWindow worth of the rate (at least one event), so that a burst cannot
// fill Wazuh's queue by itself. Messages the transport sends again from its
// replay window do not pass through Sender and are not limited.
//
// The rate comes from SYSLOG_MAX_EPS (Config):
//
//   - empty (automatic): SafeRate events/s; with WAZUH_ANALYSISD_STATE, an
//     adaptive rate that starts at SafeRate and may rise up to
//     AdaptiveCeiling;
//   - a number N: the fixed rate N; with WAZUH_ANALYSISD_STATE, the ceiling
//     of the adaptive rate;
//   - 0: unlimited; with WAZUH_ANALYSISD_STATE, adaptive without a ceiling.
//
// SafeRate is chosen so that a default Wazuh manager on a small machine
// drops nothing: on a 2-core machine a Wazuh 4.7.4 manager archived every
// event sent at 2000 and 5000 events/s and about 4900 events/s of what was
// sent faster.
//
// # Adaptive rate
//
// When the forwarder runs beside the manager it can read the manager's own
// state file, /var/ossec/var/run/wazuh-analysisd.state (ReadAnalysisdState),
// which wazuh-analysisd rewrites every 5 seconds (analysisd.state_interval)
// by writing a temporary file and renaming it. A Controller polls the file
// every PollInterval, acts once per new snapshot (a new modification time)
// and sets the Limiter's rate with Policy.Decide, a pure function of the
// previous snapshot, the new one, the tokens granted in between, the current
// rate and a threshold (like TCP's slow-start threshold: 90 % of the last
// rate that was too much):
//
// "Usage" is the fuller of analysisd's two queues, event_queue_usage (events
// waiting to be decoded) and rule_matching_queue_usage (decoded events
// waiting for the rules). Rule matching is the slower stage, so on a real
// 4.7.4 manager the rule-matching queue fills first and the event queue only
// fills, and drops, once it is full: watching both gives twice the warning.
//
//   - events_dropped grew: cut to CutFactor × the rate actually sent, and log
//     a warning when we sent anything since the previous snapshot;
//   - usage ≥ HighUsage: cut likewise;
//   - RisingUsage ≤ usage < HighUsage and the usage rose: DecreaseFactor ×
//     the rate actually sent; LowUsage ≤ usage < HighUsage otherwise: hold
//     (small flickers and a draining queue change nothing). When the usage
//     is at least BusyUsage, or events were dropped, every decrease goes at
//     least down to CapacityShare of what analysisd processed per second
//     between the two snapshots (busy, it works flat out, so that is its
//     speed), scaled to our share of the events it received. Every decrease
//     sets the threshold to DecreaseFactor × the rate actually sent (unless
//     that was below Floor: then the queue was filled by others);
//   - usage < LowUsage and nothing dropped: below the threshold
//     IncreaseFactor × the rate (but not past the threshold), at or above it
//     ProbeFactor × the rate; and never more than StepQueueShare of the
//     manager's queue size per interval (elapsed + PollInterval), since a
//     step over the manager's capacity fills the queue until the next
//     snapshot shows it. Only if at least MinUtilization of the tokens the
//     rate allowed were used: an idle forwarder never climbs to a rate it
//     has not tried, so a backfill that starts after a quiet night begins at
//     a rate that was safe, not at the ceiling;
//   - counters that went down mean the manager restarted: hold, forget the
//     threshold.
//
// "The rate actually sent" is min(rate, tokens granted / time between the
// snapshots): cutting a rate that was not used would change nothing. The
// rate always stays within [Floor, ceiling] (the ceiling wins when it is
// lower than Floor).
//
// Against a model manager (policy_test.go: a queue of 16384 events, 4900
// events/s of capacity, state written every 5 s, polled every second at
// every phase) a 300,000-event backfill averages about 78 % of the capacity
// including the ramp from SafeRate, a long one about 96 %, and the queue
// peaks at about 55 %. Measurements on a real manager set the constants.
//
// When the file cannot be read or parsed (manager stopped or restarting, a
// permission or mount problem), or has not been rewritten for StaleAfter
// (analysisd stopped; or Docker bind-mounted the file itself, which keeps
// showing the replaced copy: mount the directory), the Controller logs a
// warning once, falls back to the safe rate and resumes adapting from there
// when a fresh snapshot appears.
//
// On Wazuh 4.7.4 events_dropped counts the syslog events analysisd dropped
// (measured: 50,000 sent at full speed, 41,729 archived, events_dropped
// 8,271); the queue usage, which reaches 100 % before any event is dropped,
// is still the earlier signal.
//
// The constants below are the tuning knobs; DefaultPolicy collects them.
package flowcontrol

import "time"

// Tuning constants of the rate limit and the adaptive control. They are
// measured on a real manager; change them here.
const (
	// SafeRate (events/s) is the fixed rate when SYSLOG_MAX_EPS is empty
	// and no state file is given, and the start and fallback rate of the
	// adaptive control.
	SafeRate = 1000
	// AdaptiveCeiling (events/s) bounds the adaptive rate when
	// SYSLOG_MAX_EPS is empty.
	AdaptiveCeiling = 50000
	// Floor (events/s) is the lowest adaptive rate.
	Floor = 100
	// BurstWindow is how much of the rate may go at once.
	BurstWindow = 50 * time.Millisecond

	// PollInterval is how often the Controller reads the state file
	// (Wazuh rewrites it every 5 s by default).
	PollInterval = time.Second
	// StaleAfter: a state file not rewritten for this long is treated as
	// unreadable.
	StaleAfter = 30 * time.Second

	// IncreaseFactor multiplies the rate while the queue is low.
	IncreaseFactor = 1.5
	// ProbeFactor multiplies the rate while the queue is low and the rate
	// is at or above the threshold: 90 % of the last rate that was too
	// much.
	ProbeFactor = 1.1
	// StepQueueShare bounds one increase so that, were it all over the
	// manager's capacity, it would fill at most this share of analysisd's
	// input queue before the next snapshot shows it: with the default
	// queue of 16384 events and a snapshot every 5 s, +1365 events/s.
	StepQueueShare = 0.5
	// DecreaseFactor multiplies the rate sent while the queue is moderate
	// and rising; the threshold is this share of the rate sent whenever the
	// rate decreases.
	DecreaseFactor = 0.9
	// CutFactor multiplies the rate sent when the queue is high or events
	// were dropped.
	CutFactor = 0.5
	// LowUsage: below this queue usage the rate may increase. Wazuh
	// prints the usage with two decimals (0.01 = 164 of 16384 events).
	// A busy manager's queues flicker by a few per cent between
	// snapshots (measured on 4.7.4 under load): not a reason to slow down.
	LowUsage = 0.05
	// RisingUsage: from this queue usage, a usage that rose since the
	// previous snapshot lowers the rate (DecreaseFactor); between LowUsage
	// and here the rate holds.
	RisingUsage = 0.10
	// BusyUsage: from this queue usage (or when events were dropped)
	// analysisd counts as busy for the whole interval, so that what it
	// processed measures its speed (CapacityShare).
	BusyUsage = 0.25
	// HighUsage: at or above this queue usage the rate is cut.
	HighUsage = 0.5
	// MinUtilization is the share of the allowed tokens that must have
	// been used between two snapshots for the rate to increase.
	MinUtilization = 0.5
	// CapacityShare: a decrease goes at least down to this share of the
	// rate analysisd was measured to process while its queues were not
	// empty (our part of it, when others send too).
	CapacityShare = 0.9
)
