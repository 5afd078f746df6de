package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/checkpoint"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/flowcontrol"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/source"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/transport"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api1"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/api2"
)

// checkTimeout bounds each step of check.
const checkTimeout = 30 * time.Second

// cmdCheck validates the configuration, then fetches one page from Mimecast
// (authentication and permissions, without forwarding or committing
// anything), connects to every receiver and reads the state directory's
// cursors. It prints one line per step.
func cmdCheck(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	v, err := parseSettings(fs, args, e.getenv, e.lookupEnv)
	if err != nil {
		return err
	}
	cfg, err := buildConfig(v, e, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "ok   configuration is valid")
	if _, err := syslogfmt.New(cfg.Format); err != nil {
		return &configError{err: err}
	}
	log, err := newLogger(e.stderr, v["LOG_LEVEL"], v["LOG_FORMAT"])
	if err != nil {
		return &configError{err: err}
	}
	// Quiet: check reports its own findings.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if strings.EqualFold(v["LOG_LEVEL"], "debug") {
		quiet = log
	}
	m := metrics.New(prometheus.NewRegistry(), version, revision)

	var failed []error
	// Every refusal comes back as an error here, to be reported.
	cfg.Check = true
	sources, err := buildSources(cfg, m, quiet)
	if err != nil {
		return &configError{err: err}
	}
	// Stream by stream: readable, refused (an error only when named
	// explicitly in MIMECAST_TYPES), or failing.
	readable := 0
	for _, src := range sources {
		sctx, cancel := context.WithTimeout(ctx, checkTimeout)
		batch, err := src.Fetch(sctx, nil)
		cancel()
		stream := src.Stream()
		switch {
		case err == nil:
			if c, ok := batch.(io.Closer); ok {
				_ = c.Close()
			}
			readable++
			fmt.Fprintf(e.stdout, "ok   stream %s: readable\n", stream)
		case errors.Is(err, mimecast.ErrForbidden) && !cfg.Streams.Named[stream]:
			fmt.Fprintf(e.stdout, "--   stream %s: not granted, skipped by run (%v)\n", stream, credentials(cfg).ScrubError(err))
		default:
			// The sources scrub their errors already; scrubbing again with
			// the configured credentials costs nothing and guards the output.
			err = credentials(cfg).ScrubError(err)
			failed = append(failed, fmt.Errorf("Mimecast API %s at %s: stream %s: %w", apiName(cfg), baseURL(cfg), stream, err))
			fmt.Fprintf(e.stdout, "FAIL stream %s: %v\n", stream, err)
		}
	}
	fmt.Fprintf(e.stdout, "%s Mimecast API %s at %s: %d of %d streams readable\n", okOrFail(readable > 0), apiName(cfg), baseURL(cfg), readable, len(sources))
	if readable == 0 && len(failed) == 0 {
		failed = append(failed, errors.New("no stream is readable with these credentials"))
	}

	if len(cfg.Transport.Addresses) > 0 {
		sender, err := transport.New(cfg.Transport, m, quiet)
		if err != nil {
			return &configError{err: err}
		}
		rctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err = sender.Check(rctx)
		cancel()
		_ = sender.Close()
		if err != nil {
			failed = append(failed, fmt.Errorf("syslog receiver: %w", err))
			fmt.Fprintf(e.stdout, "FAIL syslog receiver: %v\n", err)
		} else {
			fmt.Fprintf(e.stdout, "ok   syslog receiver reachable: %v, output rate limit: %s\n", cfg.Transport.Addresses, cfg.Flow)
		}
	}
	if cfg.Flow.Adaptive() {
		if err := checkAnalysisdState(cfg.Flow, e, time.Now()); err != nil {
			failed = append(failed, err)
		}
	}
	if err := checkState(cfg.StateDir, sources, e, quiet); err != nil {
		failed = append(failed, err)
	}
	return errors.Join(failed...)
}

// checkAnalysisdState reports whether WAZUH_ANALYSISD_STATE can be read and
// what it says.
func checkAnalysisdState(fc flowcontrol.Config, e env, now time.Time) error {
	pol := fc.Policy()
	st, err := flowcontrol.ReadAnalysisdState(fc.StatePath)
	if err == nil {
		err = st.CheckFresh(fc.StatePath, now, pol.StaleAfter)
	}
	if err != nil {
		fmt.Fprintf(e.stdout, "FAIL WAZUH_ANALYSISD_STATE: %v (run sends %.0f events/s until it can use the file)\n", err, pol.Safe())
		return fmt.Errorf("WAZUH_ANALYSISD_STATE: %w", err)
	}
	fmt.Fprintf(e.stdout, "ok   WAZUH_ANALYSISD_STATE %s: written %s ago, event queue %.0f %% of %d events, events_dropped %d, events_received %d\n",
		fc.StatePath, now.Sub(st.ModTime).Truncate(time.Second), st.EventQueueUsage*100, st.EventQueueSize, st.EventsDropped, st.EventsReceived)
	return nil
}

// checkState reports whether STATE_DIR can be used and every stored cursor
// is readable and usable by its source. It creates nothing: a missing directory is created by run.
func checkState(dir string, sources []source.Source, e env, log *slog.Logger) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stdout, "ok   STATE_DIR %s does not exist yet: run creates it (first start: MIMECAST_LOOKBACK)\n", dir)
		return nil
	}
	store, err := checkpoint.Open(dir, log)
	if errors.Is(err, checkpoint.ErrLocked) {
		// A running instance holds it: its cursors are its business.
		fmt.Fprintf(e.stdout, "ok   STATE_DIR %s is in use by a running instance: %v\n", dir, err)
		return nil
	}
	if err != nil {
		fmt.Fprintf(e.stdout, "FAIL %v\n", err)
		return err
	}
	defer store.Close()
	var errs []error
	resumed := 0
	for _, src := range sources {
		c, err := store.Load(src.Stream())
		if err == nil {
			if problem := source.CheckCursor(src, c); problem != nil {
				err = store.Corrupt(src.Stream(), problem)
			}
		}
		switch {
		case err != nil:
			fmt.Fprintf(e.stdout, "FAIL %v\n", err)
			errs = append(errs, err)
		case c != nil:
			resumed++
		}
	}
	if len(errs) == 0 {
		fmt.Fprintf(e.stdout, "ok   STATE_DIR %s: writable, %d of %d streams resume from a cursor\n", dir, resumed, len(sources))
	}
	return errors.Join(errs...)
}

func okOrFail(ok bool) string {
	if ok {
		return "ok  "
	}
	return "FAIL"
}

// credentials returns the Secrets of the configured Mimecast credentials.
func credentials(cfg *config) *mimecast.Secrets {
	if cfg.API == apiV1 {
		return api1.NewSecrets(cfg.V1)
	}
	return api2.NewSecrets(cfg.V2)
}

func apiName(cfg *config) string {
	if cfg.API == apiV1 {
		return "1.0"
	}
	return "2.0"
}

func baseURL(cfg *config) string {
	if cfg.API == apiV1 {
		return cfg.V1.BaseURL
	}
	if cfg.V2.BaseURL == "" {
		return "global"
	}
	return cfg.V2.BaseURL
}
