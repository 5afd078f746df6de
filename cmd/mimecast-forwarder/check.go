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
	"sync"
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

// cmdCheck validates the configuration, then fetches the first page of
// every selected stream from Mimecast (authentication and each stream's
// permission, without forwarding or committing anything), connects to every
// receiver and reads the state directory's cursors. It prints one line per
// step, and one per stream.
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
	// check asks every stream at once, one call each: connections are not
	// kept for later (nor left open, unused, for the server to wait on).
	tr := mimecast.NewTransport(cfg.Client)
	tr.DisableKeepAlives = true
	cfg.Client.Transport = tr
	sources, err := buildSources(cfg, m, quiet)
	if err != nil {
		return &configError{err: err}
	}
	failed = append(failed, checkStreams(ctx, cfg, sources, e.stdout)...)

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

// checkStreams asks every stream for its first page (nothing is forwarded
// or committed) and prints one line for the API, then one line per stream:
// readable, refused (403: skipped by run; an error when the stream is named
// in MIMECAST_TYPES) or failing. The first call proves the address and the
// credentials, which every stream shares: when it fails for another reason
// than a 403, that one failure is reported and the other streams are not
// asked. The others are asked at once, each within checkTimeout.
func checkStreams(ctx context.Context, cfg *config, sources []source.Source, w io.Writer) []error {
	api := fmt.Sprintf("Mimecast API %s at %s", apiName(cfg), baseURL(cfg))
	// The sources scrub their errors already; scrubbing again with the
	// configured credentials costs nothing and guards the output.
	secrets := credentials(cfg)
	results := make([]error, len(sources))
	fetch := func(i int) {
		sctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		batch, err := sources[i].Fetch(sctx, nil)
		if err != nil {
			results[i] = secrets.ScrubError(err)
			return
		}
		if c, ok := batch.(io.Closer); ok {
			_ = c.Close()
		}
	}
	fetch(0)
	if err := results[0]; err != nil && !errors.Is(err, mimecast.ErrForbidden) {
		fmt.Fprintf(w, "FAIL Mimecast API %s: %v\n", apiName(cfg), err)
		return []error{fmt.Errorf("%s: %w", api, err)}
	}
	var wg sync.WaitGroup
	for i := 1; i < len(sources); i++ {
		wg.Go(func() { fetch(i) })
	}
	wg.Wait()

	var failed []error
	lines := make([]string, len(sources))
	readable := 0
	for i, src := range sources {
		stream, err := src.Stream(), results[i]
		var why string
		if err != nil {
			why = strings.TrimPrefix(err.Error(), "stream "+stream+": ")
		}
		switch {
		case err == nil:
			readable++
			lines[i] = fmt.Sprintf("ok   stream %s: readable", stream)
		case errors.Is(err, mimecast.ErrForbidden) && !cfg.Streams.Named[stream]:
			lines[i] = fmt.Sprintf("--   stream %s: not granted, run skips it and asks again every hour: %s", stream, why)
		default:
			failed = append(failed, fmt.Errorf("%s: stream %s: %w", api, stream, err))
			lines[i] = fmt.Sprintf("FAIL stream %s: %s", stream, why)
		}
	}
	if readable == 0 && len(failed) == 0 {
		failed = append(failed, fmt.Errorf("%s: none of the %d streams is readable with these credentials", api, len(sources)))
	}
	status := "ok  "
	if len(failed) > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s: authenticated, %d of %d streams readable\n", status, api, readable, len(sources))
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return failed
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
