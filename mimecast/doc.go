// Package mimecast holds what Mimecast API 1.0 (package mimecast/api1) and
// API 2.0 (package mimecast/api2) share:
//
//   - the canonical log types (Types, StreamName, ParseTypes);
//   - Client (NewClient, ClientConfig, NewTransport), an HTTP client with
//     retries (5xx and network errors with exponential back-off and jitter;
//     429 answers honoured through X-RateLimit-Reset or Retry-After on a
//     separate retry budget), per-endpoint metrics, URL redaction in logs
//     and errors (RedactURL, RedactString, RedactError), no redirect
//     followed for API calls (RedirectError) and redirects without
//     credential headers for downloads (ClientConfig.FollowRedirects), and
//     an optional shared request Budget (token bucket, requests per minute);
//   - Secrets, which scrubs credentials in every spelling, live tokens and
//     Authorization-shaped text out of whatever carries a server's words,
//     and cuts it to an excerpt (Excerpt, ExcerptBytes);
//   - APIError, RedirectError and ErrAuth, the errors returned when
//     Mimecast refuses a call;
//   - record splitting helpers: LineScanner and ScanLines (lines of any
//     length in bounded memory), LineBudget (the memory for lines longer
//     than 1 MiB, shared by every stream of the process, which wait for
//     it), NormalizeEvent (validate and compact one JSON object, invalid
//     UTF-8 in strings replaced by \ufffd; a hand-written one-pass checker
//     fuzzed against encoding/json), NormalizeEventTime and
//     NormalizeEventInfo (the same in one pass with the event's time and
//     the count of replaced bytes, the hot path),
//     EventTime (the event's own time from its top-level
//     "timestamp" or "datetime" key; ParseDateTime for API 1.0 date-times)
//     and SkipReporter (count and log skipped records and files);
//   - SkipJSONString and SkipJSONValue, the fast JSON skipping that the
//     event scans here and the formatter's field scans share.
package mimecast
