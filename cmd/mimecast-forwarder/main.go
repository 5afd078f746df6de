// Command mimecast-forwarder fetches Mimecast SIEM logs (API 2.0 batch
// events, or API 1.0 get-siem-logs) and forwards every event as one RFC5424
// syslog message to a Wazuh manager, rsyslog or syslog-ng, keeping a durable
// cursor per stream and exporting Prometheus metrics.
//
// Subcommands:
//
//	run       the daemon
//	demo      the daemon against the built-in Mimecast simulator (no credentials)
//	simulate  serve the Mimecast simulator for other tools
//	check     validate the configuration, then try authentication and the receiver
//	bench     push simulated records end to end over loopback TCP, print records/s and peak RSS
//	version   print the version
//	healthcheck  GET /healthz of a running instance (for Docker's HEALTHCHECK)
//
// Every setting is a flag and an environment variable; `mimecast-forwarder
// run -h` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Set at build time with -ldflags "-X main.version=… -X main.revision=…".
var (
	version  = "dev"
	revision = "unknown"
)

// shutdownGrace bounds how long the process takes to exit after SIGINT or
// SIGTERM, a last resort: the batch in flight is abandoned at once (not
// committed), a write blocked on a receiver that does not read included,
// so a stop normally takes milliseconds.
const shutdownGrace = 10 * time.Second

// env is what a command needs from the process: arguments, streams and the
// environment. Tests substitute it.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	lookupEnv      func(string) (string, bool) // nil: an empty variable counts as unset
	readFile       func(string) ([]byte, error)
}

func main() {
	e := env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, lookupEnv: os.LookupEnv, readFile: os.ReadFile}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// A second signal, or a stuck shutdown, ends the process anyway.
		t := time.NewTimer(shutdownGrace)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		select {
		case <-t.C:
			fmt.Fprintln(os.Stderr, "mimecast-forwarder: shutdown took longer than", shutdownGrace, "- exiting")
		case <-sig:
			fmt.Fprintln(os.Stderr, "mimecast-forwarder: second signal - exiting")
		}
		os.Exit(1)
	}()
	os.Exit(runMain(ctx, os.Args[1:], e))
}

// runMain dispatches a subcommand and returns the exit code.
func runMain(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, rest, e, false)
	case "demo":
		err = cmdRun(ctx, rest, e, true)
	case "simulate":
		err = cmdSimulate(ctx, rest, e)
	case "check":
		err = cmdCheck(ctx, rest, e)
	case "bench":
		err = cmdBench(ctx, rest, e)
	case "unzip-copy": // the bench's baseline program, not in the usage
		err = cmdUnzipCopy(ctx, rest, e)
	case "healthcheck":
		err = cmdHealthcheck(ctx, rest, e)
	case "version", "--version", "-version":
		fmt.Fprintf(e.stdout, "mimecast-forwarder %s (revision %s, %s)\n", version, revision, runtime.Version())
		return 0
	case "help", "-h", "--help", "-help":
		usage(e.stdout)
		return 0
	default:
		fmt.Fprintf(e.stderr, "mimecast-forwarder: unknown command %q\n", cmd)
		usage(e.stderr)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ce *configError
	if errors.As(err, &ce) {
		fmt.Fprintf(e.stderr, "mimecast-forwarder %s: invalid configuration:\n", cmd)
		for _, line := range strings.Split(ce.Error(), "\n") {
			fmt.Fprintf(e.stderr, "  - %s\n", line)
		}
		return 2
	}
	fmt.Fprintf(e.stderr, "mimecast-forwarder %s: %v\n", cmd, err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: mimecast-forwarder <command> [flags]

commands:
  run          forward Mimecast SIEM logs to syslog (the daemon)
  demo         run against the built-in Mimecast simulator; prints to stdout unless SYSLOG_ADDRESS is set
  simulate     serve the Mimecast API simulator (--listen ADDR)
  check        validate the configuration, then try authentication and the receiver
  bench        measure records/s and peak RSS end to end over loopback TCP
  version      print the version
  healthcheck  exit 0 if a running instance answers /healthz (for Docker)

Every setting is a flag and an environment variable: mimecast-forwarder run -h
`)
}

// configError carries every configuration problem, one per line.
type configError struct{ err error }

func (c *configError) Error() string { return c.err.Error() }
func (c *configError) Unwrap() error { return c.err }

// newLogger builds the process logger from LOG_LEVEL and LOG_FORMAT.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("LOG_FORMAT %q: want text or json", format)
}
