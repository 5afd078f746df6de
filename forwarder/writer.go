package forwarder

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
)

// WriterSender is a Sender that writes each message followed by LF to an
// io.Writer (standard output for `mimecast-forwarder demo` without a
// receiver). Its epoch never changes.
type WriterSender struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// NewWriterSender buffers writes to w; Confirm flushes them.
func NewWriterSender(w io.Writer) *WriterSender {
	return &WriterSender{w: bufio.NewWriterSize(w, 64<<10)}
}

// Send writes msg and a LF. The epoch is always 0.
func (s *WriterSender) Send(ctx context.Context, msg []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(msg); err != nil {
		return 0, fmt.Errorf("write message: %w", err)
	}
	if err := s.w.WriteByte('\n'); err != nil {
		return 0, fmt.Errorf("write message: %w", err)
	}
	return 0, nil
}

// Confirm flushes what was written.
func (s *WriterSender) Confirm(ctx context.Context, _ uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return nil
}
