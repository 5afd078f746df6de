package transport

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSendLF measures Send with LF framing over loopback TCP into a
// discarding reader, with a Confirm (flush + ack wait) every 500 messages.
// The replay window (on by default) costs one copy per message.
func BenchmarkSendLF(b *testing.B) {
	b.Run("replay", func(b *testing.B) { benchSendLF(b, true) })
	b.Run("no-replay", func(b *testing.B) { benchSendLF(b, false) })
}

func benchSendLF(b *testing.B, replay bool) {
	ln := discardServer(b)
	env := newEnv(b)
	c := testConfig(ProfileWazuh, "tcp://"+ln.Addr().String())
	if !replay {
		c.ReplayWindow = 0
	}
	s := newSender(b, env, c)
	msg := []byte(rfcLine("mail-gw-1", "mimecast", "receipt", `[origin software="mimecast-forwarder" swVersion="1.0"]`,
		`{"mimecast":{"logType":"receipt","pad":"`+strings.Repeat("x", 400)+`"}}`))
	b.SetBytes(int64(len(msg) + 1))
	b.ReportAllocs()
	ctx := b.Context()
	ep := s.Epoch()
	n := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		if _, err := s.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if n++; n%500 == 0 {
			if err := s.Confirm(ctx, ep); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Confirm(ctx, ep); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	// CPU time of the process (the sender and the discarding reader, user
	// and kernel): steadier than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the CPU time used by the process so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
