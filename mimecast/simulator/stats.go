package simulator

import (
	"maps"
	"sync"
)

// Stats counts what the simulator did. Obtain a consistent copy with
// (*Simulator).Stats.
type Stats struct {
	// Requests counts responses per endpoint (EndpointToken, EndpointBatch,
	// EndpointStorage, EndpointOther) and HTTP status code.
	Requests map[string]map[int]int64

	TokensIssued  int64 // successful POST /oauth/token
	TokenFailures int64 // token requests answered 400/401
	Unauthorized  int64 // API calls with a missing or unknown bearer token
	TokensExpired int64 // API calls answered 401 token_expired

	RateLimited          int64 // 429 responses sent (real limit + injected)
	InjectedRateLimits   int64 // 429 responses caused by RateLimitEvery
	InjectedServerErrors int64 // 500/503 responses caused by ServerErrorEvery
	ValidationErrors     int64 // listing requests answered 400 validation_error
	InvalidNextPage      int64 // listing requests answered 400 invalid_next_page

	Pages          int64 // successful listing responses
	FilesListed    int64 // URLs listed (including duplicates and expired)
	DuplicateURLs  int64 // extra copies of a URL listed (DuplicateURLEvery)
	ExpiredURLs    int64 // URLs listed already expired (ExpiredURLEvery)
	CaughtUpPages  int64 // listing responses with isCaughtUp true
	StorageDenied  int64 // storage 403: expired URL or bad signature
	StorageAuthHdr int64 // storage 400: request carried an Authorization header
	StorageMissing int64 // storage 404

	FilesServed    int64 // batch files whose download started (200)
	FilesCompleted int64 // batch files fully written to the client
	CorruptFiles   int64 // files served with garbage after a valid prefix
	TruncatedFiles int64 // files served cut off before the gzip trailer
	BadJSONLines   int64 // invalid JSON lines written
	LongLines      int64 // very long lines written
	RecordsServed  int64 // lines written into batch files (all kinds)
	BytesServed    int64 // compressed bytes of batch files written

	// Named holds counters of extensions (e.g. API 1.0 in v1.go), updated
	// with (*Simulator).count.
	Named map[string]int64
}

type statsCounter struct {
	mu sync.Mutex
	s  Stats
}

func (c *statsCounter) init() {
	c.s.Requests = make(map[string]map[int]int64)
	c.s.Named = make(map[string]int64)
}

// count adds delta to the named counter (Stats.Named[name]).
func (s *Simulator) count(name string, delta int64) {
	s.stats.add(func(st *Stats) { st.Named[name] += delta })
}

func (c *statsCounter) add(f func(*Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *statsCounter) request(endpoint string, status int) {
	c.mu.Lock()
	m := c.s.Requests[endpoint]
	if m == nil {
		m = make(map[int]int64)
		c.s.Requests[endpoint] = m
	}
	m[status]++
	c.mu.Unlock()
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (s *Simulator) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	st := s.stats.s
	st.Named = maps.Clone(s.stats.s.Named)
	st.Requests = make(map[string]map[int]int64, len(s.stats.s.Requests))
	for k, v := range s.stats.s.Requests {
		st.Requests[k] = maps.Clone(v)
	}
	return st
}

// RequestCount returns how many responses with the given status the endpoint
// sent (status 0: all statuses).
func (st Stats) RequestCount(endpoint string, status int) int64 {
	var n int64
	for code, c := range st.Requests[endpoint] {
		if status == 0 || code == status {
			n += c
		}
	}
	return n
}
