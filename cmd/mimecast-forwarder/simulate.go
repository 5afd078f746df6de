package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/simulator"
)

// demoHistory is the simulated history of `demo`: small, so that
// `demo --once` ends in seconds.
const demoHistory = 2 * time.Hour

// cmdSimulate serves the Mimecast simulator (API 2.0 and 1.0) until ctx is
// done.
func cmdSimulate(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the simulator on")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	prepare := fs.String("prepare", "", "before listening, generate into the cache (-cache-bytes) every file published so far: comma-separated v2, v1:key_value, v1:json")
	var opts simulator.Options
	opts.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(e.stderr, *level, "text")
	if err != nil {
		return &configError{err: err}
	}
	opts.Logger = log
	sim, err := simulator.New(opts)
	if err != nil {
		return &configError{err: err}
	}
	if *prepare != "" {
		start := time.Now()
		if err := sim.Prepare(ctx, strings.Split(*prepare, ",")); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		files, bytes := sim.CacheStats()
		log.Info("simulator files prepared", "files", files, "bytes", bytes, "took", time.Since(start).Round(time.Millisecond))
	}
	id, _ := sim.Credentials()
	log.Info("Mimecast simulator listening", "address", *listen, "api2_client_id", id,
		"hint", "credentials are the documented simulator defaults unless set with flags")
	return sim.ListenAndServe(ctx, *listen)
}
