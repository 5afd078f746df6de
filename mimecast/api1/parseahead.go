package api1

import (
	"bufio"
	"context"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// Parsing ahead: with more than one core, the lines of a key_value member
// are split and parsed (pairs, time, fields or JSON) by a goroutine of
// their own, in blocks, while the caller's goroutine formats and sends the
// records of the blocks before. Records, skipped lines and the member's
// error reach fn and the skip reporter in the order of the lines, as
// without parsing ahead.
const (
	// aheadBlocks blocks are in flight: one filled, the others waiting or
	// being delivered.
	aheadBlocks = 4
	// A block holds at most blockItems lines and blockArena bytes of
	// copies of lines.
	blockItems = 256
	blockArena = 64 << 10
	// A line longer than heldLine is not copied: it stays in the
	// scanner's buffer (and, past 1 MiB, in the line budget's memory),
	// and the scanner waits until the line was delivered.
	heldLine = blockArena
)

// kvItem is one line of a block: a record, or a skipped line (skip set,
// rec.Raw the start of the line for the log).
type kvItem struct {
	rec    source.Record
	lineNo int
	skip   error
}

// kvBlock is a run of parsed lines whose bytes it holds.
type kvBlock struct {
	items []kvItem
	arena []byte // copies of the lines
	kv    kvParser
	end   bool  // the member's last block
	err   error // with end: the scanner's error
}

// readKeyValueAhead is readKeyValue with the lines parsed ahead. Memory:
// aheadBlocks blocks of about blockArena bytes of lines plus their fields
// or JSON, per member being read (one at a time per stream).
func (b *fileBatch) readKeyValueAhead(ctx context.Context, r *bufio.Reader, typ, file string, fn func(*source.Record) error) (int, error) {
	pctx, cancel := context.WithCancel(ctx)
	full := make(chan *kvBlock, aheadBlocks)
	free := make(chan *kvBlock, aheadBlocks)
	if b.blocks == nil { // kept for the batch's next members
		b.blocks = make([]*kvBlock, aheadBlocks)
		for i := range b.blocks {
			b.blocks[i] = &kvBlock{items: make([]kvItem, 0, blockItems), arena: make([]byte, 0, blockArena)}
		}
	}
	for _, blk := range b.blocks {
		blk.kv.rawOnly = b.src.cfg.RawOnly
		free <- blk
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.parseAhead(pctx, r, full, free)
	}()
	// The parser ends before the member is closed, also when the batch
	// is abandoned: it stops at the cancelled context.
	defer func() {
		cancel()
		<-done
	}()
	n := 0
	rec := source.Record{Type: typ}
	for {
		var blk *kvBlock
		select {
		case blk = <-full:
		case <-ctx.Done():
			return n, errFn{ctx.Err()}
		}
		for i := range blk.items {
			it := &blk.items[i]
			if it.skip != nil {
				b.src.skip.Record(metrics.ReasonBadLine, file, it.lineNo, it.rec.Raw, it.skip)
				continue
			}
			if err := ctx.Err(); err != nil {
				return n, errFn{err}
			}
			rec.Raw, rec.Time, rec.Fields, rec.JSON = it.rec.Raw, it.rec.Time, it.rec.Fields, it.rec.JSON
			if err := fn(&rec); err != nil {
				return n, errFn{err}
			}
			n++
		}
		if blk.end {
			if blk.err != nil && ctx.Err() != nil {
				return n, errFn{ctx.Err()} // waiting for the line budget was cancelled
			}
			return n, blk.err
		}
		free <- blk // never blocks: room for every block
	}
}

// parseAhead reads r's lines into blocks taken from free and sends them to
// full, the last one with end set. It returns early when ctx ends.
func (b *fileBatch) parseAhead(ctx context.Context, r *bufio.Reader, full chan<- *kvBlock, free <-chan *kvBlock) {
	sc := jsonl.NewBudgetScanner(ctx, r, 0, b.src.cfg.LineBudget)
	defer sc.Close()
	var spare []*kvBlock // blocks back from free, used first
	take := func() *kvBlock {
		var blk *kvBlock
		if len(spare) > 0 {
			blk, spare = spare[len(spare)-1], spare[:len(spare)-1]
		} else {
			select {
			case blk = <-free:
			case <-ctx.Done():
				return nil
			}
		}
		blk.items = blk.items[:0]
		blk.arena = blk.arena[:0]
		blk.kv.reset()
		blk.end, blk.err = false, nil
		return blk
	}
	blk := take()
	if blk == nil {
		return
	}
	for sc.Scan() {
		line := sc.Bytes()
		if sc.TooLong() {
			blk.items = append(blk.items, kvItem{lineNo: sc.LineNo(), skip: tooLong(sc)})
			blk.items[len(blk.items)-1].rec.Raw = blk.copyPreview(line)
		} else {
			held := len(line) > heldLine
			if !held && len(blk.arena)+len(line) > cap(blk.arena) {
				// The arena does not grow: its lines stay where they
				// are, and it holds any line of up to heldLine bytes.
				full <- blk // never blocks: room for every block
				if blk = take(); blk == nil {
					return
				}
			}
			if !held {
				start := len(blk.arena)
				blk.arena = append(blk.arena, line...)
				line = blk.arena[start:len(blk.arena):len(blk.arena)]
			}
			// Parsed in place: a kvItem built on the stack and appended
			// would be copied with loads that stall on store forwarding.
			blk.items = append(blk.items, kvItem{})
			it := &blk.items[len(blk.items)-1]
			err := blk.kv.parse(&it.rec, line)
			switch {
			case err == errBlank:
				blk.items = blk.items[:len(blk.items)-1]
			case err != nil:
				it.lineNo, it.skip = sc.LineNo(), err
				if held {
					it.rec.Raw = blk.copyPreview(line)
				} else {
					it.rec.Raw = line
				}
			}
			if held && err == nil {
				// The record aliases the scanner's buffer: deliver it,
				// and scan on only once every block is back.
				full <- blk
				for len(spare) < aheadBlocks {
					select {
					case back := <-free:
						spare = append(spare, back)
					case <-ctx.Done():
						return
					}
				}
				if blk = take(); blk == nil {
					return
				}
				continue
			}
		}
		if len(blk.items) >= blockItems {
			full <- blk // never blocks: room for every block
			if blk = take(); blk == nil {
				return
			}
		}
	}
	blk.end, blk.err = true, sc.Err()
	full <- blk
}

// copyPreview copies the start of a skipped line (enough for
// mimecast.Preview to log it as it would the whole line) to the arena.
func (blk *kvBlock) copyPreview(line []byte) []byte {
	if len(line) > mimecast.PreviewBytes+1 {
		line = line[:mimecast.PreviewBytes+1]
	}
	start := len(blk.arena)
	blk.arena = append(blk.arena, line...)
	return blk.arena[start:len(blk.arena):len(blk.arena)]
}
