package api1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
)

// errValueTooLarge marks an event of a JSON member longer than the
// longest the forwarder holds: it is skipped (read to its end without
// being kept) and counted as too_large.
var errValueTooLarge = errors.New("JSON event too large")

// errSyntax marks a JSON member whose structure is broken.
var errSyntax = errors.New("invalid JSON")

// memberScanner reads the structure of a JSON member —
// {"type":"MTA","data":[event,…]} documents, or bare arrays of events —
// from its read buffer, and hands out each event's bytes. It only finds
// where values end (strings, escapes, nesting); an event is checked whole
// by jsonl.NormalizeInfo, and the values of other members of a document
// are stepped over without being kept, so memory holds one event at most.
//
// An event that grows past jsonl.SmallLine first reserves a line's claim
// from the shared line budget (waiting while other streams hold it, as a
// long key_value line does) and gives it back once the event is delivered;
// one longer than the longest line that claim allows is read to its end
// without being kept (errValueTooLarge), and the member goes on.
type memberScanner struct {
	ctx     context.Context
	br      *bufio.Reader
	budget  *jsonl.LineBudget // nil: unlimited
	claim   int64
	longest int
	held    int64  // reserved for the current event
	buf     []byte // the current event
}

func newMemberScanner(ctx context.Context, br *bufio.Reader, budget *jsonl.LineBudget) *memberScanner {
	claim, longest := jsonl.BudgetedLine(0, budget)
	return &memberScanner{ctx: ctx, br: br, budget: budget, claim: claim, longest: longest}
}

// release gives back the budget and the memory of a long event.
func (m *memberScanner) release() {
	if cap(m.buf) > jsonl.SmallLine {
		m.buf = nil
	}
	if m.held > 0 {
		m.budget.Release(m.held)
		m.held = 0
	}
}

// truncated wraps an end of input inside a document.
func truncated(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: %w", errTruncatedDoc, io.ErrUnexpectedEOF)
	}
	return err
}

// next skips white space and returns the next byte, consumed. At the end
// of the input it returns io.EOF; read errors come unchanged.
func (m *memberScanner) next() (byte, error) {
	for {
		c, err := m.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}

// key reads an object member's name (the opening quote consumed) and the
// ':' after it, and reports whether the name is "data". Names are not
// kept: a long one is only read through.
func (m *memberScanner) key() (isData bool, err error) {
	var name [8]byte
	n := 0
	for escaped := false; ; {
		c, err := m.br.ReadByte()
		if err != nil {
			return false, truncated(err)
		}
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			if c, err = m.next(); err != nil {
				return false, truncated(err)
			}
			if c != ':' {
				return false, fmt.Errorf("%w: %q after an object key", errSyntax, c)
			}
			return n == 4 && string(name[:4]) == "data", nil
		case c < ' ':
			return false, fmt.Errorf("%w: control byte in an object key", errSyntax)
		}
		if n < len(name) {
			name[n] = c
		}
		n++
	}
}

// value reads the value that starts with first (already consumed). With
// keep, its bytes are returned (valid until the next call); otherwise it
// is only read through. Strings are followed through their escapes and
// containers through their nesting; scalars end at the next ',', ']', '}'
// or white space, which is left unread.
func (m *memberScanner) value(first byte, keep bool) ([]byte, error) {
	m.buf = m.buf[:0]
	tooLarge := false
	add := func(p []byte) error {
		if !keep || tooLarge {
			return nil
		}
		if len(m.buf)+len(p) > m.longest {
			tooLarge = true
			m.release()
			return nil
		}
		need := len(m.buf) + len(p)
		if need > jsonl.SmallLine && m.held == 0 && m.budget != nil {
			if err := m.budget.Acquire(m.ctx, m.claim); err != nil {
				return err
			}
			m.held = m.claim
		}
		if need > cap(m.buf) {
			// Doubling, but never past the longest event: with its
			// compact form, within the claim (jsonl.LineClaim).
			grown := make([]byte, len(m.buf), min(max(2*cap(m.buf), need, 4096), m.longest))
			copy(grown, m.buf)
			m.buf = grown
		}
		m.buf = append(m.buf, p...)
		return nil
	}
	switch first {
	case '"', '{', '[':
	default: // a scalar: up to the next delimiter
		if err := add([]byte{first}); err != nil {
			return nil, err
		}
		for {
			chunk, err := m.br.Peek(1)
			if len(chunk) == 0 {
				if err == io.EOF {
					return m.buf, nil // the end of the input ends the scalar
				}
				return nil, err
			}
			switch c := chunk[0]; c {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				return m.buf, nil
			default:
				if err := add(chunk[:1]); err != nil {
					return nil, err
				}
				_, _ = m.br.ReadByte()
			}
		}
	}
	if err := add([]byte{first}); err != nil {
		return nil, err
	}
	depth, inString, escaped := 0, first == '"', false
	if !inString {
		depth = 1
	}
	for {
		chunk, err := m.br.Peek(max(m.br.Buffered(), 1))
		if len(chunk) == 0 {
			return nil, truncated(err)
		}
		end := -1
	scan:
		for i, c := range chunk {
			switch {
			case escaped:
				escaped = false
			case inString:
				switch c {
				case '\\':
					escaped = true
				case '"':
					inString = false
					if depth == 0 {
						end = i + 1
						break scan
					}
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					end = i + 1
					break scan
				}
			}
		}
		n := len(chunk)
		if end >= 0 {
			n = end
		}
		if err := add(chunk[:n]); err != nil {
			return nil, err
		}
		_, _ = m.br.Discard(n)
		if end >= 0 {
			if tooLarge {
				return nil, errValueTooLarge
			}
			return m.buf, nil
		}
	}
}

// readJSON streams the documents {"type":"MTA","data":[event,…]} of a
// member (or bare arrays of events), event by event: emit gets each
// event's bytes and its index in its array.
func readJSONMember(m *memberScanner, emit func(event []byte, idx int) error, tooLarge func(idx int)) error {
	for doc := 0; ; doc++ {
		c, err := m.next()
		if err == io.EOF {
			if doc == 0 {
				return errors.New("no JSON document")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch c {
		case '[': // a bare array of events
			if err := m.events(emit, tooLarge); err != nil {
				return err
			}
			continue
		case '{':
		default:
			return fmt.Errorf("document %d does not start with an object", doc+1)
		}
		sawData := false
		for first := true; ; first = false {
			c, err := m.next()
			if err != nil {
				return truncated(err)
			}
			if c == '}' && first {
				break
			}
			if c != '"' {
				return fmt.Errorf("%w: %q where document %d has an object key", errSyntax, c, doc+1)
			}
			isData, err := m.key()
			if err != nil {
				return err
			}
			if c, err = m.next(); err != nil {
				return truncated(err)
			}
			switch {
			case isData && c == '[':
				sawData = true
				if err := m.events(emit, tooLarge); err != nil {
					return err
				}
			case isData:
				return fmt.Errorf("document %d: \"data\" is not an array", doc+1)
			default:
				if _, err := m.value(c, false); err != nil {
					return err
				}
			}
			if c, err = m.next(); err != nil {
				return truncated(err)
			}
			if c == '}' {
				break
			}
			if c != ',' {
				return fmt.Errorf("%w: %q after a member of document %d", errSyntax, c, doc+1)
			}
		}
		if !sawData {
			return fmt.Errorf("document %d has no \"data\" array", doc+1)
		}
	}
}

// events reads the elements of an array whose '[' was consumed.
func (m *memberScanner) events(emit func(event []byte, idx int) error, tooLarge func(idx int)) error {
	c, err := m.next()
	if err != nil {
		return truncated(err)
	}
	if c == ']' {
		return nil
	}
	for i := 0; ; i++ {
		ev, err := m.value(c, true)
		switch {
		case errors.Is(err, errValueTooLarge):
			tooLarge(i)
		case err != nil:
			return err
		default:
			err = emit(ev, i)
			m.release()
			if err != nil {
				return err
			}
		}
		if c, err = m.next(); err != nil {
			return truncated(err)
		}
		switch c {
		case ']':
			return nil
		case ',':
		default:
			return fmt.Errorf("%w: %q between events", errSyntax, c)
		}
		if c, err = m.next(); err != nil {
			return truncated(err)
		}
	}
}
