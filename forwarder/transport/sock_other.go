//go:build !linux

package transport

import (
	"errors"
	"syscall"
)

// canWaitAck reports whether unacknowledged bytes can be read from the kernel.
const canWaitAck = false

func unacked(syscall.RawConn) (int, error) {
	return 0, errors.New("unacknowledged byte count not available on this platform")
}

// peerGone is not available without Linux TCP_INFO: the sender falls back to
// a non-blocking 1-byte read.
func peerGone(syscall.RawConn) (bool, error) {
	return false, errNoPeerState
}
