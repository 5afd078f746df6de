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
// receiver). Its epoch never changes: a write error is returned as is and
// the batch is sent again.
type WriterSender struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// NewWriterSender buffers writes to w; Confirm flushes them.
func NewWriterSender(w io.Writer) *WriterSender {
	return &WriterSender{w: bufio.NewWriterSize(w, 64<<10)}
}

// Epoch is always 0.
func (s *WriterSender) Epoch() uint64 { return 0 }

// Send writes msg and a LF.
func (s *WriterSender) Send(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(msg); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := s.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
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
