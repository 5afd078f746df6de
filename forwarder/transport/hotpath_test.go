package transport

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestIndexLineBreakOrNUL checks the vectorised scan against
// bytes.IndexAny on every position of every forbidden byte, alone and in
// combination.
func TestIndexLineBreakOrNUL(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		msg := bytes.Repeat([]byte("a"), n)
		if got := indexLineBreakOrNUL(msg); got != -1 {
			t.Fatalf("len %d clean: %d", n, got)
		}
		for k := range 3 {
			m := bytes.Clone(msg)
			for range k + 1 {
				if n > 0 {
					m[rng.IntN(n)] = "\n\r\x00"[rng.IntN(3)]
				}
			}
			if got, want := indexLineBreakOrNUL(m), bytes.IndexAny(m, "\n\r\x00"); got != want {
				t.Fatalf("%q: %d, want %d", m, got, want)
			}
		}
	}
}
