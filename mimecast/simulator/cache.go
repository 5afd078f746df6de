package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// fileCache keeps the bytes served for batch files (API 2.0) and API 1.0
// zips, within a byte budget (Options.CacheBytes). Every file is a pure
// function of the options and its index, so a cached copy is exactly what
// generating it again would give; only the CPU time differs. A file that
// does not fit in what is left of the budget is generated per request, as
// without a cache.
type fileCache struct {
	mu   sync.Mutex
	max  int64
	used int64
	m    map[cacheKey]cachedFile
}

// cacheKey names one served file: kind is "cg" for API 2.0 batch files or
// "v1:"+format for API 1.0 zips (typ empty).
type cacheKey struct {
	kind string
	typ  string
	idx  int
}

type cachedFile struct {
	body    []byte
	records int
}

func (c *fileCache) enabled() bool { return c.max > 0 }

func (c *fileCache) get(k cacheKey) (cachedFile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// put keeps v unless that would exceed the budget; it reports whether v is
// (now or already) cached.
func (c *fileCache) put(k cacheKey, v cachedFile) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return true
	}
	if c.used+int64(len(v.body)) > c.max {
		return false
	}
	if c.m == nil {
		c.m = make(map[cacheKey]cachedFile)
	}
	c.m[k] = v
	c.used += int64(len(v.body))
	return true
}

// cacheable reports whether f's content can come from the cache: files
// with content faults (corrupt or truncated gzip, a bad JSON line, a long
// line) are always generated, so that they stream as before. Expired and
// duplicate URLs do not change the content.
func cacheable(f File) bool {
	return !f.Faults.CorruptGzip && !f.Faults.TruncatedGzip && f.Faults.BadJSONLine < 0 && f.Faults.LongLine < 0
}

// cachedBatchFile returns the gzip content of f from the cache, generating
// and caching it on first use. ok is false when the cache is off or f is
// not cacheable; the caller then streams it with writeFile.
func (s *Simulator) cachedBatchFile(f File) (body []byte, ok bool, err error) {
	if !s.cache.enabled() || !cacheable(f) {
		return nil, false, nil
	}
	if v, hit := s.cache.get(batchKey(f)); hit {
		return v.body, true, nil
	}
	body, _, err = s.buildBatchFile(f)
	return body, err == nil, err
}

func batchKey(f File) cacheKey { return cacheKey{kind: "cg", typ: f.Type, idx: f.Index} }

// buildBatchFile generates f and offers it to the cache; kept reports
// whether the cache holds it.
func (s *Simulator) buildBatchFile(f File) (body []byte, kept bool, err error) {
	var buf bytes.Buffer
	res, err := s.writeFile(&buf, f)
	if err != nil {
		return nil, false, err
	}
	return buf.Bytes(), s.cache.put(batchKey(f), cachedFile{body: buf.Bytes(), records: res.lines}), nil
}

// cachedV1Zip is v1Zip through the cache.
func (s *Simulator) cachedV1Zip(k int, format string) ([]byte, int, error) {
	if !s.cache.enabled() {
		return s.v1Zip(k, format)
	}
	if v, hit := s.cache.get(v1Key(k, format)); hit {
		return v.body, v.records, nil
	}
	v, _, err := s.buildV1Zip(k, format)
	return v.body, v.records, err
}

func v1Key(k int, format string) cacheKey { return cacheKey{kind: "v1:" + format, idx: k} }

// buildV1Zip builds API 1.0 file k and offers it to the cache; kept
// reports whether the cache holds it.
func (s *Simulator) buildV1Zip(k int, format string) (v cachedFile, kept bool, err error) {
	if v.body, v.records, err = s.v1Zip(k, format); err != nil {
		return cachedFile{}, false, err
	}
	return v, s.cache.put(v1Key(k, format), v), nil
}

// CacheStats reports the cache: files kept and their bytes.
func (s *Simulator) CacheStats() (files int, bytes int64) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return len(s.cache.m), s.cache.used
}

// Prepare generates, on every core, every file published so far into the
// cache (Options.CacheBytes), so that serving them later costs no
// compression: what a benchmark of a client needs, since real Mimecast
// serves files that already exist. what lists the files: "v2" (the API 2.0
// batch files of every configured type), "v1:key_value" and "v1:json" (the
// API 1.0 zips in that format). It returns an error when the cache is off
// or too small to hold them all (the files that fit stay cached).
func (s *Simulator) Prepare(ctx context.Context, what []string) error {
	if !s.cache.enabled() {
		return errors.New("simulator: prepare needs a cache (CacheBytes > 0)")
	}
	type job struct {
		f      File
		v1     bool
		format string
		k      int
	}
	var jobs []job
	now := s.now()
	for _, w := range what {
		switch w {
		case "v2":
			for _, typ := range s.opts.Types {
				for _, f := range s.Files(typ, now) {
					if cacheable(f) {
						jobs = append(jobs, job{f: f})
					}
				}
			}
		case "v1:key_value", "v1:json":
			for k := range s.V1Published(now) {
				jobs = append(jobs, job{v1: true, format: strings.TrimPrefix(w, "v1:"), k: k})
			}
		default:
			return fmt.Errorf("simulator: prepare %q: want v2, v1:key_value or v1:json", w)
		}
	}
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				mu.Lock()
				i, stop := next, first != nil
				next++
				mu.Unlock()
				if stop || i >= len(jobs) {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				j := jobs[i]
				var kept bool
				var err error
				if j.v1 {
					_, kept, err = s.buildV1Zip(j.k, j.format)
				} else {
					_, kept, err = s.buildBatchFile(j.f)
				}
				if err == nil && !kept {
					err = fmt.Errorf("simulator: prepare: the cache of %d bytes is full", s.cache.max)
				}
				if err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	return first
}
