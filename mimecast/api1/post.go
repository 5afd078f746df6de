package api1

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// maxPostAnswer bounds the answer of a JSON POST (a page of 500 records).
const maxPostAnswer = 64 << 20

// Poster sends signed JSON POSTs to the API 1.0 regional host: the same
// paths and bodies as API 2.0. It implements logs.Poster. Create it with
// NewPoster.
type Poster struct {
	baseURL string
	client  *mimecast.Client
	secrets *mimecast.Secrets
}

// NewPoster returns a Poster on cfg's base URL; client must sign its
// requests (NewClient).
func NewPoster(cfg Config, client *mimecast.Client) (*Poster, error) {
	base, err := ResolveBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("MIMECAST_BASE_URL: %w", err)
	}
	return &Poster{baseURL: base, client: client, secrets: NewSecrets(cfg)}, nil
}

// PostJSON posts body to path and returns the body of the 200 answer. A 401
// wraps mimecast.ErrAuth, a 403 mimecast.ErrForbidden; Mimecast's API 1.0
// authentication codes (expired key, unknown application, wrong region)
// are explained as for get-siem-logs. A fail[] inside a 200 answer is left
// to the caller.
func (p *Poster) PostJSON(ctx context.Context, path, endpoint string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("mimecast %s: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req, endpoint)
	if err != nil {
		return nil, p.secrets.ScrubError(err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, p.secrets.ScrubError(explain(mimecast.ResponseError(resp, endpoint, p.secrets), p.baseURL))
	}
	b, err := mimecast.ReadAnswer(resp, endpoint, p.secrets, maxPostAnswer)
	return b, p.secrets.ScrubError(err)
}
