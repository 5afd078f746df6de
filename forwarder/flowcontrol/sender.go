package flowcontrol

import "context"

// Sender is the method set of forwarder.Sender, repeated here so that this
// package does not depend on the pipeline.
type Sender interface {
	Send(ctx context.Context, msg []byte) (epoch uint64, err error)
	Confirm(ctx context.Context, epoch uint64) error
}

// LimitedSender takes a token of its Limiter before each Send of the
// Sender it wraps. Confirm is passed through.
type LimitedSender struct {
	next Sender
	lim  *Limiter
}

// NewSender wraps next so that it sends at most lim's rate.
func NewSender(next Sender, lim *Limiter) *LimitedSender {
	return &LimitedSender{next: next, lim: lim}
}

// Send waits for a token (or ctx) and then sends msg.
func (s *LimitedSender) Send(ctx context.Context, msg []byte) (uint64, error) {
	if err := s.lim.Wait(ctx); err != nil {
		return 0, err
	}
	return s.next.Send(ctx, msg)
}

// Confirm passes through to the wrapped Sender.
func (s *LimitedSender) Confirm(ctx context.Context, epoch uint64) error {
	return s.next.Confirm(ctx, epoch)
}
