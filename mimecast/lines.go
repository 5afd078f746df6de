package mimecast

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DefaultMaxLine is the longest line, in bytes, that a LineScanner created
// with maxLine <= 0 returns. Longer lines are reported as too long.
const DefaultMaxLine = 32 << 20

// lineBufKeep is the largest line buffer kept between lines; a bigger one
// (grown for a long line) is dropped so that steady-state memory stays small.
const lineBufKeep = 1 << 20

// LineScanner splits a stream into lines terminated by LF (a final line
// without LF is returned too). Unlike bufio.Scanner it has no 64 KiB limit:
// lines up to maxLine bytes are returned whole, and a longer line is
// reported with TooLong and read through without being held, so memory is
// bounded by maxLine plus a small read buffer whatever the input.
//
// Usage mirrors bufio.Scanner:
//
//	s := mimecast.NewLineScanner(r, 0)
//	for s.Scan() {
//		if s.TooLong() { /* count, log s.LineNo(), skip */ continue }
//		use(s.Bytes())
//	}
//	if err := s.Err(); err != nil { ... }
type LineScanner struct {
	r       *bufio.Reader
	maxLine int
	buf     []byte
	line    []byte
	lineNo  int
	size    int64
	tooLong bool
	err     error
	done    bool
}

// NewLineScanner returns a scanner reading r. maxLine <= 0 means
// DefaultMaxLine.
func NewLineScanner(r io.Reader, maxLine int) *LineScanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &LineScanner{r: bufio.NewReaderSize(r, 64<<10), maxLine: maxLine}
}

// Scan advances to the next line and reports whether there is one. It
// returns false at the end of the input or on a read error (see Err).
// Empty lines are returned too (as empty slices); callers usually skip them.
func (s *LineScanner) Scan() bool {
	if s.done {
		return false
	}
	if cap(s.buf) > lineBufKeep {
		s.buf = nil
	}
	s.buf = s.buf[:0]
	s.line = nil
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
					// Keep a short prefix for logging.
					if len(s.buf) < 200 {
						s.buf = append(s.buf, chunk[:min(len(chunk), 200-len(s.buf))]...)
					}
					s.buf = s.buf[:min(len(s.buf), 200)]
				} else {
					s.buf = append(s.buf, chunk...)
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
			line = line[:min(len(line), 200)]
		}
	}
	s.line = line
	return true
}

// Bytes returns the current line without its LF (and CR). It is only valid
// until the next call to Scan. For a line that is TooLong it holds at most
// the line's first 200 bytes, for logging.
func (s *LineScanner) Bytes() []byte { return s.line }

// LineNo returns the 1-based number of the current line.
func (s *LineScanner) LineNo() int { return s.lineNo }

// TooLong reports whether the current line was longer than maxLine; its
// content was discarded.
func (s *LineScanner) TooLong() bool { return s.tooLong }

// Size returns the length of the current line in bytes as read, terminator
// included (useful to log the size of a TooLong line).
func (s *LineScanner) Size() int64 { return s.size }

// Err returns the first read error met, or nil at a clean end of input.
func (s *LineScanner) Err() error { return s.err }

// ScanLines reads r line by line with a LineScanner and calls fn for every
// line that is not blank (only spaces, tabs or CR), with its 1-based number
// and without its LF/CR. A line longer than maxLine (<= 0 means
// DefaultMaxLine) is not passed to fn: tooLong, if not nil, gets its
// number, size in bytes and first 200 bytes. ScanLines returns the first
// error of fn unchanged, else the read error, else nil.
func ScanLines(r io.Reader, maxLine int, fn func(line []byte, lineNo int) error, tooLong func(lineNo int, size int64, prefix []byte)) error {
	s := NewLineScanner(r, maxLine)
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
