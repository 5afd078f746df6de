// Package api2 reads Mimecast API 2.0 SIEM batch logs
// (GET /siem/v1/batch/events/cg) as source.Sources, one per log type.
//
// Authentication is OAuth2 client credentials (POST /oauth/token); the
// token is cached, refreshed before it expires, shared by every type, and
// renewed once when an API call answers 401, whatever the reason (expired,
// revoked, secret rotated). API calls follow no redirect (the bearer token
// or the client secret would go along: a redirect is a
// *mimecast.RedirectError, usually a wrong MIMECAST_BASE_URL); errors are
// scrubbed of the secret and of the live tokens (NewSecrets).
//
// Each type walks UTC days: its cursor is the JSON
// {"v":1,"day":"YYYY-MM-DD","nextPage":"…"}. Every Fetch lists one page of
// batch files for that day (dateRangeStartsAt = dateRangeEndsAt = day),
// following @nextPage. When Mimecast says isCaughtUp, the cursor keeps the
// last @nextPage and stays on the day until the day has ended plus
// DayGrace (batch files are published late), then moves to the next day.
// A Batch's Records downloads the listed presigned files (gzip of NDJSON)
// with a client that carries no credentials and is not subject to the
// request budget, and streams their events.
package api2

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/forwarder/jsonl"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// Base URLs of API 2.0 by region name (mimecast-api.md §2).
var regions = map[string]string{
	"global": "https://api.services.mimecast.com",
	"uk":     "https://uk-api.services.mimecast.com",
	"us":     "https://us-api.services.mimecast.com",
}

// Defaults of Config.
const (
	DefaultBaseURL  = "https://api.services.mimecast.com"
	DefaultLookback = 24 * time.Hour
	MaxLookback     = 7 * 24 * time.Hour // Mimecast keeps batch files 7 days
	DefaultPageSize = 100
	// MaxPageSize is the largest page size peers use (Rapid7: "max 100");
	// Mimecast's own limit is not documented.
	MaxPageSize     = 100
	DefaultDayGrace = time.Hour
)

// Config configures the API 2.0 sources. Zero values take the defaults.
type Config struct {
	// BaseURL is the API 2.0 base URL (MIMECAST_BASE_URL): any http(s) URL
	// (a trailing slash is ignored) or a region name "global", "uk", "us".
	// Default DefaultBaseURL.
	BaseURL string
	// ClientID and ClientSecret are the API 2.0 application credentials
	// (MIMECAST_CLIENT_ID, MIMECAST_CLIENT_SECRET). Required.
	ClientID     string
	ClientSecret string
	// Types are the canonical log types to read (MIMECAST_TYPES; parse the
	// variable with mimecast.ParseTypes). Empty means every type.
	Types []string
	// Lookback is how far back a stream without cursor starts
	// (MIMECAST_LOOKBACK). Default 24h; more than 7 days is clamped to 7
	// days with a warning.
	Lookback time.Duration
	// PageSize is the number of batch files per listing page
	// (MIMECAST_PAGE_SIZE). Default 100.
	PageSize int
	// DayGrace is how long after the end of a UTC day a caught-up stream
	// keeps listing that day before moving on (MIMECAST_DAY_GRACE), to
	// collect batch files published late. Default 1h.
	DayGrace time.Duration
	// MaxLineBytes is the longest event line accepted (MIMECAST_MAX_LINE_BYTES);
	// longer ones are skipped (reason too_large). Default jsonl.DefaultMaxLine.
	MaxLineBytes int
	// LineBudget is the memory for lines longer than 1 MiB, shared by every
	// stream of the process (jsonl.NewLineBudget); nil: unlimited.
	LineBudget *jsonl.LineBudget
	// Client configures the HTTP client of the API calls (token and
	// listing); put the shared mimecast.Budget in Client.Budget. The batch
	// file downloads use the same settings without the budget, and follow
	// redirects (API calls never do). Secrets and FollowRedirects are set by
	// NewSources.
	Client mimecast.ClientConfig
	// Strict names the streams whose 403 answer is an error (streams named
	// explicitly, in --once or check); any other refused stream is
	// reported once, skipped and asked again hourly (mimecast.Refusal).
	Strict map[string]bool
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// Validate reports every invalid setting, one line each, naming its
// environment variable.
func (c Config) Validate() error {
	var errs []error
	if _, err := ResolveBaseURL(c.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("MIMECAST_BASE_URL: %w", err))
	}
	if strings.TrimSpace(c.ClientID) == "" {
		errs = append(errs, errors.New("MIMECAST_CLIENT_ID is required for API 2.0"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("MIMECAST_CLIENT_SECRET is required for API 2.0"))
	}
	seen := map[string]bool{}
	for _, t := range c.Types {
		ct, ok := mimecast.CanonicalType(t)
		switch {
		case !ok || ct != t:
			errs = append(errs, fmt.Errorf("MIMECAST_TYPES: %q is not a canonical log type (valid: %s)", t, strings.Join(mimecast.Types, ", ")))
		case seen[t]:
			errs = append(errs, fmt.Errorf("MIMECAST_TYPES: %q is listed twice", t))
		}
		seen[t] = true
	}
	if c.Lookback < 0 {
		errs = append(errs, fmt.Errorf("MIMECAST_LOOKBACK must not be negative (got %s)", c.Lookback))
	}
	if c.PageSize < 0 || c.PageSize > MaxPageSize {
		errs = append(errs, fmt.Errorf("MIMECAST_PAGE_SIZE must be between 1 and %d (got %d)", MaxPageSize, c.PageSize))
	}
	if c.DayGrace < 0 || c.DayGrace > 24*time.Hour {
		errs = append(errs, fmt.Errorf("MIMECAST_DAY_GRACE must be between 0 and 24h (got %s)", c.DayGrace))
	}
	if c.MaxLineBytes < 0 {
		errs = append(errs, fmt.Errorf("MIMECAST_MAX_LINE_BYTES must not be negative (got %d)", c.MaxLineBytes))
	}
	if err := c.Client.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ResolveBaseURL returns the base URL named by s (a region name or an
// http(s) URL), without trailing slash. Empty means DefaultBaseURL.
func ResolveBaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultBaseURL, nil
	}
	if u, ok := regions[strings.ToLower(s)]; ok {
		return u, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is neither an http(s) URL nor a region (global, uk, us)", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q must not carry user info, query or fragment", mimecast.RedactURL(u))
	}
	return strings.TrimRight(u.String(), "/"), nil
}
