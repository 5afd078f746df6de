package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// cmdHealthcheck GETs /healthz (or /readyz with --ready) of the instance
// listening on METRICS_ADDRESS; the distroless image has no curl, so Docker's
// HEALTHCHECK runs this.
func cmdHealthcheck(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	addr := fs.String("metrics-address", "", "address of the instance (default $METRICS_ADDRESS or :9810)")
	ready := fs.Bool("ready", false, "check /readyz instead of /healthz")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" {
		*addr = e.getenv("METRICS_ADDRESS")
	}
	if *addr == "" {
		*addr = ":9810"
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("METRICS_ADDRESS %q: %w", *addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+path, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s: %s", path, resp.Status, body)
	}
	fmt.Fprintf(e.stdout, "%s", body)
	return nil
}
