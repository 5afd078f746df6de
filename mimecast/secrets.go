package mimecast

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Redacted replaces a credential in scrubbed text.
const Redacted = "[REDACTED]"

// ExcerptBytes is the most bytes of a server's error text (message or
// body) that an APIError keeps.
const ExcerptBytes = 300

// minSpelling is the shortest spelling scrubbed literally: replacing every
// "k" of a text would garble it and protect nothing (such a value is no
// real credential; Mimecast's are tens of characters).
const minSpelling = 4

// maxLive is the number of live tokens (AddLive) remembered: the current
// one and a few replaced ones that a server may still echo.
const maxLive = 4

// Secrets scrubs credentials out of text that may carry a server's words:
// error bodies, header values, messages of errors built from them. Create
// it with NewSecrets; it is safe for concurrent use, and a nil *Secrets
// applies the patterns only.
//
// Scrub replaces, in this order:
//   - every spelling of each configured credential that this program can
//     produce or a server can echo: raw, URL-encoded (form and path, upper-
//     and lower-case hex), base64 (standard and URL alphabets, padded or
//     not) and JSON-escaped (with <, >, & as \u00XX or not, / as \/ or not,
//     non-ASCII as \uXXXX or not);
//     Spellings shorter than 4 bytes are not replaced;
//   - the live bearer tokens given to AddLive, raw;
//   - anything shaped like a credential: the value of an Authorization or
//     Proxy-Authorization header or field, "Bearer <token>", API 1.0's
//     "MC <access key>:<signature>", and the value of client_secret,
//     access_token, refresh_token, secret_key, access_key, app_key or
//     password parameters;
//   - the query, fragment and user info of URLs (RedactString).
type Secrets struct {
	fixed []string // spellings of the configured credentials

	mu       sync.Mutex
	live     []string // most recent last
	replacer atomic.Pointer[strings.Replacer]
}

// NewSecrets returns a Secrets that scrubs every spelling of each non-empty
// value.
func NewSecrets(values ...string) *Secrets {
	seen := map[string]bool{}
	s := &Secrets{}
	for _, v := range values {
		for _, f := range spellings(v) {
			if len(f) >= minSpelling && !seen[f] {
				seen[f] = true
				s.fixed = append(s.fixed, f)
			}
		}
	}
	s.rebuild()
	return s
}

// AddLive adds a live credential obtained at run time (an access token),
// scrubbed raw from now on. Only the last few are remembered.
func (s *Secrets) AddLive(v string) {
	if s == nil || len(v) < minSpelling {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.live {
		if l == v {
			return
		}
	}
	s.live = append(s.live, v)
	if len(s.live) > maxLive {
		s.live = s.live[len(s.live)-maxLive:]
	}
	s.rebuild()
}

// rebuild makes the replacer of fixed and live spellings, longest first so
// that a spelling containing another wins. s.mu is held (or s is new).
func (s *Secrets) rebuild() {
	all := append(append([]string(nil), s.fixed...), s.live...)
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, Redacted)
	}
	s.replacer.Store(strings.NewReplacer(pairs...))
}

// Scrub returns text without credentials (see Secrets).
func (s *Secrets) Scrub(text string) string {
	if s != nil {
		text = s.replacer.Load().Replace(text)
	}
	for _, p := range credentialPatterns {
		if p.hint(text) {
			text = p.re.ReplaceAllString(text, p.repl)
		}
	}
	return RedactString(text)
}

// ScrubError returns err when its message holds nothing to scrub, else an
// error whose message is scrubbed and whose chain (errors.Is, errors.As) is
// err's.
func (s *Secrets) ScrubError(err error) error {
	if err == nil {
		return nil
	}
	err = RedactError(err)
	msg := err.Error()
	if clean := s.Scrub(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

// Excerpt returns text scrubbed (Scrub), its runs of white space (new lines
// included) made one space, and cut to ExcerptBytes at a character
// boundary, with "…" when cut. Scrubbing comes first, so that a cut cannot
// leave part of a credential unrecognised.
func (s *Secrets) Excerpt(text string) string {
	text = strings.Join(strings.Fields(s.Scrub(text)), " ")
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	if len(text) <= ExcerptBytes {
		return text
	}
	cut := ExcerptBytes
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}

type credentialPattern struct {
	re   *regexp.Regexp
	repl string
	hint func(string) bool // cheap test before the regexp
}

func containsFold(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(strings.ToLower(s), sub) }
}

var credentialPatterns = []credentialPattern{
	// Authorization: <anything up to the end of the value>, in a header
	// dump, a JSON object (escaped or not) or a query.
	// The value may be in brackets (Go's http.Header printed) and may hold
	// an earlier [REDACTED]: the whole is replaced, so scrubbing twice
	// changes nothing.
	{regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization\\*["']?\s*[:=]\s*\\*["']?)\[?(?:\[REDACTED\]|[^"'\r\n\\\[\]&;,])+\]?`), "${1}" + Redacted, containsFold("authorization")},
	{regexp.MustCompile(`(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]{8,}=*`), "${1}${2}" + Redacted, containsFold("bearer")},
	{regexp.MustCompile(`\bMC(\s+)[^\s:"'\\]+:[A-Za-z0-9+/=]*`), "MC${1}" + Redacted, func(s string) bool { return strings.Contains(s, "MC") }},
	{regexp.MustCompile(`(?i)(\b(?:client_secret|access_token|refresh_token|secret_?key|access_?key|app_?key|password)\\*["']?\s*[:=]\s*\\*["']?)[^"'\s&,;}\\]+`), "${1}" + Redacted,
		func(s string) bool {
			l := strings.ToLower(s)
			return strings.Contains(l, "secret") || strings.Contains(l, "token") || strings.Contains(l, "key") || strings.Contains(l, "password")
		}},
}

// spellings returns v as it may appear in text: raw, URL-encoded,
// base64-encoded and JSON-escaped.
func spellings(v string) []string {
	if v == "" {
		return nil
	}
	qe, pe := url.QueryEscape(v), url.PathEscape(v)
	out := []string{v, qe, pe, lowerHex(qe), lowerHex(pe)}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(v)))
	}
	for _, html := range []bool{true, false} {
		for _, j := range []string{jsonEscape(v, html), asciiJSON(jsonEscape(v, html))} {
			out = append(out, j, strings.ReplaceAll(j, "/", `\/`))
		}
	}
	return out
}

// jsonEscape returns v JSON-escaped as encoding/json does it, without the
// quotes; html false leaves <, > and & as they are.
func jsonEscape(v string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(v) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// asciiJSON replaces every non-ASCII rune of a JSON-escaped string with
// \uXXXX (a surrogate pair above U+FFFF), as some servers write JSON.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		}
	}
	return b.String()
}

// lowerHex returns a URL-encoded string with its %XX escapes in lower case.
func lowerHex(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for j := i + 1; j <= i+2; j++ {
				if b[j] >= 'A' && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}
