// Package logs reads the Mimecast log endpoints beyond the SIEM feed (audit
// events, DLP, TTP URL / attachment / impersonation, held release, archive
// search) as source.Sources, one per stream, on API 2.0 or API 1.0.
//
// Every endpoint is a POST /api/... call with the same envelope:
//
//	request:  {"meta":{"pagination":{"pageSize":N,"pageToken":"…"}},"data":[{<from>,<to>[,"oldestFirst":true]}]}
//	answer:   {"meta":{"pagination":{"next":"…"}},"data":[…],"fail":[]}
//
// One Source (NewSources) serves them all; an Endpoint (one small file each:
// audit.go, dlp.go, …) describes the path, where the records are, their time
// field, the request's time fields, whether oldestFirst exists, the
// permission and the look-back Mimecast allows. Authentication is a Poster:
// api2.API (bearer token) and api1.Poster (HMAC signature) implement it, on
// the shared mimecast.Client (retries, 429, budget, no redirects, secrets
// scrubbed).
//
// # Exactly once
//
// The cursor is a time window and a page: {"v":1,"from","to","pageToken",
// "page","skip","edge"}. It is committed after each delivered page, so a
// restart resumes the same window at the same page; a window is finished
// before the next begins (most endpoints answer newest first). Windows are
// at most Config.Window long, whole seconds, and the next one starts at the
// second the last one ended ("to" inclusive on both sides: Mimecast does not
// document it). The records on that boundary second are delivered once: the
// window that ends on it keeps their keys ("edge": a SHA-256 of the record,
// as a multiset so that identical records are counted) and the next window
// skips exactly those ("skip"). Records dated outside the window asked for
// are dropped (an endpoint that ignores the range, as the archive search
// mock did, must not repeat them). A page with records and a "next" token
// means more; an empty "data" ends the window whether or not a token came
// (Mimecast sends one on the empty last page). fail[] in an HTTP 200 answer
// is an error, retried by the pipeline. A crash between delivery and commit
// sends at most the last page again.
//
// # Refused streams
//
// A 403 (permission or product not granted) is logged once at WARN with the
// permission the stream needs, counted, and asked again hourly; meanwhile
// the stream reports "caught up" with its cursor unchanged and does not
// stop. With Config.Strict naming the stream, the 403 is an error instead.
package logs
