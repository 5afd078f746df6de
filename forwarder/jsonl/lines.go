package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine is the longest line, in bytes, that a Scanner created
// with maxLine <= 0 returns. Longer lines are reported as too long.
const DefaultMaxLine = 32 << 20

// lineBufKeep is the largest line buffer kept between lines; a bigger one
// (grown for a long line) is dropped so that steady-state memory stays small.
// It is also the small-line allowance: a line growing past it is held in
// memory reserved from the scanner's LineBudget.
const lineBufKeep = 1 << 20

// Scanner splits a stream into lines terminated by LF (a final line
// without LF is returned too). Unlike bufio.Scanner it has no 64 KiB limit:
// lines up to maxLine bytes are returned whole, and a longer line is
// reported with TooLong and read through without being held, so memory is
// bounded by maxLine plus a small read buffer whatever the input.
//
// Created with NewBudgetScanner, a line longer than 1 MiB is held in
// memory reserved from a LineBudget shared by every stream of the process
// (LineClaim bytes: the line and its normalised copy), waiting while other
// streams hold it; the reservation is given back at the next Scan or at
// Close. A line longer than the budget allows is TooLong.
//
// Usage mirrors bufio.Scanner:
//
//	s := jsonl.NewScanner(r, 0)
//	defer s.Close()
//	for s.Scan() {
//		if s.TooLong() { /* count, log s.LineNo(), skip */ continue }
//		use(s.Bytes())
//	}
//	if err := s.Err(); err != nil { ... }
type Scanner struct {
	r       *bufio.Reader
	maxLine int // effective limit: the configured one, lowered to what the budget can hold
	buf     []byte
	out     []byte // Normalize's buffer
	members []Member
	line    []byte
	lineNo  int
	size    int64
	tooLong bool
	err     error
	done    bool

	ctx    context.Context // for waiting on budget
	budget *LineBudget
	claim  int64 // bytes reserved per long line
	held   int64 // bytes reserved now
	long   bool  // the current line grew past lineBufKeep
}

// NewScanner returns a scanner reading r. maxLine <= 0 means
// DefaultMaxLine. Its long lines are not limited by a budget.
func NewScanner(r io.Reader, maxLine int) *Scanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Scanner{r: bufio.NewReaderSize(r, 64<<10), maxLine: maxLine, ctx: context.Background()}
}

// NewBudgetScanner is NewScanner whose lines longer than 1 MiB are
// held in memory reserved from budget (nil: unlimited). When budget is
// smaller than LineClaim(maxLine), the longest line accepted is lowered to
// what it can hold. Waiting for the budget ends with ctx: Scan then returns
// false and Err ctx's error. Call Close when done.
func NewBudgetScanner(ctx context.Context, r io.Reader, maxLine int, budget *LineBudget) *Scanner {
	s := NewScanner(r, maxLine)
	s.ctx = ctx
	s.budget = budget
	if budget != nil {
		s.claim, s.maxLine = BudgetedLine(s.maxLine, budget)
	}
	return s
}

// MaxLine returns the longest line accepted, in bytes: maxLine, or less
// when the budget cannot hold a line of that size.
func (s *Scanner) MaxLine() int { return s.maxLine }

// Close gives back the budget held for the current line and drops the
// long-line buffers. The scanner must not be used afterwards. It is safe
// to call more than once.
func (s *Scanner) Close() {
	s.release()
	s.done = true
}

// release ends the current line's hold on memory.
func (s *Scanner) release() {
	if cap(s.buf) > lineBufKeep {
		s.buf = nil
	}
	if cap(s.out) > lineBufKeep {
		s.out = nil
	}
	s.line = nil
	s.long = false
	if s.held > 0 {
		s.budget.Release(s.held)
		s.held = 0
	}
}

// Scan advances to the next line and reports whether there is one. It
// returns false at the end of the input, on a read error or when waiting
// for the budget was cancelled (see Err). Empty lines are returned too (as
// empty slices); callers usually skip them.
func (s *Scanner) Scan() bool {
	s.release()
	if s.done {
		return false
	}
	s.buf = s.buf[:0]
	s.size = 0
	s.tooLong = false
	chunk, err := s.r.ReadSlice('\n')
	if err == nil && len(chunk) <= s.maxLine {
		// Fast path: a whole line inside the read buffer is returned
		// in place, without a copy (valid until the next read).
		s.size = int64(len(chunk))
		s.lineNo++
		line := chunk[:len(chunk)-1]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		s.line = line
		return true
	}
	got := false
	for first := true; ; first = false {
		if !first {
			chunk, err = s.r.ReadSlice('\n')
		}
		if len(chunk) > 0 {
			got = true
			s.size += int64(len(chunk))
			if !s.tooLong {
				if len(s.buf)+len(chunk) > s.maxLine+2 { // +2: room for the CR LF trimmed below
					s.tooLong = true
					s.keepPrefix(chunk)
				} else if werr := s.append(chunk); werr != nil {
					s.done = true
					s.err = werr
					return false
				}
			}
		}
		switch {
		case err == nil: // chunk ends with '\n'
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			s.done = true
			if !got {
				return false
			}
		default:
			s.done = true
			s.err = err
			return false
		}
		break
	}
	s.lineNo++
	line := bytes.TrimSuffix(s.buf, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if !s.tooLong {
		if len(line) > s.maxLine {
			s.tooLong = true
			s.keepPrefix(nil)
			line = s.buf[:min(len(s.buf), len(line))]
		}
	}
	s.line = line
	return true
}

// append adds chunk to the line being read. Past lineBufKeep the line is
// long: the budget is reserved first (waiting if need be) and the buffer
// grows by doubling up to maxLine+2 bytes, within the reservation.
func (s *Scanner) append(chunk []byte) error {
	need := len(s.buf) + len(chunk)
	if need <= cap(s.buf) {
		s.buf = append(s.buf, chunk...)
		return nil
	}
	if need <= lineBufKeep {
		s.buf = append(s.buf, chunk...)
		return nil
	}
	if !s.long {
		s.long = true
		if s.budget != nil {
			if err := s.budget.Acquire(s.ctx, s.claim); err != nil {
				return fmt.Errorf("waiting for the long-line memory budget: %w", err)
			}
			s.held = s.claim
		}
	}
	newCap := min(max(2*cap(s.buf), need, lineBufKeep), s.maxLine+2)
	nb := make([]byte, len(s.buf), newCap)
	copy(nb, s.buf)
	s.buf = append(nb, chunk...)
	return nil
}

// keepPrefix keeps, of a line found too long, its first 200 bytes (of
// s.buf, then of more) for logging, and gives back the memory held for it:
// the rest of the line is read through without being kept.
func (s *Scanner) keepPrefix(more []byte) {
	var p [200]byte
	n := copy(p[:], s.buf)
	n += copy(p[n:], more)
	if cap(s.buf) > lineBufKeep {
		s.buf = make([]byte, 0, 256)
	}
	s.buf = append(s.buf[:0], p[:n]...)
	if s.held > 0 {
		s.budget.Release(s.held)
		s.held = 0
	}
}

// Normalize is NormalizeMembers of the current line, into buffers of
// the scanner (the output and info.Members) valid until the next Scan.
// The normalised copy of a long line is held in the line's reservation:
// an event that replacing invalid UTF-8 would make larger than that is
// refused (ErrTooLarge), as is one of a line up to 1 MiB that would grow
// past 2 MiB when the scanner has a budget. info.Members takes at most
// 32 KiB (MaxMembers), outside the budget.
func (s *Scanner) Normalize() ([]byte, Info, error) {
	line := s.line
	var dst []byte
	limit := 0
	switch {
	case s.held > 0:
		dst = make([]byte, 0, len(line))
		limit = int(s.held) - cap(s.buf)
	case s.budget != nil:
		dst = s.out[:0]
		limit = 2 * lineBufKeep
	default:
		dst = s.out[:0]
	}
	sc := scan{time: true, limit: limit, capture: true, members: s.members[:0]}
	out, info, err := normalizeInfo(dst, line, &sc)
	s.out = out[:0]
	s.members = sc.members[:0]
	return out, info, err
}

// Bytes returns the current line without its LF (and CR). It is only valid
// until the next call to Scan. For a line that is TooLong it holds at most
// the line's first 200 bytes, for logging.
func (s *Scanner) Bytes() []byte { return s.line }

// LineNo returns the 1-based number of the current line.
func (s *Scanner) LineNo() int { return s.lineNo }

// TooLong reports whether the current line was longer than maxLine; its
// content was discarded.
func (s *Scanner) TooLong() bool { return s.tooLong }

// Size returns the length of the current line in bytes as read, terminator
// included (useful to log the size of a TooLong line).
func (s *Scanner) Size() int64 { return s.size }

// Err returns the first read error met, or nil at a clean end of input.
func (s *Scanner) Err() error { return s.err }

// ScanLines reads r line by line with a Scanner and calls fn for every
// line that is not blank (only spaces, tabs or CR), with its 1-based number
// and without its LF/CR. A line longer than maxLine (<= 0 means
// DefaultMaxLine) is not passed to fn: tooLong, if not nil, gets its
// number, size in bytes and first 200 bytes. ScanLines returns the first
// error of fn unchanged, else the read error, else nil.
func ScanLines(r io.Reader, maxLine int, fn func(line []byte, lineNo int) error, tooLong func(lineNo int, size int64, prefix []byte)) error {
	s := NewScanner(r, maxLine)
	for s.Scan() {
		if s.TooLong() {
			if tooLong != nil {
				tooLong(s.LineNo(), s.Size(), s.Bytes())
			}
			continue
		}
		if len(bytes.Trim(s.Bytes(), " \t\r")) == 0 {
			continue
		}
		if err := fn(s.Bytes(), s.LineNo()); err != nil {
			return err
		}
	}
	return s.Err()
}
