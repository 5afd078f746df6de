package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables that turn the test binary into a helper process
// (see TestMain).
const (
	helperModeEnv = "CHECKPOINT_TEST_HELPER"
	helperDirEnv  = "CHECKPOINT_TEST_DIR"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperModeEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		// Take the lock, say so, and wait to be killed.
		s, err := Open(os.Getenv(helperDirEnv), nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin) // blocks until killed
		_ = s.Close()
		os.Exit(0)
	case "open":
		// Try to open and report the error.
		s, err := Open(os.Getenv(helperDirEnv), nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		_ = s.Close()
		fmt.Println("opened")
		os.Exit(0)
	default:
		fmt.Println("unknown helper mode")
		os.Exit(2)
	}
}

func fixedNow() time.Time { return time.Date(2026, 11, 28, 16, 10, 0, 123e6, time.UTC) }

func openT(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	s.now = fixedNow
	t.Cleanup(func() { s.Close() })
	return s
}

// leftovers returns the names in dir other than the lock and cursor files.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if n == lockName || (strings.HasSuffix(n, cursorSuffix) && !strings.HasPrefix(n, ".")) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "sub")
	s := openT(t, dir)

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("created dir mode = %v, want 0700", fi.Mode().Perm())
	}

	cursor := []byte(`{ "token" : "eNpVj0tr<&>\u00e9", "n": [1, 2] }`)
	if err := s.Save("url-protect", cursor); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "url-protect.cursor.json")
	if s.Path("url-protect") != path {
		t.Errorf("Path = %q, want %q", s.Path("url-protect"), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"stream":"url-protect","cursor":{"token":"eNpVj0tr<&>\u00e9","n":[1,2]},"updated":"2026-11-28T16:10:00Z"}` + "\n"
	if string(raw) != want {
		t.Errorf("file content\n got %q\nwant %q", raw, want)
	}
	fi, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cursor file mode = %v, want 0600", fi.Mode().Perm())
	}

	got, err := s.Load("url-protect")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"token":"eNpVj0tr<&>\u00e9","n":[1,2]}` {
		t.Errorf("Load = %s", got)
	}

	// Other JSON kinds are accepted as cursors too.
	for _, c := range []string{`"abc"`, `12345`, `[1,"x"]`, `{}`} {
		if err := s.Save("siem-v1", []byte(c)); err != nil {
			t.Fatalf("Save(%s): %v", c, err)
		}
		got, err := s.Load("siem-v1")
		if err != nil || string(got) != c {
			t.Fatalf("Load after Save(%s) = %s, %v", c, got, err)
		}
	}

	streams, err := s.Streams()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(streams, []string{"siem-v1", "url-protect"}) {
		t.Errorf("Streams = %q", streams)
	}

	// Survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, dir)
	got, err = s2.Load("url-protect")
	if err != nil || string(got) != `{"token":"eNpVj0tr<&>\u00e9","n":[1,2]}` {
		t.Errorf("Load after reopen = %s, %v", got, err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("unexpected files in state dir: %q", l)
	}
}

func TestLoadMissing(t *testing.T) {
	s := openT(t, t.TempDir())
	got, err := s.Load("receipt")
	if err != nil || got != nil {
		t.Fatalf("Load of a never-saved stream = %q, %v; want nil, nil", got, err)
	}
	streams, err := s.Streams()
	if err != nil || len(streams) != 0 {
		t.Fatalf("Streams = %q, %v; want none", streams, err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	valid := `{"version":1,"stream":"spam","cursor":{"token":"abcdef"},"updated":"2026-11-28T16:10:00Z"}` + "\n"
	cases := []struct {
		name    string
		content string
		want    string
	}{
		{"garbage", "\x00\x01garbage\xff", "not a valid JSON document"},
		{"truncated", valid[:40], "not a valid JSON document"},
		{"empty", "", "file is empty"},
		{"blank", " \n\t\n", "file is empty"},
		{"not an object", `[1,2,3]`, "not a valid JSON document"},
		{"trailing data", valid + `{"version":1}`, "not a valid JSON document"},
		{"wrong version", strings.Replace(valid, `"version":1`, `"version":2`, 1), "format version 2, this program reads version 1 only"},
		{"no version", strings.Replace(valid, `"version":1,`, ``, 1), `no "version" field`},
		{"wrong stream", strings.Replace(valid, `"stream":"spam"`, `"stream":"av"`, 1), `written for stream "av", not "spam"`},
		{"no stream", strings.Replace(valid, `"stream":"spam",`, ``, 1), `no "stream" field`},
		{"no cursor", strings.Replace(valid, `"cursor":{"token":"abcdef"},`, ``, 1), `no "cursor" value`},
		{"null cursor", strings.Replace(valid, `{"token":"abcdef"}`, `null`, 1), `no "cursor" value`},
		{"too large", `{"version":1,"stream":"spam","cursor":"` + strings.Repeat("a", MaxFileSize) + `"}`, "larger than"},
	}
	dir := t.TempDir()
	s := openT(t, dir)
	path := s.Path("spam")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load("spam")
			if err == nil {
				t.Fatalf("Load = %q, nil; want an error", got)
			}
			if got != nil {
				t.Errorf("Load returned a cursor with the error: %q", got)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error does not wrap ErrCorrupt: %v", err)
			}
			msg := err.Error()
			for _, frag := range []string{path, tc.want, "delete it to start stream \"spam\" again from MIMECAST_LOOKBACK"} {
				if !strings.Contains(msg, frag) {
					t.Errorf("error %q does not contain %q", msg, frag)
				}
			}
			// Never reset: the file is left as it was.
			after, err := os.ReadFile(path)
			if err != nil || string(after) != tc.content {
				t.Errorf("Load changed the corrupt file (err %v)", err)
			}
		})
	}

	// The valid content loads fine, so the cases above fail for the
	// reason they name.
	if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load("spam"); err != nil || string(got) != `{"token":"abcdef"}` {
		t.Fatalf("Load of the valid file = %s, %v", got, err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	// A directory where the cursor file should be: unreadable as a file
	// whatever the user (root-proof).
	if err := os.Mkdir(s.Path("av"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load("av")
	if err == nil {
		t.Fatal("Load of a directory succeeded")
	}
	for _, frag := range []string{"cannot read cursor file " + s.Path("av"), "not a regular file", "MIMECAST_LOOKBACK"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not contain %q", err, frag)
		}
	}
	// Streams lists regular files only.
	if streams, err := s.Streams(); err != nil || len(streams) != 0 {
		t.Errorf("Streams = %q, %v; want none", streams, err)
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: skipping the unreadable-permissions half (root bypasses file permissions)")
		return
	}
	if err := s.Save("spam", []byte(`"x"`)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Path("spam"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load("spam")
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "fix its permissions") {
		t.Fatalf("Load of an unreadable file: %v", err)
	}
}

func TestSaveRejects(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for _, c := range []string{"", "{", `{"a":}`, "nul", "abc", `{"a":1} x`} {
		err := s.Save("av", []byte(c))
		if err == nil || !strings.Contains(err.Error(), "cursor is not valid JSON") {
			t.Errorf("Save(%q) = %v, want a not-valid-JSON error", c, err)
		}
	}
	if err := s.Save("av", []byte(" null ")); err == nil || !strings.Contains(err.Error(), "cursor is JSON null") {
		t.Errorf("Save(null) = %v", err)
	}
	for _, name := range []string{"", "URL", "url protect", "../x", "a/b", ".hidden", "a.b", "é", strings.Repeat("a", 129)} {
		if err := s.Save(name, []byte(`1`)); err == nil || !strings.Contains(err.Error(), "invalid stream name") {
			t.Errorf("Save(%q) = %v, want an invalid-stream-name error", name, err)
		}
		if _, err := s.Load(name); err == nil || !strings.Contains(err.Error(), "invalid stream name") {
			t.Errorf("Load(%q) = %v, want an invalid-stream-name error", name, err)
		}
	}
	if err := s.Save(strings.Repeat("a", 128), []byte(`1`)); err != nil {
		t.Errorf("Save with a 128-character name: %v", err)
	}
	if err := os.Remove(s.Path(strings.Repeat("a", 128))); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != lockName {
		t.Errorf("rejected saves left files: %v", entries)
	}
}

func TestManySavesAtomic(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	for i := range 200 {
		c := fmt.Sprintf(`{"page":%d,"token":"%s"}`, i, strings.Repeat("x", i))
		if err := s.Save("delivery", []byte(c)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load("delivery")
		if err != nil || string(got) != c {
			t.Fatalf("after save %d: Load = %s, %v", i, got, err)
		}
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files remain: %q", l)
	}
}

// TestConcurrent saves many streams in parallel and one stream from several
// goroutines, while readers check that every Load sees a complete cursor
// (the old or the new one, never a partial file or an error).
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	const perStream = 20
	streams := []string{"receipt", "process", "delivery", "av", "spam", "journal"}
	for _, st := range streams {
		if err := s.Save(st, []byte(`{"seq":-1}`)); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var readers, writers sync.WaitGroup
	readErrs := make(chan error, 100)
	for _, st := range streams {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.Load(st)
				var v struct{ Seq *int }
				if err == nil {
					err = json.Unmarshal(got, &v)
				}
				if err == nil && v.Seq == nil {
					err = fmt.Errorf("cursor %s without seq", got)
				}
				if err != nil {
					readErrs <- fmt.Errorf("%s: %w", st, err)
					return
				}
			}
		})
	}
	for _, st := range streams {
		writers.Go(func() {
			for i := range perStream {
				if err := s.Save(st, fmt.Appendf(nil, `{"seq":%d}`, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Several writers of the same stream: serialized, last one wins.
	for w := range 4 {
		writers.Go(func() {
			for i := range perStream {
				if err := s.Save("shared", fmt.Appendf(nil, `{"seq":%d}`, w*1000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Error("reader:", err)
	}
	for _, st := range streams {
		got, err := s.Load(st)
		if err != nil || string(got) != fmt.Sprintf(`{"seq":%d}`, perStream-1) {
			t.Errorf("%s: final Load = %s, %v", st, got, err)
		}
	}
	got, err := s.Load("shared")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Seq int }
	if err := json.Unmarshal(got, &v); err != nil || v.Seq%1000 != perStream-1 {
		t.Errorf("shared: final Load = %s, %v; want some writer's last cursor", got, err)
	}
	all, err := s.Streams()
	if err != nil || len(all) != len(streams)+1 {
		t.Errorf("Streams = %q, %v", all, err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files remain: %q", l)
	}
}

// TestSaveFailureKeepsOld makes the rename step fail in a root-proof way
// (a non-empty directory sits where the cursor file goes) and checks the
// error names the step and no temporary file is left.
func TestSaveFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if err := os.MkdirAll(filepath.Join(s.Path("journal"), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := s.Save("journal", []byte(`{"a":1}`))
	if err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	for _, frag := range []string{`checkpoint: save stream "journal": rename `, " to " + s.Path("journal") + ": "} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not contain %q", err, frag)
		}
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files remain: %q", l)
	}
	if _, err := os.Stat(filepath.Join(s.Path("journal"), "x")); err != nil {
		t.Errorf("what was in the way was damaged: %v", err)
	}
}

// TestCloseDuringSaves closes the store while Saves are running: each Save
// either completes or returns ErrClosed, and the files stay valid.
func TestCloseDuringSaves(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	var wg, started sync.WaitGroup
	var mu sync.Mutex
	done := map[string]int{}
	streams := []string{"av", "spam", "receipt"}
	started.Add(len(streams))
	for _, st := range streams {
		wg.Go(func() {
			var once sync.Once
			defer once.Do(started.Done) // never leave started.Wait hanging
			for i := 0; ; i++ {
				err := s.Save(st, fmt.Appendf(nil, "%d", i))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done[st] = i
				mu.Unlock()
				once.Do(started.Done)
			}
		})
	}
	started.Wait() // every stream saved at least once and is still saving
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(done) != len(streams) {
		t.Fatalf("saves done before Close: %v", done)
	}
	s2 := openT(t, dir)
	for st, last := range done {
		got, err := s2.Load(st)
		if err != nil || string(got) != strconv.Itoa(last) {
			t.Errorf("%s: Load = %s, %v; want the last successful save %d", st, got, err, last)
		}
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files remain: %q", l)
	}
}

func TestLockSameProcess(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	pid := strconv.Itoa(os.Getpid())

	b, err := os.ReadFile(filepath.Join(dir, lockName))
	if err != nil || string(b) != pid+"\n" {
		t.Errorf("lock file = %q, %v; want our PID %s", b, err, pid)
	}

	s2, err := Open(dir, nil)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of the same dir succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error does not wrap ErrLocked: %v", err)
	}
	for _, frag := range []string{"PID " + pid, "this process", dir} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not contain %q", err, frag)
		}
	}
	// The failed Open did not disturb the holder.
	if err := s.Save("av", []byte(`1`)); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Load("av"); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
	if err := s.Save("av", []byte(`2`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Save after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Streams(); !errors.Is(err, ErrClosed) {
		t.Errorf("Streams after Close = %v, want ErrClosed", err)
	}

	s3 := openT(t, dir)
	if got, err := s3.Load("av"); err != nil || string(got) != "1" {
		t.Errorf("Load after reopen = %s, %v", got, err)
	}
}

// TestLockOtherProcessKilled runs this test binary as a child that takes
// the lock, checks that Open fails naming the child's PID, kills the child
// with SIGKILL (a crash: no Close, no unlock) and checks that the lock
// left behind no longer blocks.
func TestLockOtherProcessKilled(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperModeEnv+"=hold", helperDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	childPID := strconv.Itoa(cmd.Process.Pid)

	_, err = Open(dir, nil)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while the child holds the lock = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "in use by PID "+childPID+" ") {
		t.Errorf("error %q does not name the child PID %s", err, childPID)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	// The lock file still holds the dead child's PID, but the kernel
	// released the flock: Open succeeds and writes our PID.
	b, _ := os.ReadFile(filepath.Join(dir, lockName))
	if string(b) != childPID+"\n" {
		t.Errorf("stale lock file = %q, want the dead child's PID", b)
	}
	s := openT(t, dir)
	b, _ = os.ReadFile(filepath.Join(dir, lockName))
	if string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file after takeover = %q, want our PID", b)
	}
	if err := s.Save("av", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCleansTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	if err := s.Save("url-protect", []byte(`{"t":"old"}`)); err != nil {
		t.Fatal(err)
	}
	// Files a crash in the middle of a Save (or of Open's probe) leaves.
	crashed := []string{".url-protect.cursor.json.tmp-123456", ".av.cursor.json.tmp-9", ".write-probe-42"}
	for _, n := range crashed {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(`{"version":1,"str`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A stray temp file is ignored while open.
	if got, err := s.Load("url-protect"); err != nil || string(got) != `{"t":"old"}` {
		t.Errorf("Load with stray temp files = %s, %v", got, err)
	}
	if got, err := s.Load("av"); err != nil || got != nil {
		t.Errorf("Load of a stream with only a temp file = %s, %v; want nil, nil", got, err)
	}
	if st, err := s.Streams(); err != nil || !slices.Equal(st, []string{"url-protect"}) {
		t.Errorf("Streams = %q, %v", st, err)
	}
	// Other files are not ours and are left alone.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Close()

	var logBuf bytes.Buffer
	s2, err := Open(dir, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if l := leftovers(t, dir); !slices.Equal(l, []string{"notes.txt"}) {
		t.Errorf("files after Open = %q, want only notes.txt", l)
	}
	logs := logBuf.String()
	for _, n := range crashed {
		if !strings.Contains(logs, "level=INFO") || !strings.Contains(logs, filepath.Join(dir, n)) {
			t.Errorf("no info log for removed %s in:\n%s", n, logs)
		}
	}
	if got, err := s2.Load("url-protect"); err != nil || string(got) != `{"t":"old"}` {
		t.Errorf("Load after clean-up = %s, %v", got, err)
	}
}

// TestOpenBadDir covers the failure paths that do not depend on
// permissions, so they run as root too.
func TestOpenBadDir(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dir, want string }{
		{"", "STATE_DIR: must not be empty"},
		{file, "STATE_DIR " + file + ": not a directory"},
		{filepath.Join(file, "sub"), "STATE_DIR " + filepath.Join(file, "sub") + ": cannot access: not a directory"},
	}
	for _, tc := range cases {
		s, err := Open(tc.dir, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", tc.dir)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Open(%q) = %q, want %q", tc.dir, err, tc.want)
		}
	}
}

func TestOpenPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, which bypasses directory permissions; TestOpenPermissionDeniedAsNobody and TestReadOnlyFilesystem cover this as root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	_, err := Open(dir, nil)
	want := "STATE_DIR " + dir + ": not writable: permission denied"
	if err == nil || err.Error() != want {
		t.Fatalf("Open = %v, want %q", err, want)
	}
}

// TestOpenPermissionDeniedAsNobody runs, as root, this test binary as the
// unprivileged user 65534 against a root-owned 0755 directory: a real
// EACCES, which root itself cannot get.
func TestOpenPermissionDeniedAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as another user; TestOpenPermissionDenied covers this case")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(base, "checkpoint.test")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(base, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperModeEnv+"=open", helperDirEnv+"="+state)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Skipf("cannot run a child as uid 65534 here: %v", err)
	}
	want := "error: STATE_DIR " + state + ": not writable: permission denied\n"
	if string(out) != want {
		t.Fatalf("child output %q, want %q", out, want)
	}
}

// mountTmpfs mounts a tmpfs with the given options on a fresh directory
// and unmounts it in Cleanup. It skips the test unless running as root
// with mount available and permitted.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mount, err := exec.LookPath("mount")
	if err != nil {
		t.Skip("mount(8) not available:", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(mount, "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull fills a real 64 KiB tmpfs and checks that Save fails with a
// clear error, leaves the previous cursor intact and no temporary file, and
// works again once space is freed.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "size=64k,mode=0700")
	dir := filepath.Join(mnt, "state")
	s := openT(t, dir)
	old := `{"token":"old"}`
	if err := s.Save("url-protect", []byte(old)); err != nil {
		t.Fatal(err)
	}

	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs ended with %v, want ENOSPC", err)
	}

	err = s.Save("url-protect", []byte(`{"token":"new"}`))
	if err == nil {
		t.Fatal("Save on a full disk succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error does not wrap ENOSPC: %v", err)
	}
	for _, frag := range []string{`save stream "url-protect"`, "no space left on device", "previous cursor is intact", dir} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q does not contain %q", err, frag)
		}
	}
	t.Log("disk full error:", err)
	if got, err := s.Load("url-protect"); err != nil || string(got) != old {
		t.Errorf("Load after failed Save = %s, %v; want the old cursor", got, err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files remain: %q", l)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("url-protect", []byte(`{"token":"new"}`)); err != nil {
		t.Fatalf("Save after freeing space: %v", err)
	}
	if got, err := s.Load("url-protect"); err != nil || string(got) != `{"token":"new"}` {
		t.Errorf("Load = %s, %v", got, err)
	}
	s.Close()
}

// TestReadOnlyFilesystem checks Open's writability check with a read-only
// mount, which stops root too.
func TestReadOnlyFilesystem(t *testing.T) {
	mnt := mountTmpfs(t, "size=64k,mode=0700")
	dir := filepath.Join(mnt, "state")
	s := openT(t, dir)
	if err := s.Save("av", []byte(`"old"`)); err != nil {
		t.Fatal(err)
	}
	// The store must be closed first: a file open for writing (the lock)
	// makes the remount fail with "busy".
	s.Close()
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only (%v): %s", err, out)
	}
	_, err := Open(dir, nil)
	want := "STATE_DIR " + dir + ": not writable: read-only file system"
	if err == nil || err.Error() != want {
		t.Errorf("Open on a read-only fs = %v, want %q", err, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "av.cursor.json"))
	if err != nil || !strings.Contains(string(b), `"cursor":"old"`) {
		t.Errorf("cursor file = %s, %v", b, err)
	}
}

// BenchmarkSave measures durable saves per second on the file system of
// the test's temp directory; it is bound by the two fsyncs per Save.
func BenchmarkSave(b *testing.B) {
	s := openT(b, b.TempDir())
	cursor := []byte(`{"token":"eNpVj0trwzAQhP_LnH2Q5JdOLaSBQh8JSW7BLIq9bgWyZSSlIYT896qxSdLjzrezO9pKFO4bHNHxvR0qMdq8UXZTjAt6Hls4oCKmyTz8pBv8xxhsTK6nyvwlfjSqZk6OzjP4EVMtDhYMQ4Gc7jLDEZOR14pNZP0L"}`)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := s.Save("url-protect", cursor); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "saves/s")
}
