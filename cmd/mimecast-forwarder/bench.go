package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// cmdBench measures the forwarder end to end as users run it: it starts
// the simulator (`simulate`) and the forwarder (`run --once`) as child
// processes of this binary, receives the syslog stream itself on a loopback
// TCP listener, and prints records/s (wall clock and per CPU-second of the
// forwarder process) and the forwarder's peak RSS.
func cmdBench(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	records := fs.Int("records", 1_000_000, "records to push (rounded up to whole files)")
	perFile := fs.Int("records-per-file", 10_000, "records per simulated batch file (raise it to show that memory does not grow with file size)")
	types := fs.Int("types", len(mimecast.Types), "number of event types (streams) to spread the records over")
	procs := fs.Int("gomaxprocs", 1, "GOMAXPROCS of the forwarder process (1 = one core)")
	longEvery := fs.Int("long-line-every", 0, "every Nth file of each type ends with a very long line (0: none; 1 with one file per type: every stream reads one at the same time)")
	longBytes := fs.Int("long-line-bytes", 0, "padding of the long lines in bytes (0: the simulator's 4 MiB); above the maximum line size (32 MiB) they are skipped as too_large, and a padding of hundreds of MiB makes a gzip bomb (a few MiB that inflate to a huge line)")
	api := fs.String("api", "v2", "Mimecast API: v2 (gzip NDJSON batch files) or v1 (one zip per file, one member per type)")
	fileFormat := fs.String("file-format", "key_value", "API 1.0 file format: key_value or json")
	body := fs.String("body", "json", "SYSLOG_BODY of the forwarder: json or raw")
	seed := fs.Uint64("seed", 0, "seed of the simulator's randomised events (ids, addresses, subjects, numbers and times vary per record with any seed)")
	prepare := fs.Bool("prepare", true, "let the simulator compress every file before the forwarder starts (false: it compresses each file when served, on the same cores as the forwarder)")
	baseline := fs.Bool("baseline", true, "with --api v1: also time programs that only unzip the first file and copy its lines to a file (`unzip-copy`, this binary with compress/flate, and `unzip -p` when installed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*api != "v1" && *api != "v2") || (*fileFormat != "key_value" && *fileFormat != "json") || (*body != "json" && *body != "raw") {
		return &configError{err: errors.New("bench: --api v1|v2, --file-format key_value|json, --body json|raw")}
	}
	if *records < 1 || *perFile < 1 || *types < 1 || *types > len(mimecast.Types) || *procs < 1 || *longEvery < 0 || *longBytes < 0 {
		return &configError{err: fmt.Errorf("bench: --records, --records-per-file, --gomaxprocs must be ≥ 1, --types 1..%d, --long-line-every and --long-line-bytes ≥ 0", len(mimecast.Types))}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find own executable: %w", err)
	}
	filesPerType := (*records + *perFile**types - 1) / (*perFile * *types)
	cadence := simulator.DefaultCadence
	history := time.Duration(filesPerType) * cadence
	typeList := mimecast.Types[:*types]

	// Sink: counts LF-terminated messages.
	sink, err := newLineSink(e.stderr)
	if err != nil {
		return err
	}
	defer sink.Close()

	simAddr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	sim := exec.CommandContext(ctx, exe, "simulate", "--listen", simAddr, "--log-level", "warn",
		"--history", history.String(), "--live-interval", "-1s", "--records-per-file", strconv.Itoa(*perFile),
		"--rate-limit", "-1", "--types", joinTypes(typeList), "--seed", strconv.FormatUint(*seed, 10),
		"--long-line-every", strconv.Itoa(*longEvery), "--long-line-bytes", strconv.Itoa(*longBytes))
	if *prepare {
		// Serve files that already exist, as Mimecast does: the simulator
		// compresses them all before it listens, so that its CPU during the
		// measurement is only HTTP.
		what := "v2"
		if *api == "v1" {
			what = "v1:" + *fileFormat
		}
		sim.Args = append(sim.Args, "--prepare", what, "--cache-bytes", strconv.FormatInt(int64(*records)*400+256<<20, 10))
	}
	sim.Stderr = e.stderr
	if err := sim.Start(); err != nil {
		return fmt.Errorf("bench: start simulator: %w", err)
	}
	defer func() {
		_ = sim.Process.Signal(syscall.SIGTERM)
		_ = sim.Wait()
	}()
	if err := waitListening(ctx, simAddr, 10*time.Minute); err != nil {
		return fmt.Errorf("bench: simulator: %w", err)
	}

	state, err := os.MkdirTemp("", "mimecast-forwarder-bench-")
	if err != nil {
		return fmt.Errorf("bench: state directory: %w", err)
	}
	defer os.RemoveAll(state)
	fwd := exec.CommandContext(ctx, exe, "run", "--once", "--metrics-address=")
	// Only what the bench sets, so that the caller's SYSLOG_* or MIMECAST_*
	// variables do not change what is measured.
	fwd.Env = append(passThroughEnv(),
		"GOMAXPROCS="+strconv.Itoa(*procs),
		"MIMECAST_BASE_URL=http://"+simAddr,
		"MIMECAST_REQUESTS_PER_MINUTE=0",
		"SYSLOG_BODY="+*body,
		"SYSLOG_ADDRESS=tcp://"+sink.Addr(),
		"SYSLOG_MAX_EPS=0", // measure the forwarder, not its rate limit
		"STATE_DIR="+state,
		"LOG_LEVEL=warn",
	)
	if *api == "v2" {
		fwd.Env = append(fwd.Env,
			"MIMECAST_API=v2",
			"MIMECAST_CLIENT_ID="+simulator.DefaultClientID,
			"MIMECAST_CLIENT_SECRET="+simulator.DefaultClientSecret,
			"MIMECAST_TYPES="+joinTypes(typeList),
			"MIMECAST_LOOKBACK="+(history+2*cadence).String(),
			"MIMECAST_DAY_GRACE=0", // all files published so far, also just after midnight UTC
		)
	} else {
		fwd.Env = append(fwd.Env,
			"MIMECAST_API=v1",
			"MIMECAST_APP_ID="+simulator.DefaultV1AppID,
			"MIMECAST_APP_KEY="+simulator.DefaultV1AppKey,
			"MIMECAST_ACCESS_KEY="+simulator.DefaultV1AccessKey,
			"MIMECAST_SECRET_KEY="+simulator.DefaultV1SecretKey,
			"MIMECAST_FILE_FORMAT="+*fileFormat,
			"MIMECAST_TYPES="+api1.StreamName, // the SIEM stream only, not the other logs
		)
	}
	fwd.Stderr = e.stderr
	fmt.Fprintf(e.stdout, "bench: API %s, %d types × %d files × %d records = %d records, forwarder GOMAXPROCS=%d, SYSLOG_BODY=%s\n",
		*api, *types, filesPerType, *perFile, *types*filesPerType**perFile, *procs, *body)
	if *api == "v1" {
		fmt.Fprintf(e.stdout, "API 1.0 file format:     %s (%d zip files of %d events)\n", *fileFormat, filesPerType, *types**perFile)
	}
	longLines, skippable := longLineCount(*types, filesPerType, *longEvery, *longBytes)
	if longLines > 0 {
		fmt.Fprintf(e.stdout, "long lines:              %d of %d bytes of padding\n", longLines, longLinePadding(*longBytes))
	}
	simCPU0, simErr := processCPU(sim.Process.Pid)
	selfCPU0 := selfCPU()
	start := time.Now()
	if err := fwd.Run(); err != nil {
		return fmt.Errorf("bench: forwarder: %w", err)
	}
	got := sink.WaitQuiet(2 * time.Second)
	// Until the last record arrived: the forwarder's exit comes later (it
	// checks the receiver one replay window after the last batch).
	wall := sink.LastArrival().Sub(start)

	ru, _ := fwd.ProcessState.SysUsage().(*syscall.Rusage)
	var cpu time.Duration
	var rssMiB float64
	if ru != nil {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		rssMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	fmt.Fprintf(e.stdout, "records received:        %d\n", got)
	fmt.Fprintf(e.stdout, "wall time to last record: %.2f s\n", wall.Seconds())
	fmt.Fprintf(e.stdout, "records/s (wall):        %.0f\n", float64(got)/wall.Seconds())
	if span := sink.LastArrival().Sub(sink.FirstArrival()); span > 0 {
		fmt.Fprintf(e.stdout, "records/s (first to last record): %.0f\n", float64(got)/span.Seconds())
	}
	if cpu > 0 {
		fmt.Fprintf(e.stdout, "forwarder CPU time:      %.2f s\n", cpu.Seconds())
		fmt.Fprintf(e.stdout, "records per CPU-second:  %.0f\n", float64(got)/cpu.Seconds())
	}
	fmt.Fprintf(e.stdout, "forwarder peak RSS:      %.1f MiB\n", rssMiB)
	// What else used the machine's cores meanwhile: with as many cores as
	// the forwarder's GOMAXPROCS, the simulator and the sink take theirs.
	if span := sink.LastArrival().Sub(start); span > 0 && cpu > 0 {
		fmt.Fprintf(e.stdout, "forwarder cores in use:  %.2f (of %d on this machine)\n", cpu.Seconds()/span.Seconds(), runtime.NumCPU())
	}
	if simCPU1, err := processCPU(sim.Process.Pid); err == nil && simErr == nil {
		fmt.Fprintf(e.stdout, "simulator CPU time:      %.2f s (serving files; not counting --prepare)\n", (simCPU1 - simCPU0).Seconds())
	}
	fmt.Fprintf(e.stdout, "sink CPU time:           %.2f s (this process, receiving)\n", (selfCPU() - selfCPU0).Seconds())
	fmt.Fprintf(e.stdout, "bytes received:          %d (%.0f B/record)\n", sink.Bytes(), float64(sink.Bytes())/float64(max(got, 1)))
	if *api == "v1" && *baseline {
		if err := unzipBaseline(ctx, e, exe, *procs, *fileFormat, *perFile, typeList, history, *seed); err != nil {
			return err
		}
	}
	want := int64(*types*filesPerType**perFile - skippable)
	if got < want {
		return fmt.Errorf("bench: received %d records, want at least %d", got, want)
	}
	return nil
}

// processCPU returns the user and system CPU time of process pid so far,
// from /proc (Linux; clock ticks of 1/100 s).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: unexpected /proc stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bench: unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14 of the line
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: unexpected /proc stat format")
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// selfCPU returns this process's own CPU time (not its children's).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// longLineCount returns how many long lines the simulator serves (one in
// every longEvery-th file of each type) and how many of them the forwarder
// may skip as too_large (their padding alone comes within 64 KiB of the
// maximum line size).
func longLineCount(types, filesPerType, longEvery, longBytes int) (lines, skippable int) {
	if longEvery <= 0 {
		return 0, 0
	}
	lines = types * (filesPerType / longEvery)
	if longLinePadding(longBytes)+64<<10 > jsonl.DefaultMaxLine {
		skippable = lines
	}
	return lines, skippable
}

func longLinePadding(n int) int {
	if n == 0 {
		return simulator.DefaultLongLineBytes
	}
	return n
}

// passThroughEnv keeps the variables a child process needs to run.
func passThroughEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func joinTypes(types []string) string {
	var b bytes.Buffer
	for i, t := range types {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t)
	}
	return b.String()
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lineSink accepts TCP connections and counts LF-terminated lines.
type lineSink struct {
	ln     net.Listener
	stderr io.Writer
	lines  atomic.Int64
	bytes  atomic.Int64
	first  atomic.Int64 // unix nanoseconds of the first read
	last   atomic.Int64 // unix nanoseconds of the last read
	wg     sync.WaitGroup
}

func newLineSink(stderr io.Writer) (*lineSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: sink: %w", err)
	}
	s := &lineSink{ln: ln, stderr: stderr}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *lineSink) Addr() string { return s.ln.Addr().String() }

func (s *lineSink) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() {
			defer c.Close()
			r := bufio.NewReaderSize(c, 256<<10)
			buf := make([]byte, 256<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 {
					s.lines.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
					s.bytes.Add(int64(n))
					now := time.Now().UnixNano()
					s.first.CompareAndSwap(0, now)
					s.last.Store(now)
				}
				if err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
						fmt.Fprintln(s.stderr, "bench: sink:", err)
					}
					return
				}
			}
		})
	}
}

// WaitQuiet waits until nothing arrived for quiet, then returns the count.
func (s *lineSink) WaitQuiet(quiet time.Duration) int64 {
	for time.Since(time.Unix(0, s.last.Load())) < quiet {
		time.Sleep(quiet / 10)
	}
	return s.lines.Load()
}

func (s *lineSink) Bytes() int64 { return s.bytes.Load() }

// FirstArrival is when the first bytes arrived.
func (s *lineSink) FirstArrival() time.Time { return time.Unix(0, s.first.Load()) }

// LastArrival is when the last bytes arrived.
func (s *lineSink) LastArrival() time.Time { return time.Unix(0, s.last.Load()) }

func (s *lineSink) Close() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// unzipBaseline times the reference the issue compares API 1.0 with: a
// program that only unzips the file and copies its lines to a file. The
// zip is API 1.0 file 0 as the simulator serves it (same generator and
// options). Both baselines run as child processes with the forwarder's
// GOMAXPROCS, and report events/s (wall) and events per CPU-second.
func unzipBaseline(ctx context.Context, e env, exe string, procs int, format string, perFile int, types []string, history time.Duration, seed uint64) error {
	sim, err := simulator.New(simulator.Options{Types: types, RecordsPerFile: perFile, History: history, LiveInterval: -1, Seed: seed})
	if err != nil {
		return fmt.Errorf("bench: baseline simulator: %w", err)
	}
	data, err := sim.V1Zip(0, format)
	if err != nil {
		return fmt.Errorf("bench: baseline zip: %w", err)
	}
	dir, err := os.MkdirTemp("", "mimecast-forwarder-baseline-")
	if err != nil {
		return fmt.Errorf("bench: baseline directory: %w", err)
	}
	defer os.RemoveAll(dir)
	zipPath, outPath := dir+"/siem.zip", dir+"/lines.out"
	if err := os.WriteFile(zipPath, data, 0o600); err != nil {
		return fmt.Errorf("bench: baseline zip: %w", err)
	}
	events := len(types) * perFile
	fmt.Fprintf(e.stdout, "baseline zip:            %d bytes, %d events\n", len(data), events)
	run := func(label string, cmd *exec.Cmd) error {
		out, err := os.Create(outPath)
		if err != nil {
			return fmt.Errorf("bench: baseline output: %w", err)
		}
		defer out.Close()
		cmd.Stdout = out
		cmd.Stderr = e.stderr
		cmd.Env = append(passThroughEnv(), "GOMAXPROCS="+strconv.Itoa(procs))
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bench: baseline %s: %w", label, err)
		}
		wall := time.Since(start)
		var cpu time.Duration
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		fmt.Fprintf(e.stdout, "baseline %-15s %.0f events/s (wall), %.0f events per CPU-second\n",
			label+":", float64(events)/wall.Seconds(), float64(events)/max(cpu.Seconds(), 1e-9))
		return nil
	}
	if err := run("unzip-copy", exec.CommandContext(ctx, exe, "unzip-copy", zipPath)); err != nil {
		return err
	}
	if unzip, err := exec.LookPath("unzip"); err == nil {
		if err := run("unzip -p", exec.CommandContext(ctx, unzip, "-p", zipPath)); err != nil {
			return err
		}
	}
	if py, err := exec.LookPath("python3"); err == nil {
		// As the Wazuh blog's script does: each line of each member
		// copied to a file.
		const script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nout = sys.stdout.buffer\n" +
			"for n in z.namelist():\n    for line in z.open(n):\n        out.write(line)\n"
		return run("python3", exec.CommandContext(ctx, py, "-c", script, zipPath))
	}
	return nil
}

// cmdUnzipCopy is the bench's baseline program: it unzips a zip with the
// standard library and copies every line of every member to standard
// output, nothing else (no parsing).
func cmdUnzipCopy(_ context.Context, args []string, e env) error {
	if len(args) != 1 {
		return &configError{err: errors.New("unzip-copy: one zip file expected")}
	}
	zr, err := zip.OpenReader(args[0])
	if err != nil {
		return fmt.Errorf("unzip-copy: %w", err)
	}
	defer zr.Close()
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("unzip-copy: %s: %w", f.Name, err)
		}
		r := bufio.NewReaderSize(rc, 64<<10)
		for {
			line, err := r.ReadSlice('\n')
			if len(line) > 0 {
				if _, werr := w.Write(line); werr != nil {
					rc.Close()
					return fmt.Errorf("unzip-copy: write: %w", werr)
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				return fmt.Errorf("unzip-copy: %s: %w", f.Name, err)
			}
		}
		rc.Close()
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("unzip-copy: write: %w", err)
	}
	return nil
}
