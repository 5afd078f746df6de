// Package metrics defines every Prometheus metric that mimecast-forwarder
// exports, registered on a private registry, and serves them with the
// /healthz and /readyz probes.
//
// All metric names start with the namespace "mimecast_forwarder". Label
// values are bounded: "stream" is a configured stream name, "endpoint" one of
// the Endpoint* constants, "receiver" a configured receiver address,
// "reason" one of the Reason* constants.
package metrics

import (
	"math"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "mimecast_forwarder"

// Values of the "endpoint" label of the API metrics.
const (
	EndpointToken     = "oauth_token"   // API 2.0 POST /oauth/token
	EndpointBatchList = "batch_list"    // API 2.0 GET /siem/v1/batch/events/cg
	EndpointBatchFile = "batch_file"    // API 2.0 presigned batch file download
	EndpointSIEMLogs  = "get_siem_logs" // API 1.0 POST /api/audit/get-siem-logs
)

// Values of the "reason" label of records_skipped_total, files_skipped_total
// and stream_errors_total.
const (
	ReasonInvalidJSON    = "invalid_json"    // a line or record that is not a JSON object
	ReasonBadLine        = "bad_line"        // a key_value line that cannot be parsed
	ReasonExpiredURL     = "expired_url"     // a batch file URL answered 403 or 404
	ReasonCorruptArchive = "corrupt_archive" // a gzip or zip that cannot be read (to its end)
	ReasonMalformedFile  = "malformed_file"  // a file whose structure is broken (e.g. truncated JSON document)
	ReasonTooLarge       = "too_large"       // an event line longer than the maximum line size (32 MiB), or than the long-line memory budget can hold
	ReasonFetch          = "fetch"           // an API call failed after its retries
	ReasonAuth           = "auth"            // credentials were refused
	ReasonInvalidToken   = "invalid_token"   // the API refused the stored cursor (API 1.0 SIEM token)
	ReasonDelivery       = "delivery"        // the receiver failed during a batch; the batch is sent again
	ReasonCursor         = "cursor"          // the cursor could not be written, or the stored one is unusable
	ReasonForbidden      = "forbidden"       // Mimecast answered 403: the application lacks the stream's permission or product
)

// Metrics holds every collector. Create it with New; pass it (or the part a
// component needs) to the components. A nil *Metrics is not valid.
type Metrics struct {
	// Pipeline, by stream.
	RecordsForwarded *prometheus.CounterVec // stream
	RecordsSkipped   *prometheus.CounterVec // stream, reason
	RecordsShrunk    *prometheus.CounterVec // stream
	FilesSkipped     *prometheus.CounterVec // stream, reason
	FilesFetched     *prometheus.CounterVec // stream
	UnknownType      *prometheus.CounterVec // stream: records forwarded under a type the source did not recognise (API 1.0 zip member prefix)
	InvalidUTF8      *prometheus.CounterVec // stream: records whose invalid UTF-8 was replaced by U+FFFD
	Batches          *prometheus.CounterVec // stream: batches fully delivered and committed
	BatchRetries     *prometheus.CounterVec // stream: batches sent again after a delivery failure
	StreamErrors     *prometheus.CounterVec // stream, reason
	LastEvent        *prometheus.GaugeVec   // stream: newest forwarded event's own time
	CaughtUp         *prometheus.GaugeVec   // stream: last time the API said nothing more
	LastPoll         *prometheus.GaugeVec   // stream: last successful fetch
	CursorCommits    *prometheus.CounterVec // stream
	CursorFailures   *prometheus.CounterVec // stream
	StreamRefused    *prometheus.GaugeVec   // stream: 1 while Mimecast refuses the stream (403), else 0
	Position         *prometheus.GaugeVec   // stream: time of the data the stream is reading (window start or day)

	// Mimecast API.
	APIRequests      *prometheus.CounterVec   // endpoint, code ("network" when no response)
	APIDuration      *prometheus.HistogramVec // endpoint
	APIRetries       *prometheus.CounterVec   // endpoint
	APIRateLimited   *prometheus.CounterVec   // endpoint: 429 answers
	APIRateLimitWait prometheus.Counter       // seconds waited because of 429s and the request budget
	APIBudgetWait    prometheus.Counter       // seconds waited for the shared request budget
	TokenRefreshes   prometheus.Counter       // OAuth2 tokens obtained

	// Memory for long lines, shared by all streams.
	LineBudgetInUse prometheus.Gauge   // bytes reserved
	LineBudgetWait  prometheus.Counter // seconds streams waited for it

	// Syslog receivers, by receiver address.
	ReceiverConnected        *prometheus.GaugeVec     // receiver: 1 while connected
	ReceiverConfigError      *prometheus.GaugeVec     // receiver: 1 while the last TLS handshake failed on certificate verification
	ReceiverConnects         *prometheus.CounterVec   // receiver: successful connections
	ReceiverReconnects       *prometheus.CounterVec   // receiver: connections after a loss
	ReceiverConnectionErrors *prometheus.CounterVec   // receiver: failed dials
	ReceiverWriteErrors      *prometheus.CounterVec   // receiver
	ReceiverMessages         *prometheus.CounterVec   // receiver: messages written
	ReceiverBytes            *prometheus.CounterVec   // receiver: bytes written, framing included
	ReceiverReplayed         *prometheus.CounterVec   // receiver: messages sent again from the replay window
	ReceiverAckWait          *prometheus.HistogramVec // receiver: seconds waited for the peer to acknowledge

	// Output flow control (forwarder/flowcontrol).
	SendRateLimit        prometheus.Gauge   // events/s allowed to the receivers now; 0 = unlimited
	SendRateWait         prometheus.Counter // seconds senders waited for the rate limit
	WazuhEventsDropped   prometheus.Gauge   // the manager's events_dropped as last read from wazuh-analysisd.state
	WazuhEventQueueUsage prometheus.Gauge   // the manager's event_queue_usage (0..1) as last read
	WazuhRuleQueueUsage  prometheus.Gauge   // the manager's rule_matching_queue_usage (0..1) as last read
	WazuhStateReadErrors prometheus.Counter // failed reads of wazuh-analysisd.state

	// Process.
	BuildInfo *prometheus.GaugeVec // version, revision, goversion
}

// New creates every collector and registers it on reg, together with the Go
// and process collectors. reg is normally a fresh prometheus.NewRegistry().
func New(reg prometheus.Registerer, version, revision string) *Metrics {
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	}
	m := &Metrics{
		RecordsForwarded: counterVec("records_forwarded_total", "Records delivered to the syslog receiver and committed, per stream.", "stream"),
		RecordsSkipped:   counterVec("records_skipped_total", "Records that could not be forwarded and were skipped, per stream and reason.", "stream", "reason"),
		RecordsShrunk:    counterVec("records_shrunk_total", "Records whose message was shrunk to fit the maximum message size, per stream.", "stream"),
		FilesSkipped:     counterVec("files_skipped_total", "Batch files that were skipped (wholly or from the point of damage), per stream and reason.", "stream", "reason"),
		FilesFetched:     counterVec("files_fetched_total", "Batch files downloaded, per stream.", "stream"),
		UnknownType:      counterVec("records_unknown_type_total", "Records forwarded under a log type derived from an unrecognised file name (API 1.0 zip member prefix), per stream.", "stream"),
		InvalidUTF8:      counterVec("records_invalid_utf8_total", "Records whose JSON strings held invalid UTF-8, forwarded with each bad byte replaced by U+FFFD (\\ufffd), per stream.", "stream"),
		Batches:          counterVec("batches_total", "Batches fully delivered and committed, per stream.", "stream"),
		BatchRetries:     counterVec("batch_retries_total", "Batches fetched and sent again because delivery failed part way, per stream.", "stream"),
		StreamErrors:     counterVec("stream_errors_total", "Errors that interrupted a stream, per stream and reason.", "stream", "reason"),
		LastEvent:        gaugeVec("last_event_timestamp_seconds", "Own time of the newest event forwarded, per stream (lag = time() - this).", "stream"),
		CaughtUp:         gaugeVec("caught_up_timestamp_seconds", "Last time the API said the stream had nothing more to fetch.", "stream"),
		LastPoll:         gaugeVec("last_successful_poll_timestamp_seconds", "Last time a fetch from the API succeeded, per stream.", "stream"),
		CursorCommits:    counterVec("cursor_commits_total", "Cursors written durably to the state directory, per stream.", "stream"),
		CursorFailures:   counterVec("cursor_commit_failures_total", "Cursor writes that failed, per stream.", "stream"),
		StreamRefused:    gaugeVec("stream_refused", "1 while Mimecast refuses the stream with 403 (the API application lacks its permission or product; asked again hourly), else 0.", "stream"),
		Position:         gaugeVec("position_timestamp_seconds", "Time of the data the stream is reading now (start of the time window, or the UTC day of a batch stream): a backfill moves it forward.", "stream"),

		APIRequests: counterVec("api_requests_total", "HTTP requests to Mimecast, per endpoint and status code (\"network\" when no response came).", "endpoint", "code"),
		APIDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "api_request_duration_seconds",
			Help:    "Duration of HTTP requests to Mimecast until the response headers, per endpoint.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		APIRetries:       counterVec("api_retries_total", "HTTP requests to Mimecast sent again after a failure, per endpoint.", "endpoint"),
		APIRateLimited:   counterVec("api_rate_limited_total", "HTTP 429 answers from Mimecast, per endpoint.", "endpoint"),
		APIRateLimitWait: counter("api_rate_limit_wait_seconds_total", "Seconds spent waiting because Mimecast answered 429 (budget waits are in api_budget_wait_seconds_total)."),
		APIBudgetWait:    counter("api_budget_wait_seconds_total", "Seconds spent waiting for the shared API request budget (requests per minute)."),
		TokenRefreshes:   counter("oauth_tokens_total", "OAuth2 access tokens obtained from Mimecast API 2.0."),

		LineBudgetInUse: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "line_budget_bytes",
			Help: "Bytes of the long-line memory budget reserved by streams reading a line longer than 1 MiB."}),
		LineBudgetWait: counter("line_budget_wait_seconds_total", "Seconds streams spent waiting for the long-line memory budget held by other streams."),

		ReceiverConnected:        gaugeVec("receiver_connected", "1 while a connection to the syslog receiver is open, else 0.", "receiver"),
		ReceiverConfigError:      gaugeVec("receiver_config_error", "1 while the last TLS handshake with the syslog receiver failed on its certificate or host name, or the receiver refused the client certificate: a configuration error that retrying cannot fix; else 0.", "receiver"),
		ReceiverConnects:         counterVec("receiver_connects_total", "Successful connections to the syslog receiver.", "receiver"),
		ReceiverReconnects:       counterVec("receiver_reconnects_total", "Connections to the syslog receiver made after a previous one was lost.", "receiver"),
		ReceiverConnectionErrors: counterVec("receiver_connection_errors_total", "Failed attempts to connect to the syslog receiver.", "receiver"),
		ReceiverWriteErrors:      counterVec("receiver_write_errors_total", "Writes to the syslog receiver that failed.", "receiver"),
		ReceiverMessages:         counterVec("receiver_messages_total", "Syslog messages written to the receiver.", "receiver"),
		ReceiverBytes:            counterVec("receiver_bytes_total", "Bytes written to the syslog receiver, framing included.", "receiver"),
		ReceiverReplayed:         counterVec("receiver_replayed_messages_total", "Messages sent again from the replay window after an unexpected disconnect.", "receiver"),
		ReceiverAckWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "receiver_ack_wait_seconds",
			Help:    "Seconds waited, before a cursor commit, until the receiver acknowledged every byte sent.",
			Buckets: []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5},
		}, []string{"receiver"}),

		SendRateLimit:        gauge("send_rate_limit_events_per_second", "Events per second the forwarder may send to the syslog receivers now, all streams together (SYSLOG_MAX_EPS, or the adaptive rate); 0 = unlimited."),
		SendRateWait:         counter("send_rate_limit_wait_seconds_total", "Seconds spent waiting for the output rate limit, summed over the streams that waited."),
		WazuhEventsDropped:   gauge("wazuh_analysisd_events_dropped", "events_dropped of the Wazuh manager as last read from wazuh-analysisd.state (the manager's own counter since its start; WAZUH_ANALYSISD_STATE); NaN while unknown."),
		WazuhEventQueueUsage: gauge("wazuh_analysisd_event_queue_usage_ratio", "event_queue_usage of the Wazuh manager (0..1: how full analysisd's input queue is) as last read from wazuh-analysisd.state; NaN while unknown."),
		WazuhRuleQueueUsage:  gauge("wazuh_analysisd_rule_matching_queue_usage_ratio", "rule_matching_queue_usage of the Wazuh manager (0..1: how full the queue of decoded events waiting for the rules is; it fills before the input queue) as last read from wazuh-analysisd.state; NaN while unknown."),
		WazuhStateReadErrors: counter("wazuh_analysisd_state_read_errors_total", "Reads of wazuh-analysisd.state (WAZUH_ANALYSISD_STATE) that failed: missing, unreadable or malformed."),

		BuildInfo: gaugeVec("build_info", "Always 1; labels give the version, the VCS revision and the Go version.", "version", "revision", "goversion"),
	}
	m.BuildInfo.WithLabelValues(version, revision, runtime.Version()).Set(1)
	// Unknown until wazuh-analysisd.state has been read (and always
	// without WAZUH_ANALYSISD_STATE): NaN, not a misleading 0.
	m.WazuhEventsDropped.Set(math.NaN())
	m.WazuhEventQueueUsage.Set(math.NaN())
	m.WazuhRuleQueueUsage.Set(math.NaN())
	if reg != nil {
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			m.RecordsForwarded, m.RecordsSkipped, m.RecordsShrunk, m.FilesSkipped, m.FilesFetched, m.UnknownType, m.InvalidUTF8,
			m.Batches, m.BatchRetries, m.StreamErrors, m.LastEvent, m.CaughtUp, m.LastPoll,
			m.CursorCommits, m.CursorFailures, m.StreamRefused, m.Position,
			m.APIRequests, m.APIDuration, m.APIRetries, m.APIRateLimited, m.APIRateLimitWait,
			m.APIBudgetWait, m.TokenRefreshes, m.LineBudgetInUse, m.LineBudgetWait,
			m.ReceiverConnected, m.ReceiverConfigError, m.ReceiverConnects, m.ReceiverReconnects, m.ReceiverConnectionErrors,
			m.ReceiverWriteErrors, m.ReceiverMessages, m.ReceiverBytes, m.ReceiverReplayed, m.ReceiverAckWait,
			m.SendRateLimit, m.SendRateWait, m.WazuhEventsDropped, m.WazuhEventQueueUsage, m.WazuhRuleQueueUsage, m.WazuhStateReadErrors,
			m.BuildInfo,
		)
	}
	return m
}

// InitStream creates the per-stream series at zero so that dashboards and
// alerts see them before the first event.
func (m *Metrics) InitStream(stream string) {
	m.RecordsForwarded.WithLabelValues(stream)
	m.RecordsShrunk.WithLabelValues(stream)
	m.FilesFetched.WithLabelValues(stream)
	m.UnknownType.WithLabelValues(stream)
	m.InvalidUTF8.WithLabelValues(stream)
	m.Batches.WithLabelValues(stream)
	m.BatchRetries.WithLabelValues(stream)
	m.CursorCommits.WithLabelValues(stream)
	m.CursorFailures.WithLabelValues(stream)
	m.StreamRefused.WithLabelValues(stream)
	for _, r := range []string{ReasonInvalidJSON, ReasonBadLine, ReasonTooLarge} {
		m.RecordsSkipped.WithLabelValues(stream, r)
	}
	for _, r := range []string{ReasonExpiredURL, ReasonCorruptArchive, ReasonMalformedFile} {
		m.FilesSkipped.WithLabelValues(stream, r)
	}
	for _, r := range []string{ReasonFetch, ReasonAuth, ReasonForbidden, ReasonDelivery, ReasonCursor} {
		m.StreamErrors.WithLabelValues(stream, r)
	}
}

// InitReceiver creates the per-receiver series at zero.
func (m *Metrics) InitReceiver(receiver string) {
	m.ReceiverConnected.WithLabelValues(receiver)
	m.ReceiverConfigError.WithLabelValues(receiver)
	m.ReceiverConnects.WithLabelValues(receiver)
	m.ReceiverReconnects.WithLabelValues(receiver)
	m.ReceiverConnectionErrors.WithLabelValues(receiver)
	m.ReceiverWriteErrors.WithLabelValues(receiver)
	m.ReceiverMessages.WithLabelValues(receiver)
	m.ReceiverBytes.WithLabelValues(receiver)
	m.ReceiverReplayed.WithLabelValues(receiver)
}
