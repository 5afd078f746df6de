package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/checkpoint"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/flowcontrol"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/transport"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/logs"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// budgetBurst is how many API requests may go at once before the budget
// spaces them.
const budgetBurst = 10

// checkBudgetBurst is the burst of check, which asks every stream once at
// the same time (at most 21 calls with the token): Mimecast's quotas are
// per API function, and a check that waited on the budget would take
// longer than the user's patience.
const checkBudgetBurst = 24

// cmdRun runs the daemon; with demo it first starts the built-in simulator
// and points the forwarder at it.
func cmdRun(ctx context.Context, args []string, e env, demo bool) error {
	name := "run"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	v, err := parseSettings(fs, args, e.getenv, e.lookupEnv)
	if err != nil {
		return err
	}
	log, err := newLogger(e.stderr, v["LOG_LEVEL"], v["LOG_FORMAT"])
	if err != nil {
		// buildConfig reports this problem together with every other one.
		log = slog.New(slog.NewTextHandler(e.stderr, nil))
	}
	if demo {
		simLog := log
		if !strings.EqualFold(v["LOG_LEVEL"], "debug") {
			// One line per simulated request would drown the demo's output.
			if l, err := newLogger(e.stderr, "warn", v["LOG_FORMAT"]); err == nil {
				simLog = l
			}
		}
		sim, err := startDemoSimulator(simLog)
		if err != nil {
			return err
		}
		defer sim.Close()
		useSimulator(v, sim)
		if e.getenv("MIMECAST_REQUESTS_PER_MINUTE") == "" && !flagGiven(fs, "MIMECAST_REQUESTS_PER_MINUTE") {
			v["MIMECAST_REQUESTS_PER_MINUTE"] = "0" // the simulator needs no budget
		}
		if v["STATE_DIR"] == defaultOf("STATE_DIR") {
			dir, err := os.MkdirTemp("", "mimecast-forwarder-demo-")
			if err != nil {
				return fmt.Errorf("demo: state directory: %w", err)
			}
			defer os.RemoveAll(dir)
			v["STATE_DIR"] = dir
		}
		log.Info("demo: forwarding the built-in Mimecast simulator's events", "simulator", sim.URL(), "state_dir", v["STATE_DIR"])
	}
	cfg, err := buildConfig(v, e, demo)
	if err != nil {
		return err
	}
	log.Info("mimecast-forwarder starting", append([]any{"version", version, "command", name}, v.redacted()...)...)
	return serve(ctx, cfg, e, log)
}

// flagGiven reports whether the flag of env was set on the command line.
func flagGiven(fs *flag.FlagSet, env string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == flagName(env) })
	return given
}

// defaultOf returns the default value of a setting.
func defaultOf(env string) string {
	for _, s := range settings {
		if s.Env == env {
			return s.Default
		}
	}
	return ""
}

// startDemoSimulator serves the simulator on a free loopback port with a
// small history so that `demo --once` ends in a second or two; new events
// keep arriving every minute for a demo that keeps running.
func startDemoSimulator(log *slog.Logger) (*simulator.Simulator, error) {
	sim, err := simulator.NewServer(simulator.Options{
		History:        demoHistory,
		LiveInterval:   time.Minute,
		RecordsPerFile: 5,
		Logger:         log.With("component", "simulator"),
	})
	if err != nil {
		return nil, fmt.Errorf("demo: start simulator: %w", err)
	}
	return sim, nil
}

// useSimulator points the Mimecast settings at sim (API 2.0).
func useSimulator(v values, sim *simulator.Simulator) {
	id, secret := sim.Credentials()
	for _, k := range []string{"MIMECAST_APP_ID", "MIMECAST_APP_KEY", "MIMECAST_ACCESS_KEY", "MIMECAST_SECRET_KEY",
		"MIMECAST_APP_ID_FILE", "MIMECAST_APP_KEY_FILE", "MIMECAST_ACCESS_KEY_FILE", "MIMECAST_SECRET_KEY_FILE", "MIMECAST_CLIENT_SECRET_FILE"} {
		v[k] = ""
	}
	v["MIMECAST_API"] = apiV2
	v["MIMECAST_BASE_URL"] = sim.URL()
	v["MIMECAST_CLIENT_ID"] = id
	v["MIMECAST_CLIENT_SECRET"] = secret
}

// memoryLimit is the Go runtime's soft memory limit while the daemon runs,
// unless GOMEMLIMIT sets another: the long-line budget plus room for
// everything else. The budget bounds the long-line buffers in use; the
// limit makes the runtime collect the ones already dropped before the heap
// doubles (GOGC), which would otherwise take the process past 256 MiB when
// every stream meets a long line.
const memoryLimit = jsonl.DefaultLineBudget + 64<<20

// envSet reports whether the environment variable k is set.
func envSet(e env, k string) bool {
	if e.lookupEnv == nil {
		return e.getenv(k) != ""
	}
	_, set := e.lookupEnv(k)
	return set
}

// serve wires the components and runs the forwarder until ctx is done (or,
// with --once, until every stream is caught up).
func serve(ctx context.Context, cfg *config, e env, log *slog.Logger) error {
	if !envSet(e, "GOMEMLIMIT") {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(memoryLimit))
	}
	store, err := checkpoint.Open(cfg.StateDir, log)
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	m := metrics.New(reg, version, revision)

	// The metrics server and the flow controller run until serve returns.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		stopBackground()
		wg.Wait()
	}()
	var srv *metrics.Server
	if cfg.MetricsAddress != "" {
		srv, err = metrics.NewServer(cfg.MetricsAddress, reg, reg, log)
		if err != nil {
			return err
		}
		wg.Go(func() {
			if err := srv.Serve(bgCtx); err != nil {
				log.Error("metrics server stopped", "err", err)
			}
		})
		log.Info("serving metrics", "address", srv.Addr())
	}

	formatter, err := syslogfmt.New(cfg.Format)
	if err != nil {
		return &configError{err: err}
	}
	var sender forwarder.Sender
	var ts *transport.Sender
	if cfg.Stdout {
		sender = forwarder.NewWriterSender(e.stdout)
	} else {
		tcfg := cfg.Transport
		// --once must end: a certificate that does not verify stops it.
		tcfg.StopOnConfigError = cfg.Pipeline.Once
		ts, err = transport.New(tcfg, m, log)
		if err != nil {
			// Only configuration fails here (e.g. an unreadable
			// SYSLOG_TLS_CA_FILE): exit 2 like every other.
			return &configError{err: err}
		}
		defer ts.Close()
		sender = limitOutput(bgCtx, cfg.Flow, ts, m, log, &wg)
	}
	sources, err := buildSources(cfg, m, log)
	if err != nil {
		return err
	}
	pipeline := cfg.Pipeline
	pipeline.FetchErrorReason = func(err error) string {
		if errors.Is(err, mimecast.ErrAuth) {
			return metrics.ReasonAuth
		}
		return metrics.ReasonFetch
	}
	fwd, err := forwarder.New(pipeline, sources, formatter, sender, store, m, log)
	if err != nil {
		return err
	}
	if srv != nil {
		srv.SetReadyCheck(func() error {
			for stream, st := range fwd.Status() {
				if st.Err != nil {
					return fmt.Errorf("stream %s stopped: %v", stream, st.Err)
				}
			}
			if ts != nil {
				// The sender keeps retrying, but only a change of
				// configuration or certificate will help.
				return ts.ConfigError()
			}
			return nil
		})
		srv.SetReady(true)
	}
	runErr := fwd.Run(ctx)
	if runErr == nil && ctx.Err() == nil && ts != nil {
		// --once: the cursors are committed; make sure the receiver did not
		// die with the last messages unread before exiting.
		if err := ts.Drain(ctx); err != nil {
			runErr = fmt.Errorf("receiver lost after the last batch: %w", err)
		}
	}
	logSummary(log, fwd.Status())
	if runErr != nil {
		return runErr
	}
	if ctx.Err() != nil {
		log.Info("stopped on signal; every committed cursor is on disk")
	}
	return nil
}

// limitOutput wraps sender with the output rate limit of fc and, with a
// Wazuh state file, starts the Controller that adapts it until ctx is done
// (wg waits for it).
func limitOutput(ctx context.Context, fc flowcontrol.Config, sender forwarder.Sender, m *metrics.Metrics, log *slog.Logger, wg *sync.WaitGroup) forwarder.Sender {
	lim := flowcontrol.NewLimiter(fc.StartRate(), m)
	log.Info("output rate limit", "limit", fc.String())
	if fc.Adaptive() {
		ctl := flowcontrol.NewController(fc.StatePath, lim, fc.Policy(), m, log.With("component", "flowcontrol"))
		wg.Go(func() { ctl.Run(ctx) })
	}
	return flowcontrol.NewSender(sender, lim)
}

// buildSources creates the sources of the configured API and streams,
// sharing one request budget (and, API 2.0, one token) and one memory
// budget for long lines.
func buildSources(cfg *config, m *metrics.Metrics, log *slog.Logger) ([]source.Source, error) {
	cc := cfg.Client
	burst := budgetBurst
	sel := cfg.Streams
	strict := sel.strict(cfg.Pipeline.Once)
	if cfg.Check {
		burst, strict = checkBudgetBurst, allStreams()
	}
	cc.Budget = mimecast.NewBudget(cfg.RequestsPerMinute, burst)
	lines := jsonl.NewLineBudget(jsonl.DefaultLineBudget, m)
	var out []source.Source
	var poster logs.Poster
	log = log.With("api", apiName(cfg))
	switch cfg.API {
	case apiV2:
		v2 := cfg.V2
		v2.Client = cc
		v2.LineBudget = lines
		v2.Strict = strict
		a, err := api2.New(v2, m, log)
		if err != nil {
			return nil, err
		}
		if sel.wantsSIEM() {
			out = append(out, a.Sources()...)
		}
		poster = a
		if len(sel.CI) > 0 {
			out = append(out, a.CISources(sel.CI)...)
		}
	case apiV1:
		v1 := cfg.V1
		v1.LineBudget = lines
		v1.RawOnly = cfg.Format.Body == syslogfmt.BodyRaw
		client, err := api1.NewClient(v1, cc, m, log)
		if err != nil {
			return nil, err
		}
		if sel.wantsSIEM() {
			src, err := api1.NewSource(v1, client, m, log)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
		}
		if poster, err = api1.NewPoster(v1, client); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("no Mimecast API selected")
	}
	if len(sel.Logs) > 0 {
		ls, err := logs.NewSources(logs.Config{Poster: poster, Window: cfg.LogWindow, Lookback: cfg.Lookback,
			PageSize: cfg.LogPageSize, Strict: strict}, sel.Logs, m, log)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

func logSummary(log *slog.Logger, status map[string]forwarder.StreamStatus) {
	streams := make([]string, 0, len(status))
	for s := range status {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	var total uint64
	for _, s := range streams {
		st := status[s]
		total += st.Records
		attrs := []any{"stream", s, "records", st.Records, "batches", st.Batches, "caught_up", st.CaughtUp}
		if st.Err != nil {
			attrs = append(attrs, "err", st.Err)
		}
		log.Info("stream summary", attrs...)
	}
	log.Info("forwarded", "records", total, "streams", len(streams))
}
