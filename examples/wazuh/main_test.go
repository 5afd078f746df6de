// Package wazuh_test checks the Wazuh decoders, rules and ruleset tests in
// examples/wazuh on a real Wazuh 4.x manager, and the forwarder's delivery
// into it.
//
// The manager is the one at /var/ossec (the CI installs the minimal 4.7.4
// manager from the project's test tools and starts it with
// /var/ossec/bin/wazuh-control). TestMain installs the project's decoders and
// rules the way the README tells users to (copy into etc/decoders and
// etc/rules, owner wazuh, mode 0660, restart), runs the tests and restores
// the previous files. Without a manager the tests that need one are skipped
// with a message; with CI=true they fail.
//
// What no manager can check is checked statically (static_test.go): XML
// well-formedness, rule ids in the project's range and not used by the
// stock ruleset, decoder coverage of every API 1.0 key_value field, and that
// the .ini lines are the forwarder's real output.
package wazuh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ossecDir is where Wazuh installs the manager.
const ossecDir = "/var/ossec"

// Paths of the project's content in the repository, relative to this
// package, and the names the README tells users to install them under.
const (
	decoderFile = "0000-mimecast_decoders.xml"
	rulesFile   = "mimecast_rules.xml"
)

// env is what TestMain found and prepared.
var env struct {
	managerErr error  // why there is no usable manager (nil: there is one)
	binDir     string // temporary directory for the forwarder binary

	install struct {
		sync.Once
		restore func() error // puts the manager's previous files back
		loadLog string       // ossec.log written while it restarted with our content
		err     error
	}
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wazuh-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	env.binDir = dir
	env.managerErr = findManager()
	code := m.Run()
	if env.install.restore != nil {
		if err := env.install.restore(); err != nil {
			fmt.Fprintln(os.Stderr, "restoring the Wazuh manager's decoders and rules:", err)
			code = 1
		}
	}
	return code
}

// findManager reports why the manager at ossecDir cannot be used.
func findManager() error {
	for _, f := range []string{"bin/wazuh-analysisd", "bin/wazuh-remoted", "bin/wazuh-control"} {
		if _, err := os.Stat(filepath.Join(ossecDir, f)); err != nil {
			return fmt.Errorf("no Wazuh manager: %w", err)
		}
	}
	if os.Geteuid() != 0 {
		return errors.New("a Wazuh manager is installed but the tests need root to install content and restart it")
	}
	// The minimal test manager has no wazuh-modulesd; a full one may be a
	// real deployment, which these tests would restart with our content.
	if _, err := os.Stat(filepath.Join(ossecDir, "bin", "wazuh-modulesd")); err == nil &&
		os.Getenv("WAZUH_TESTS") != "1" && os.Getenv("CI") != "true" {
		return errors.New("a full Wazuh manager (with wazuh-modulesd) is installed at /var/ossec: the tests install their decoders and rules on it and restart it; set WAZUH_TESTS=1 to allow that")
	}
	return nil
}

// needManager skips t (fails it with CI=true) when there is no manager.
// The first call installs the project's content on it (once per run).
func needManager(t *testing.T) {
	t.Helper()
	if env.managerErr == nil {
		env.install.Do(func() {
			env.install.restore, env.install.loadLog, env.install.err = installContent()
		})
		if env.install.err != nil {
			t.Fatalf("installing the decoders and rules on the Wazuh manager: %v", env.install.err)
		}
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %v: .ci/run installs and starts it", env.managerErr)
	}
	t.Skipf("%v; install one (see .ci/run: the minimal Wazuh 4.7.4 test manager) or set CI=true to make this a failure", env.managerErr)
}

// installContent copies the decoders and rules into the manager as the
// README says, restarts it and returns a function that puts back what was
// there before (and restarts again), and what ossec.log said during the
// restart.
func installContent() (restore func() error, loadLog string, err error) {
	type saved struct {
		dst  string
		old  []byte
		mode os.FileMode
		had  bool
	}
	var backups []saved
	restore = func() error {
		var errs []error
		for _, b := range backups {
			if !b.had {
				if err := os.Remove(b.dst); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			if err := os.WriteFile(b.dst, b.old, b.mode); err != nil {
				errs = append(errs, err)
			}
		}
		if _, err := wazuhControl("restart"); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	for _, f := range []struct{ src, dst string }{
		{filepath.Join("decoders", decoderFile), filepath.Join(ossecDir, "etc", "decoders", decoderFile)},
		{filepath.Join("rules", rulesFile), filepath.Join(ossecDir, "etc", "rules", rulesFile)},
	} {
		b := saved{dst: f.dst}
		if old, err := os.ReadFile(f.dst); err == nil {
			st, _ := os.Stat(f.dst)
			b.old, b.mode, b.had = old, st.Mode().Perm(), true
		}
		backups = append(backups, b)
		if err := installFile(f.src, f.dst); err != nil {
			return restore, "", err
		}
	}
	logPath := filepath.Join(ossecDir, "logs", "ossec.log")
	off := fileSize(logPath)
	out, err := wazuhControl("restart")
	if err != nil {
		return restore, "", err
	}
	// remoted logs its listeners a moment after wazuh-control returns.
	time.Sleep(2 * time.Second)
	log, err := readFrom(logPath, off)
	if err != nil {
		return restore, "", err
	}
	return restore, out + "\n" + log, nil
}

// installFile copies src to dst with the owner and mode Wazuh expects
// (wazuh:wazuh, 0660), like the README's install commands.
func installFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b, 0o660); err != nil {
		return err
	}
	if err := os.Chmod(dst, 0o660); err != nil {
		return err
	}
	u, err := user.Lookup("wazuh")
	if err != nil {
		return fmt.Errorf("user wazuh: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dst, uid, gid)
}

// wazuhControl runs /var/ossec/bin/wazuh-control with arg.
func wazuhControl(arg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(ossecDir, "bin", "wazuh-control"), arg).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("wazuh-control %s: %w\n%s", arg, err, out)
	}
	return string(out), nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func readFrom(path string, off int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return "", err
	}
	b, err := io.ReadAll(f)
	return string(b), err
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// forwarderBinary builds cmd/mimecast-forwarder once per test run.
func forwarderBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		p := filepath.Join(env.binDir, "mimecast-forwarder")
		cmd := exec.Command("go", "build", "-o", p, "./cmd/mimecast-forwarder")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		buildOnce.path = p
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// runForwarder runs the forwarder binary with args and exactly the
// environment vars (plus PATH and HOME), and returns its standard error.
func runForwarder(t *testing.T, timeout time.Duration, vars map[string]string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, forwarderBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mimecast-forwarder %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// forwardedRe finds the summary line of a run.
var forwardedRe = regexp.MustCompile(`msg=forwarded records=(\d+) streams=(\d+)`)

// forwardedCount returns the record count of a run's summary line.
func forwardedCount(t *testing.T, stderr string) int {
	t.Helper()
	m := forwardedRe.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary line in the forwarder's log:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
