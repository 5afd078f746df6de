package api1

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
)

// errValueTooLarge ends a JSON member whose event is longer than the
// longest line the forwarder accepts: json.Decoder holds a whole value in
// memory and cannot skip one, so the rest of the member is skipped too.
var errValueTooLarge = errors.New("JSON event too large")

// valueReader bounds the memory json.Decoder holds for one value of a
// JSON member. The decoder reads through it; before each event the member
// reader calls start with the decoder's InputOffset. While every event
// (with the decoder's read-ahead) stays within jsonl.SmallLine bytes
// nothing is reserved. The first longer one reserves a line's claim from
// the shared line budget (waiting while other streams hold it, as a long
// key_value line does) and the member keeps it until its end, since the
// decoder keeps the buffer it grew. An event longer than half the longest
// line that claim allows (16 MiB by default: the decoder's buffer, the
// event's copy and its compact form are in memory at once) fails the read
// with errValueTooLarge.
type valueReader struct {
	ctx     context.Context
	r       io.Reader
	budget  *jsonl.LineBudget // nil: unlimited
	claim   int64
	longest int64
	read    int64 // bytes read from r
	mark    int64 // input offset where the current event starts
	held    int64 // bytes reserved (from the first long event to the end)
}

func newValueReader(ctx context.Context, r io.Reader, budget *jsonl.LineBudget) *valueReader {
	claim, longest := jsonl.BudgetedLine(0, budget)
	return &valueReader{ctx: ctx, r: r, budget: budget, claim: claim, longest: int64(longest) / 2}
}

// readAhead is what the decoder may read past the value it decodes.
const readAhead = 64 << 10

func (v *valueReader) Read(p []byte) (int, error) {
	pending := v.read - v.mark
	if pending > v.longest+readAhead {
		return 0, fmt.Errorf("%w: more than %d bytes", errValueTooLarge, v.longest)
	}
	if pending > jsonl.SmallLine && v.held == 0 && v.budget != nil {
		if err := v.budget.Acquire(v.ctx, v.claim); err != nil {
			return 0, err
		}
		v.held = v.claim
	}
	n, err := v.r.Read(p)
	v.read += int64(n)
	return n, err
}

// start tells that the next event begins at input offset off.
func (v *valueReader) start(off int64) { v.mark = off }

// release gives back what the member held of the budget (at its end).
func (v *valueReader) release() {
	if v.held > 0 {
		v.budget.Release(v.held)
		v.held = 0
	}
}
