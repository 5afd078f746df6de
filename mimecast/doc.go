// Package mimecast holds what Mimecast API 1.0 (package mimecast/api1) and
// API 2.0 (package mimecast/api2) share:
//
//   - the canonical log types (Types, StreamName, ParseTypes);
//   - Client, an HTTP client with retries (5xx and network errors with
//     exponential back-off and jitter; 429 answers honoured through
//     X-RateLimit-Reset or Retry-After on a separate budget), per-endpoint
//     metrics, log redaction of URLs, and an optional shared request Budget;
//   - APIError and ErrAuth, the errors returned when Mimecast refuses a call;
//   - record splitting helpers: LineScanner (lines of any length in bounded
//     memory), NormalizeEvent (validate and compact one JSON object),
//     EventTime (the event's own time from its top-level "timestamp" or
//     "datetime" key) and SkipReporter (count and log skipped records and
//     files).
package mimecast
