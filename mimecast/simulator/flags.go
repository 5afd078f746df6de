package simulator

import (
	"flag"
	"fmt"
	"strings"
)

// RegisterFlags binds the simulator options to flags of fs (for the
// `simulate` command), with the current values of o as defaults. Flag names
// are the option names in kebab case, e.g. -records-per-file, -live-interval,
// -rate-limit-every, plus the API 1.0 flags of V1Options.RegisterFlags
// (-v1-…). Call Validate (or New) after parsing.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.ClientID, "client-id", o.ClientID, "accepted OAuth2 client_id (default "+DefaultClientID+")")
	fs.StringVar(&o.ClientSecret, "client-secret", o.ClientSecret, "accepted OAuth2 client_secret (default "+DefaultClientSecret+")")
	fs.DurationVar(&o.TokenTTL, "token-ttl", o.TokenTTL, "access token lifetime (0: 1799s)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the generated data")
	fs.Func("types", "comma-separated log types to publish (default all ten)", func(v string) error {
		o.Types = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.Types = append(o.Types, t)
			}
		}
		if len(o.Types) == 0 {
			return fmt.Errorf("no log type in %q", v)
		}
		return nil
	})
	fs.DurationVar(&o.History, "history", o.History, "simulated history at start (0: 48h, negative: none)")
	fs.DurationVar(&o.Cadence, "cadence", o.Cadence, "publication interval of historical files (0: 15m)")
	fs.DurationVar(&o.LiveInterval, "live-interval", o.LiveInterval, "one new file per type each interval (0: 10s, negative: off)")
	fs.IntVar(&o.RecordsPerFile, "records-per-file", o.RecordsPerFile, "events per batch file (0: 20)")
	fs.DurationVar(&o.URLTTL, "url-ttl", o.URLTTL, "validity of pre-signed batch URLs (0: 15m)")
	fs.StringVar(&o.BaseURL, "base-url", o.BaseURL, "base URL of batch file links (default: from the request Host)")
	fs.IntVar(&o.RateLimit, "rate-limit", o.RateLimit, "API requests per rate window (0: 600, negative: unlimited)")
	fs.DurationVar(&o.RateWindow, "rate-window", o.RateWindow, "rate limit window (0: 1m)")
	fs.IntVar(&o.RateLimitEvery, "rate-limit-every", o.RateLimitEvery, "fault: answer every Nth API request 429 (0: off)")
	fs.DurationVar(&o.FaultReset, "fault-reset", o.FaultReset, "X-RateLimit-Reset of injected 429s (0: 1s)")
	fs.IntVar(&o.ServerErrorEvery, "server-error-every", o.ServerErrorEvery, "fault: answer every Nth API request 500/503 (0: off)")
	fs.IntVar(&o.ExpiredURLEvery, "expired-url-every", o.ExpiredURLEvery, "fault: list every Nth file with an expired URL (0: off)")
	fs.IntVar(&o.CorruptGzipEvery, "corrupt-gzip-every", o.CorruptGzipEvery, "fault: every Nth file is corrupt gzip (0: off)")
	fs.IntVar(&o.TruncatedGzipEvery, "truncated-gzip-every", o.TruncatedGzipEvery, "fault: every Nth file is truncated gzip (0: off)")
	fs.IntVar(&o.BadJSONLineEvery, "bad-json-line-every", o.BadJSONLineEvery, "fault: every Nth file has an invalid JSON line (0: off)")
	fs.IntVar(&o.DuplicateURLEvery, "duplicate-url-every", o.DuplicateURLEvery, "fault: every Nth file is listed twice (0: off)")
	fs.IntVar(&o.LongLineEvery, "long-line-every", o.LongLineEvery, "fault: every Nth file has a very long line (0: off)")
	fs.IntVar(&o.LongLineBytes, "long-line-bytes", o.LongLineBytes, "padding of long lines (0: 4 MiB)")
	fs.Int64Var(&o.CacheBytes, "cache-bytes", o.CacheBytes, "keep served files in memory up to this many bytes (0: off; see -prepare of simulate)")
	o.V1.RegisterFlags(fs)
	o.Logs.RegisterFlags(fs)
}
