package mimecast

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// value returns the value of a counter or gauge series.
func value(t *testing.T, m prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(m)
}

// count returns the number of series a collector exports.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 100)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
