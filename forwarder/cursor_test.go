package forwarder_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mimecast-forwarder/mimecast-forwarder/checkpoint"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// TestStoredCursorUnusableStopsStream: a cursor file that is valid JSON
// but holds a cursor its source refuses ({"v":1,"day":"yesterday"}) stops
// that stream with a permanent error naming the file, in the daemon as
// with --once, without asking Mimecast anything; the other stream runs.
func TestStoredCursorUnusableStopsStream(t *testing.T) {
	for _, once := range []bool{false, true} {
		t.Run(map[bool]string{false: "daemon", true: "once"}[once], func(t *testing.T) {
			h := newHarness(t, simulator.Options{History: time.Hour, LiveInterval: -1, Types: []string{"receipt", "process"}})
			setup, err := checkpoint.Open(h.state, h.log)
			if err != nil {
				t.Fatal(err)
			}
			if err := setup.Save("receipt", []byte(`{"v":1,"day":"yesterday"}`)); err != nil {
				t.Fatal(err)
			}
			file := setup.Path("receipt")
			setup.Close()

			in := h.start(once)
			defer in.close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- in.fwd.Run(ctx) }()
			var runErr error
			if once {
				runErr = <-done
			} else {
				eventually(t, "the receipt stream to stop", 10*time.Second, func() bool { return in.fwd.Status()["receipt"].Err != nil })
			}
			stErr := in.fwd.Status()["receipt"].Err
			if !source.IsPermanent(stErr) || !errors.Is(stErr, checkpoint.ErrCorrupt) ||
				!strings.Contains(stErr.Error(), file) || !strings.Contains(stErr.Error(), "yesterday") {
				t.Errorf("receipt stream error = %v, want a permanent corrupt-cursor error naming %s", stErr, file)
			}
			if once && (runErr == nil || !strings.Contains(runErr.Error(), "stream receipt: ")) {
				t.Errorf("Run = %v, want the receipt stream's error", runErr)
			}
			if got := testutil.ToFloat64(in.m.StreamErrors.WithLabelValues("receipt", metrics.ReasonCursor)); got != 1 {
				t.Errorf("stream_errors_total{receipt,cursor} = %v, want 1", got)
			}
			// The healthy stream delivers all of its events.
			eventually(t, "the process stream to catch up", 20*time.Second, func() bool { return in.fwd.Status()["process"].CaughtUp })
			if st := in.fwd.Status()["process"]; st.Err != nil || st.Records == 0 {
				t.Errorf("process stream: %+v", st)
			}
			if got := testutil.ToFloat64(in.m.Batches.WithLabelValues("receipt")); got != 0 {
				t.Errorf("receipt batches = %v, want 0", got)
			}
			cancel()
			if !once {
				<-done
			}
			if c, err := in.store.Load("receipt"); err != nil || string(c) != `{"v":1,"day":"yesterday"}` {
				t.Errorf("stored cursor after the run: %s, %v (must be left for the operator)", c, err)
			}
		})
	}
}
