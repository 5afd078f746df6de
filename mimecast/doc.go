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
//   - SkipReporter (count and log skipped records and files), and
//     DecodeStrict and IndexControl for cursors.
//
// Line splitting, the long-line memory budget and the JSON checking,
// compaction and skipping that the sources and the formatter share live
// in the neutral package forwarder/jsonl.
package mimecast
