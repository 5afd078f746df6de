package api1

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DateLayout is the format of the x-mc-date header (always UTC).
const DateLayout = "Mon, 02 Jan 2006 15:04:05 UTC"

// Signer is an http.RoundTripper that signs every request it sends with
// Mimecast API 1.0 HMAC-SHA1 authentication. Because it sits below the
// retrying client, every attempt (retries included) gets a fresh date,
// request id and signature: Mimecast refuses a reused request id and a
// stale date. It does not modify the caller's request (it clones it).
// It signs every request it is given, whatever its host: use it only below
// a client that follows no redirect (NewClient's), or a redirect would
// carry the signed Authorization header to the redirect's target.
//
// Create it with NewSigner. Now and NewID may be replaced before use (tests).
type Signer struct {
	next      http.RoundTripper
	appID     string
	appKey    string
	accessKey string
	secret    []byte

	// Now returns the current time; default time.Now.
	Now func() time.Time
	// NewID returns a fresh request id; default NewRequestID.
	NewID func() (string, error)
}

// NewSigner returns a Signer sending through next (nil:
// http.DefaultTransport) with the credentials of cfg. Only the credential
// fields of cfg are used; the secret key must be valid base64.
func NewSigner(cfg Config, next http.RoundTripper) (*Signer, error) {
	secret, err := decodeSecret(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if cfg.AppID == "" || cfg.AppKey == "" || cfg.AccessKey == "" {
		return nil, errors.New("api1: MIMECAST_APP_ID, MIMECAST_APP_KEY and MIMECAST_ACCESS_KEY are required to sign requests")
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &Signer{
		next: next, appID: cfg.AppID, appKey: cfg.AppKey, accessKey: cfg.AccessKey, secret: secret,
		Now: time.Now, NewID: NewRequestID,
	}, nil
}

// RoundTrip signs a clone of req and sends it.
func (s *Signer) RoundTrip(req *http.Request) (*http.Response, error) {
	id, err := s.NewID()
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("api1: request id: %w", err)
	}
	date := s.Now().UTC().Format(DateLayout)
	r := req.Clone(req.Context())
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("x-mc-date", date)
	r.Header.Set("x-mc-req-id", id)
	r.Header.Set("x-mc-app-id", s.appID)
	r.Header.Set("Authorization", "MC "+s.accessKey+":"+Signature(s.secret, date, id, r.URL.EscapedPath(), s.appKey))
	return s.next.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport, when it has that method.
func (s *Signer) CloseIdleConnections() {
	if c, ok := s.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// Signature returns base64(HMAC-SHA1(secret, date+":"+reqID+":"+uri+":"+appKey)),
// the part of the Authorization header after "MC accessKey:". secret is the
// decoded secret key; uri is the request path only.
func Signature(secret []byte, date, reqID, uri, appKey string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(date + ":" + reqID + ":" + uri + ":" + appKey))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// NewRequestID returns a random (version 4) UUID from crypto/rand.
func NewRequestID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hx = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hx[c>>4], hx[c&0xf])
	}
	return string(out), nil
}
