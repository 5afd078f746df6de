package simulator

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The cache serves exactly the bytes that generating the file gives, lists
// their exact size, and leaves files with content faults to streaming.
func TestCacheServesSameBytes(t *testing.T) {
	plain, _ := start(t, Options{BadJSONLineEvery: 4})
	cached, _ := start(t, Options{BadJSONLineEvery: 4, CacheBytes: 1 << 20})
	if err := cached.Prepare(context.Background(), []string{"v2"}); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	files, size := cached.CacheStats()
	// 10 types × 8 files, of which every 4th (2 per type) has a bad line.
	if files != 60 || size <= 0 {
		t.Fatalf("cache holds %d files (%d bytes), want 60", files, size)
	}
	for _, typ := range []string{"receipt", "url protect"} {
		for idx := range 8 {
			f := plain.file(typ, idx)
			var want bytes.Buffer
			if _, err := plain.writeFile(&want, f); err != nil {
				t.Fatal(err)
			}
			got := fetchFile(t, cached, typ, idx)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%s file %d: cached server sent %d bytes, generating gives %d", typ, idx, len(got), want.Len())
			}
			if s := cached.size(cached.file(typ, idx)); s != int64(len(got)) {
				t.Fatalf("%s file %d: listed size %d, served %d", typ, idx, s, len(got))
			}
		}
	}
	if files2, _ := cached.CacheStats(); files2 != 60 {
		t.Fatalf("serving changed the cache to %d files", files2)
	}
	st := cached.Stats()
	if st.FilesCompleted != 16 || st.RecordsServed != 16*10 || st.BadJSONLines != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// A cache too small for every file keeps what fits, says so from Prepare,
// and still serves the rest by generating them.
func TestCacheTooSmall(t *testing.T) {
	s, _ := start(t, Options{Types: []string{"receipt"}, CacheBytes: 3000})
	err := s.Prepare(context.Background(), []string{"v2"})
	if err == nil || !strings.Contains(err.Error(), "cache of 3000 bytes is full") {
		t.Fatalf("Prepare = %v, want a full cache", err)
	}
	files, size := s.CacheStats()
	if files == 0 || files >= 8 || size > 3000 {
		t.Fatalf("cache holds %d files, %d bytes", files, size)
	}
	for idx := range 8 {
		var want bytes.Buffer
		if _, err := s.writeFile(&want, s.file("receipt", idx)); err != nil {
			t.Fatal(err)
		}
		if got := fetchFile(t, s, "receipt", idx); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("file %d differs", idx)
		}
	}
	if err := s.Prepare(context.Background(), []string{"v3"}); err == nil || !strings.Contains(err.Error(), `"v3"`) {
		t.Fatalf("Prepare(v3) = %v", err)
	}
	off, _ := start(t, Options{})
	if err := off.Prepare(context.Background(), []string{"v2"}); err == nil {
		t.Fatal("Prepare without a cache succeeded")
	}
}

// API 1.0 zips come from the cache once prepared, byte for byte.
func TestCacheV1Zip(t *testing.T) {
	s, _ := start(t, Options{CacheBytes: 4 << 20})
	if err := s.Prepare(context.Background(), []string{"v1:key_value"}); err != nil {
		t.Fatal(err)
	}
	files, _ := s.CacheStats()
	if files != s.V1Published(t0) {
		t.Fatalf("cache holds %d zips, want %d", files, s.V1Published(t0))
	}
	want, err := s.V1Zip(2, "key_value")
	if err != nil {
		t.Fatal(err)
	}
	got, records, err := s.cachedV1Zip(2, "key_value")
	if err != nil || !bytes.Equal(got, want) || records != 10*10 {
		t.Fatalf("cached zip: %d bytes (want %d), %d records, %v", len(got), len(want), records, err)
	}
}

// fetchFile downloads one batch file through a signed URL of the listing.
func fetchFile(t *testing.T, s *Simulator, typ string, idx int) []byte {
	t.Helper()
	u := s.presign(s.URL(), s.file(typ, idx), s.now()).URL
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}
