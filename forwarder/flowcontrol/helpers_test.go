package flowcontrol

import (
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

func newMetrics(t *testing.T) *metrics.Metrics {
	t.Helper()
	return metrics.New(prometheus.NewRegistry(), "test", "test")
}

func newMetricsB(b *testing.B) *metrics.Metrics {
	b.Helper()
	return metrics.New(prometheus.NewRegistry(), "test", "test")
}

func newLogger() (*slog.Logger, *mimecasttest.SyncBuffer) {
	b := &mimecasttest.SyncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}
