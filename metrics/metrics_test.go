package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestMetrics(t *testing.T) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg, "1.2.3", "abc")
	m.InitStream("url-protect")
	m.InitReceiver("tcp://127.0.0.1:514")
	// Histograms and label combinations that InitStream does not create.
	m.APIRequests.WithLabelValues(EndpointBatchList, "200").Inc()
	m.APIDuration.WithLabelValues(EndpointBatchList).Observe(0.1)
	m.APIRetries.WithLabelValues(EndpointBatchList)
	m.APIRateLimited.WithLabelValues(EndpointBatchList)
	m.ReceiverAckWait.WithLabelValues("tcp://127.0.0.1:514").Observe(0.001)
	m.LastEvent.WithLabelValues("url-protect").Set(1)
	m.CaughtUp.WithLabelValues("url-protect").Set(1)
	m.LastPoll.WithLabelValues("url-protect").Set(1)
	return reg, m
}

// TestLint runs Prometheus' metric linter over every metric we export.
func TestLint(t *testing.T) {
	reg, _ := newTestMetrics(t)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNamesAndInit(t *testing.T) {
	reg, m := newTestMetrics(t)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{
		"mimecast_forwarder_records_forwarded_total",
		"mimecast_forwarder_records_skipped_total",
		"mimecast_forwarder_records_shrunk_total",
		"mimecast_forwarder_last_event_timestamp_seconds",
		"mimecast_forwarder_caught_up_timestamp_seconds",
		"mimecast_forwarder_api_requests_total",
		"mimecast_forwarder_receiver_reconnects_total",
		"mimecast_forwarder_cursor_commits_total",
		"mimecast_forwarder_cursor_commit_failures_total",
		"mimecast_forwarder_build_info",
		"mimecast_forwarder_send_rate_limit_events_per_second",
		"mimecast_forwarder_send_rate_limit_wait_seconds_total",
		"mimecast_forwarder_wazuh_analysisd_events_dropped",
		"mimecast_forwarder_wazuh_analysisd_event_queue_usage_ratio",
		"mimecast_forwarder_wazuh_analysisd_rule_matching_queue_usage_ratio",
		"mimecast_forwarder_wazuh_analysisd_state_read_errors_total",
		"mimecast_forwarder_records_invalid_utf8_total",
		"mimecast_forwarder_line_budget_bytes",
		"mimecast_forwarder_line_budget_wait_seconds_total",
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !names[want] {
			t.Errorf("metric %s not exported", want)
		}
	}
	// Per-stream series exist at zero before any event.
	if got := testutil.ToFloat64(m.RecordsSkipped.WithLabelValues("url-protect", ReasonInvalidJSON)); got != 0 {
		t.Errorf("records_skipped_total = %v, want 0", got)
	}
	if got := testutil.CollectAndCount(m.RecordsSkipped); got != 3 {
		t.Errorf("records_skipped_total series = %d, want 3 (invalid_json, bad_line, too_large)", got)
	}
	// What the Wazuh manager says is unknown until read: NaN, not 0.
	for _, g := range []prometheus.Gauge{m.WazuhEventsDropped, m.WazuhEventQueueUsage} {
		if got := testutil.ToFloat64(g); !math.IsNaN(got) {
			t.Errorf("Wazuh gauge = %v before any read, want NaN", got)
		}
	}
	if got := testutil.ToFloat64(m.BuildInfo.WithLabelValues("1.2.3", "abc", goVersion())); got != 1 {
		t.Errorf("build_info = %v, want 1", got)
	}
}

func TestServer(t *testing.T) {
	reg, m := newTestMetrics(t)
	m.RecordsForwarded.WithLabelValues("url-protect").Add(42)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := NewServer("127.0.0.1:0", reg, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := "http://" + srv.Addr()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("/readyz before ready = %d %q, want 503 starting", code, body)
	}
	srv.SetReady(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
	srv.SetReadyCheck(func() error { return errors.New("stream receipt stopped") })
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "stream receipt stopped") {
		t.Errorf("/readyz with failing check = %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `mimecast_forwarder_records_forwarded_total{stream="url-protect"} 42`) {
		t.Errorf("/metrics = %d, missing the forwarded counter:\n%.500s", code, body)
	}
}

func goVersion() string { return runtime.Version() }
