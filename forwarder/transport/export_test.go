package transport

import "testing"

// This file exports the rsyslog test helpers of rsyslog_test.go to the
// external test package transport_test (pipeline_kill_test.go), which can
// import the whole pipeline (forwarder, mimecast/api2, the simulator)
// without an import cycle.

// Rsyslog is a real rsyslogd started by StartRsyslog.
type Rsyslog = rsyslog

// NeedRsyslog skips the test (or fails it when CI=true) without rsyslogd.
func NeedRsyslog(t testing.TB) { needRsyslog(t) }

// StartRsyslog starts rsyslogd on a free loopback TCP port, writing every
// message it receives to its output file with template (rsyslog syntax,
// e.g. `%msg%\n`). It is stopped gracefully at the end of the test.
func StartRsyslog(t testing.TB, template string) *Rsyslog {
	return startRsyslog(t, rsyslogOpts{template: template})
}

// Addr is the host:port rsyslogd listens on.
func (r *rsyslog) Addr() string { return r.addr }

// OutFile is the path of the output file.
func (r *rsyslog) OutFile() string { return r.out }

// StderrFile is the path of rsyslogd's own output (for diagnostics).
func (r *rsyslog) StderrFile() string { return r.stderr }

// Kill sends SIGKILL and reaps the process.
func (r *rsyslog) Kill() { r.kill() }

// Restart starts rsyslogd again with the same configuration, port and
// output file, and waits until it listens.
func (r *rsyslog) Restart() error { return r.start() }

// Stop terminates rsyslogd gracefully (it writes what it has read).
func (r *rsyslog) Stop() { r.stop() }
