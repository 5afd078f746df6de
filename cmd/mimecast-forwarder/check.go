package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/syslogfmt"
	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/transport"
	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// checkTimeout bounds each step of check.
const checkTimeout = 30 * time.Second

// cmdCheck validates the configuration, then fetches one page from Mimecast
// (authentication and permissions, without forwarding or committing
// anything) and connects to every receiver. It prints one line per step.
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
	sources, err := buildSources(cfg, m, quiet)
	if err != nil {
		return &configError{err: err}
	}
	// One stream proves the credentials and the permission; API 2.0 uses
	// the same token for every type.
	src := sources[0]
	sctx, cancel := context.WithTimeout(ctx, checkTimeout)
	batch, err := src.Fetch(sctx, nil)
	cancel()
	if err != nil {
		failed = append(failed, fmt.Errorf("Mimecast API %s at %s: %w", apiName(cfg), baseURL(cfg), err))
		fmt.Fprintf(e.stdout, "FAIL Mimecast API %s: %v\n", apiName(cfg), err)
	} else {
		if c, ok := batch.(io.Closer); ok {
			_ = c.Close()
		}
		fmt.Fprintf(e.stdout, "ok   Mimecast API %s at %s: authenticated, stream %s readable\n", apiName(cfg), baseURL(cfg), src.Stream())
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
			fmt.Fprintf(e.stdout, "ok   syslog receiver reachable: %v\n", cfg.Transport.Addresses)
		}
	}
	return errors.Join(failed...)
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
