// Package source defines what the forwarding pipeline consumes: a Source
// yields Batches of Records, each batch carrying the opaque cursor that
// follows it. Mimecast API 2.0 and API 1.0 are two implementations (see
// package mimecast); the pipeline knows nothing else about them.
package source

import (
	"context"
	"errors"
	"time"
)

// Record is one Mimecast event, ready to be formatted.
//
// The byte slices are only valid during the callback that receives the
// record: sources reuse their buffers. Copy them to keep them.
type Record struct {
	// Type is the canonical Mimecast log type in API 2.0 spelling:
	// "receipt", "process", "delivery", "av", "spam",
	// "internal email protect", "impersonation protect", "url protect",
	// "attachment protect" or "journal" (see mimecast.Types).
	Type string
	// Time is the event's own time. The zero value means the event carried
	// no usable time; formatters then use the time of processing.
	Time time.Time
	// JSON is the event as one compact JSON object (no insignificant
	// whitespace, so no raw LF, CR or NUL), with every original field
	// unchanged.
	JSON []byte
	// Raw is the original record as received, when the source has a
	// textual form worth forwarding verbatim (API 1.0 key_value lines);
	// nil otherwise.
	Raw []byte
	// Fields holds the event's top-level members for the formatter (the
	// severity's fields; with JSON, whether the event has its own
	// logType), so that it need not read JSON again; empty means "read
	// JSON". Two forms:
	//
	//   - JSON empty: a source that sends Raw without building JSON (API
	//     1.0 key_value lines with SYSLOG_BODY=raw) puts its pairs here.
	//     Values are unescaped text; of a repeated key the first value
	//     counts (the JSON form renames the later ones).
	//   - JSON set: every top-level member of JSON, in order, as written
	//     in it (jsonl.NormalizeMembers finds them while compacting, API
	//     2.0 does so): the key between its quotes and a string value
	//     without its quotes, both still escaped; any other value as its
	//     literal text (an object or array whole). A repeated key is listed
	//     each time and the last one counts, as for a JSON decoder. Fields
	//     must then say exactly what JSON says: a source that cannot list
	//     them all leaves Fields empty.
	//
	// The slices are only valid during the callback, like JSON.
	Fields []Field
}

// Field is one top-level member of an event, as text (see Record.Fields).
type Field struct {
	Key, Value []byte
}

// Batch is one unit of fetched data together with the cursor that follows
// it. A batch is committed only after every one of its records was
// delivered; if delivery fails the pipeline fetches the same cursor again.
type Batch interface {
	// Records streams the batch's records to fn in order. Bad records and
	// unreadable files are counted and logged by the source and skipped;
	// they do not stop the stream. An error returned by fn stops the stream
	// and is returned unchanged (test it with errors.Is).
	Records(ctx context.Context, fn func(*Record) error) error
	// Cursor is the opaque cursor to commit once every record was delivered.
	// It is a JSON document (the checkpoint store keeps it as such). It is
	// only valid after Records returned nil: a source may learn it while
	// reading (API 1.0 returns the next token with the file).
	Cursor() []byte
	// CaughtUp reports whether the API said there is nothing more to fetch
	// after this batch for now. Like Cursor, valid after Records returned nil.
	CaughtUp() bool
}

// A Batch that holds resources (a spooled download, say) also implements
// io.Closer; the pipeline closes it when it is done with it, whatever the
// outcome.

// Positioner is implemented by a Batch that can say where in its stream's
// history it is: a label for people ("window 2026-12-01T10:00:00Z..
// 2026-12-01T11:00:00Z page 3", "day 2026-12-01 page 2") and the time of
// the data it reads (the start of the time window, or the UTC day). The
// pipeline logs it while the stream is behind and exports the time as
// mimecast_forwarder_position_timestamp_seconds; without it, it uses the
// newest event time of the batch.
type Positioner interface {
	Position() (label string, at time.Time)
}

// Source produces the batches of one stream (for API 2.0, one event type).
type Source interface {
	// Stream names the stream. It keys the cursor file, labels metrics and
	// tags logs, so it must be stable and made of [a-z0-9_-] only.
	Stream() string
	// Fetch returns the batch that follows cursor. A nil cursor means the
	// stream has never been committed: the source starts from its
	// configured look-back.
	Fetch(ctx context.Context, cursor []byte) (Batch, error)
}

// PermanentError marks a fetch error that retrying cannot fix (the API
// refused the stored cursor, say). The pipeline stops the stream with a
// clear error instead of retrying it.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is or wraps a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// CursorChecker is implemented by a Source that can tell, without any API
// call, whether a stored cursor is usable (the right fields, a valid day,
// no damaged token). The pipeline checks every stream's stored cursor
// before the stream starts and `check` reports it: an unusable cursor stops
// its stream with a permanent error naming the cursor file, never a
// retry that cannot succeed.
type CursorChecker interface {
	CheckCursor(cursor []byte) error
}

// CheckCursor checks a stored cursor with src's CursorChecker. A nil
// cursor (the stream was never committed) and a source without a checker
// pass.
func CheckCursor(src Source, cursor []byte) error {
	c, ok := src.(CursorChecker)
	if !ok || cursor == nil {
		return nil
	}
	return c.CheckCursor(cursor)
}
