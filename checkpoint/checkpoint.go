// Package checkpoint is the durable per-stream cursor store of the
// forwarder. It keeps, in a state directory (STATE_DIR), one small file per
// stream holding the cursor that follows the last batch whose every record
// was delivered. It is modelled on promtail's positions file, but with one
// file per stream, a version field and strict fsync discipline.
//
// # Layout
//
// The state directory (created with mode 0700 if missing) contains:
//
//	lock                      exclusive flock(2) lock; holds the owner's PID
//	<stream>.cursor.json      one cursor file per stream, mode 0600
//	.<stream>.cursor.json.tmp-*  temporary file of a Save in progress
//	.write-probe-*            short-lived file of Open's writability check
//
// Stream names are made of [a-z0-9_-] only (at most 128 characters), so a
// cursor file name can never start with a dot and never collides with the
// lock file or a temporary file.
//
// # File format
//
// A cursor file is one line of JSON followed by a newline:
//
//	{"version":1,"stream":"url-protect","cursor":{"token":"abc"},"updated":"2026-11-28T16:10:00Z"}
//
// version is the format version (always 1 for now); stream repeats the
// stream name so that a file copied or renamed by hand is detected; cursor
// is the cursor produced by the source, stored as a JSON value (compacted:
// insignificant whitespace is removed, nothing else changes); updated is the
// time of the Save in UTC, RFC 3339, for humans only.
//
// # Durability
//
// Save writes the new file next to the old one under a temporary name,
// fsyncs it, renames it over the cursor file and fsyncs the directory. When
// Save returns nil the new cursor survives a crash or a power loss. When it
// returns an error (disk full, read-only file system, I/O error…) before
// the rename, the previous cursor file is left untouched and the temporary
// file is removed; in the rare case where only the final directory fsync
// fails, the new cursor is in place but may be lost by a power cut, and
// the error says so. Either way, committing the same cursor again is safe.
// At any moment, including after a crash, the cursor file holds either the
// complete old content or the complete new content, never a mix. A crash
// may leave a temporary file behind; Open removes such files (logging each
// at level info) and Load and Streams ignore them.
//
// Only one process may use a state directory at a time: Open takes an
// exclusive, non-blocking flock on <dir>/lock and fails at once with
// ErrLocked (naming the PID of the holder) if another Store, in this or
// another process, holds it. The kernel releases the lock when the holder
// exits, however it exits, so a lock file left by a crashed process never
// blocks a restart. The lock file itself is never deleted.
//
// # Corrupt files
//
// Load never silently resets a stream. A cursor file that is empty, not
// JSON, truncated, of an unknown version, written for another stream or
// without a cursor makes Load fail with an error wrapping ErrCorrupt that
// names the file. The cursor inside is the source's: a source that finds it
// unusable reports it through Corrupt, with the same kind of error. The operator then either fixes the file (for instance
// restores it from a backup) or deletes it: a stream without a cursor file
// starts again from the configured look-back (MIMECAST_LOOKBACK), which may
// fetch some events twice or miss events older than the look-back.
package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Version is the version of the cursor file format written by Save and the
// only one Load accepts.
const Version = 1

// MaxFileSize bounds the size of a cursor file Load accepts (and so the
// memory it uses). Cursors are small tokens; a larger file is corrupt.
const MaxFileSize = 1 << 20

// maxStreamLen bounds stream names so that temporary file names stay well
// below the 255-byte file name limit of common file systems.
const maxStreamLen = 128

const (
	lockName     = "lock"
	cursorSuffix = ".cursor.json"
	tmpInfix     = cursorSuffix + ".tmp-"
	probePrefix  = ".write-probe-"
	lookbackHint = "MIMECAST_LOOKBACK"
)

// ErrLocked is returned (wrapped) by Open when another Store, in this or
// another process, holds the state directory's lock.
var ErrLocked = errors.New("state directory is locked")

// ErrCorrupt is returned (wrapped) by Load when a cursor file exists but
// cannot be used: empty, not JSON, unknown version, another stream's file,
// no cursor or too large.
var ErrCorrupt = errors.New("cursor file is corrupt")

// ErrClosed is returned by Load, Save and Streams after Close.
var ErrClosed = errors.New("checkpoint store is closed")

var streamRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// Store is an open state directory. Its methods are safe for concurrent
// use: Saves of different streams run in parallel, Saves of the same stream
// are serialized.
type Store struct {
	dir  string
	log  *slog.Logger
	lock *os.File // holds the flock
	dirf *os.File // the directory, kept open to fsync it after renames
	now  func() time.Time

	// closeMu is held for reading by every operation and for writing by
	// Close, so that Close waits for operations in flight.
	closeMu sync.RWMutex
	closed  bool

	streamMu sync.Mutex
	streams  map[string]*sync.Mutex // per-stream Save serialization
}

// Open opens the state directory dir, creating it with mode 0700 if it is
// missing, checks that it is a writable directory, takes its exclusive lock
// (failing at once with an error wrapping ErrLocked if it is held) and
// removes temporary files left by a crash. log receives info messages about
// that clean-up; nil discards them. Close the Store to release the lock.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if dir == "" {
		return nil, errors.New("STATE_DIR: must not be empty")
	}
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("STATE_DIR %s: cannot create directory: %w", dir, unwrapPath(err))
		}
		fi, err = os.Stat(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR %s: cannot access: %w", dir, unwrapPath(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("STATE_DIR %s: not a directory", dir)
	}
	if err := probeWritable(dir); err != nil {
		return nil, fmt.Errorf("STATE_DIR %s: not writable: %w", dir, unwrapPath(err))
	}

	lockPath := filepath.Join(dir, lockName)
	lf, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("STATE_DIR %s: open lock file: %w", dir, unwrapPath(err))
	}
	if err := flock(lf); err != nil {
		defer lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: STATE_DIR %s is in use by %s (lock file %s); stop that process or give this one another STATE_DIR",
				ErrLocked, dir, holder(lf), lockPath)
		}
		return nil, fmt.Errorf("STATE_DIR %s: lock %s: %w", dir, lockPath, err)
	}
	if err := writePID(lf); err != nil {
		lf.Close() // closing the last descriptor releases the flock
		return nil, fmt.Errorf("STATE_DIR %s: write PID to lock file %s: %w", dir, lockPath, err)
	}
	dirf, err := os.Open(dir)
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("STATE_DIR %s: open directory: %w", dir, unwrapPath(err))
	}
	s := &Store{
		dir:     dir,
		log:     log,
		lock:    lf,
		dirf:    dirf,
		now:     time.Now,
		streams: make(map[string]*sync.Mutex),
	}
	if err := s.cleanTemp(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// probeWritable creates and removes a file in dir. Unlike access(2) it
// gives the true answer for root, read-only mounts and ACLs.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, probePrefix+"*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	// ENOENT: the lock holder's Open removed it as a leftover meanwhile.
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// holder describes the process holding the lock from the PID it wrote.
func holder(f *os.File) string {
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "another process (PID unknown: " + err.Error() + ")"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "another process (PID not yet written)"
	}
	if pid == os.Getpid() {
		return "PID " + strconv.Itoa(pid) + " (this process: the directory is already open)"
	}
	return "PID " + strconv.Itoa(pid)
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// cleanTemp removes temporary files left by an interrupted Save or probe.
// It runs with the lock held, so no other Store is writing them.
func (s *Store) cleanTemp() error {
	entries, err := s.dirf.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("STATE_DIR %s: list directory: %w", s.dir, unwrapPath(err))
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isTempName(name) {
			continue
		}
		p := filepath.Join(s.dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("STATE_DIR %s: remove leftover temporary file: %w", s.dir, err)
		}
		s.log.Info("removed temporary file left by an interrupted checkpoint save", "file", p)
	}
	return nil
}

func isTempName(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	return strings.HasPrefix(name, probePrefix) || strings.Contains(name, tmpInfix)
}

// Dir returns the state directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the cursor file of stream (whether or not it exists).
func (s *Store) Path(stream string) string {
	return filepath.Join(s.dir, stream+cursorSuffix)
}

// ValidStream reports an error if stream is not a usable stream name:
// one to 128 characters of [a-z0-9_-].
func ValidStream(stream string) error {
	if len(stream) > maxStreamLen || !streamRE.MatchString(stream) {
		return fmt.Errorf("checkpoint: invalid stream name %q: want 1 to %d characters of [a-z0-9_-]", stream, maxStreamLen)
	}
	return nil
}

// Load returns the cursor committed for stream, as compact JSON, or
// (nil, nil) when the stream was never committed (no cursor file). A cursor
// file that exists but cannot be read or used is an error, never a reset:
// errors wrap ErrCorrupt when the content is bad, and always name the file
// and say what to do.
func (s *Store) Load(stream string) ([]byte, error) {
	if err := ValidStream(stream); err != nil {
		return nil, err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	path := s.Path(stream)
	data, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: cannot read cursor file %s: %w; fix its permissions, or delete it to start stream %q again from %s",
			path, unwrapPath(err), stream, lookbackHint)
	}
	cursor, problem := decode(data, stream)
	if problem != nil {
		return nil, s.Corrupt(stream, problem)
	}
	return cursor, nil
}

// Corrupt returns the error Load gives for a cursor file of stream whose
// content is unusable: it wraps ErrCorrupt and problem, names the file and
// says what to do. The pipeline and `check` use it when the source finds a
// stored cursor that Load could read unusable (a day that is no date, say),
// so that every corrupt cursor is reported alike.
func (s *Store) Corrupt(stream string, problem error) error {
	return fmt.Errorf("checkpoint: %w: %s: %w; fix it (or restore it from a backup), or delete it to start stream %q again from %s (events may be fetched twice or missed)",
		ErrCorrupt, s.Path(stream), problem, stream, lookbackHint)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// fileV1 is the on-disk document. Pointers and RawMessage tell a missing
// field from a zero one.
type fileV1 struct {
	Version *int            `json:"version"`
	Stream  *string         `json:"stream"`
	Cursor  json.RawMessage `json:"cursor"`
	Updated string          `json:"updated"`
}

func decode(data []byte, stream string) ([]byte, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("file is empty")
	}
	var doc fileV1
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a valid JSON document (truncated or damaged?): %w", err)
	}
	switch {
	case doc.Version == nil:
		return nil, errors.New(`no "version" field`)
	case *doc.Version != Version:
		return nil, fmt.Errorf("format version %d, this program reads version %d only", *doc.Version, Version)
	case doc.Stream == nil:
		return nil, errors.New(`no "stream" field`)
	case *doc.Stream != stream:
		return nil, fmt.Errorf("written for stream %q, not %q (file copied or renamed?)", *doc.Stream, stream)
	case len(doc.Cursor) == 0 || string(doc.Cursor) == "null":
		return nil, errors.New(`no "cursor" value`)
	}
	return doc.Cursor, nil
}

// Save durably stores cursor, a JSON document produced by the stream's
// source, as the committed cursor of stream. When Save returns nil the
// cursor survives a crash or power loss; when it returns an error (which
// names the step that failed), the previously stored cursor is intact
// (unless only the final directory fsync failed, see the package doc). A
// cursor that is not valid JSON, or is JSON null, is a programming error
// and is rejected.
func (s *Store) Save(stream string, cursor []byte) error {
	if err := ValidStream(stream); err != nil {
		return err
	}
	if !json.Valid(cursor) {
		return fmt.Errorf("checkpoint: save stream %q: cursor is not valid JSON (%d bytes): bug in the source that produced it", stream, len(cursor))
	}
	if string(bytes.TrimSpace(cursor)) == "null" {
		return fmt.Errorf("checkpoint: save stream %q: cursor is JSON null: bug in the source that produced it (a never-committed stream has no cursor at all)", stream)
	}
	doc := s.encode(stream, cursor)

	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	mu := s.streamLock(stream)
	mu.Lock()
	defer mu.Unlock()

	if err := s.write(stream, doc); err != nil {
		return fmt.Errorf("checkpoint: save stream %q: %w", stream, err)
	}
	return nil
}

func (s *Store) encode(stream string, cursor []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(cursor) + len(stream) + 80)
	b.WriteString(`{"version":`)
	b.WriteString(strconv.Itoa(Version))
	b.WriteString(`,"stream":"`)
	b.WriteString(stream) // [a-z0-9_-]: nothing to escape
	b.WriteString(`","cursor":`)
	_ = json.Compact(&b, cursor) // cannot fail: validated by the caller
	b.WriteString(`,"updated":"`)
	b.WriteString(s.now().UTC().Format(time.RFC3339))
	b.WriteString("\"}\n")
	return b.Bytes()
}

func (s *Store) streamLock(stream string) *sync.Mutex {
	s.streamMu.Lock()
	defer s.streamMu.Unlock()
	mu, ok := s.streams[stream]
	if !ok {
		mu = new(sync.Mutex)
		s.streams[stream] = mu
	}
	return mu
}

// write replaces the cursor file of stream by doc atomically and durably.
func (s *Store) write(stream string, doc []byte) (err error) {
	target := s.Path(stream)
	f, err := os.CreateTemp(s.dir, "."+stream+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", s.dir, unwrapPath(err))
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if renamed {
			return
		}
		if f != nil {
			f.Close()
		}
		if rmErr := os.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove temporary file: %w", rmErr))
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			err = fmt.Errorf("%w (free space in STATE_DIR %s; the previous cursor is intact)", err, s.dir)
		}
	}()
	if _, err := f.Write(doc); err != nil {
		return fmt.Errorf("write temporary file %s: %w", tmp, unwrapPath(err))
	}
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temporary file %s: %w", tmp, unwrapPath(err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync temporary file %s: %w", tmp, unwrapPath(err))
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return fmt.Errorf("close temporary file %s: %w", tmp, unwrapPath(cerr))
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, target, unwrapLink(err))
	}
	renamed = true
	if err := s.dirf.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s after replacing %s (the new cursor is in place but may not survive a power loss): %w",
			s.dir, target, unwrapPath(err))
	}
	return nil
}

// Streams returns, sorted, the streams that have a cursor file. It does not
// check the files' content (Load does).
func (s *Store) Streams() ([]string, error) {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list STATE_DIR %s: %w", s.dir, unwrapPath(err))
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), cursorSuffix)
		if !ok || !e.Type().IsRegular() || ValidStream(name) != nil {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// Close waits for operations in flight, then releases the lock. It is
// idempotent. After Close, Load, Save and Streams return ErrClosed.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if err := s.dirf.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close directory: %w", err))
	}
	// Empty the lock file so that no stale PID is shown, then unlock.
	// The file stays: deleting it would race with another Open.
	if err := s.lock.Truncate(0); err != nil {
		errs = append(errs, fmt.Errorf("truncate lock file: %w", err))
	}
	if err := syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN); err != nil {
		errs = append(errs, fmt.Errorf("unlock: %w", err))
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close lock file: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checkpoint: close STATE_DIR %s: %w", s.dir, err)
	}
	return nil
}

// unwrapPath strips the *fs.PathError wrapper (whose path the caller's
// message already names) so messages read "…: permission denied".
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
