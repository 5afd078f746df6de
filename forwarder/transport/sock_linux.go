//go:build linux

package transport

import (
	"fmt"
	"syscall"
	"unsafe"
)

// siocoutq is SIOCOUTQ (= TIOCOUTQ) on Linux: bytes in the send queue not yet
// acknowledged by the peer.
const siocoutq = 0x5411

// TCP states from include/net/tcp_states.h.
const (
	tcpEstablished = 1
)

// canWaitAck reports whether unacknowledged bytes can be read from the kernel.
const canWaitAck = true

// unacked returns the bytes the peer has not acknowledged yet.
func unacked(rc syscall.RawConn) (int, error) {
	var n int32
	var serr syscall.Errno
	err := rc.Control(func(fd uintptr) {
		_, _, serr = syscall.Syscall(syscall.SYS_IOCTL, fd, siocoutq, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil {
		return 0, fmt.Errorf("SIOCOUTQ: %w", err)
	}
	if serr != 0 {
		return 0, fmt.Errorf("SIOCOUTQ: %w", serr)
	}
	return int(n), nil
}

// tcpState returns the kernel's TCP state of the socket (TCP_INFO tcpi_state).
func tcpState(rc syscall.RawConn) (uint8, error) {
	var info syscall.TCPInfo
	size := uint32(syscall.SizeofTCPInfo)
	var serr syscall.Errno
	err := rc.Control(func(fd uintptr) {
		_, _, serr = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	})
	if err != nil {
		return 0, fmt.Errorf("TCP_INFO: %w", err)
	}
	if serr != 0 {
		return 0, fmt.Errorf("TCP_INFO: %w", serr)
	}
	return info.State, nil
}

// peerGone reports whether the peer closed or reset the connection, without
// reading from it (the kernel's TCP state is no longer ESTABLISHED: a FIN was
// received, CLOSE_WAIT, or a RST, CLOSE).
func peerGone(rc syscall.RawConn) (bool, error) {
	st, err := tcpState(rc)
	if err != nil {
		return true, err
	}
	if st != tcpEstablished {
		return true, fmt.Errorf("peer closed the connection (TCP state %d)", st)
	}
	return false, nil
}
