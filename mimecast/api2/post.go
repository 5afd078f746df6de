package api2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
)

// maxPostAnswer bounds the answer of a JSON POST (a page of 500 records).
const maxPostAnswer = 64 << 20

// PostJSON posts body to path on the API 2.0 host with the bearer token
// and returns the body of the 200 answer. A 401 drops the token and tries
// once more with a new one; a second 401 wraps mimecast.ErrAuth. A 403
// wraps mimecast.ErrForbidden. It implements logs.Poster; errors are
// scrubbed of the secret and the live tokens.
func (x *API) PostJSON(ctx context.Context, path, endpoint string, body []byte) ([]byte, error) {
	b, err := x.postJSON(ctx, path, endpoint, body)
	return b, x.a.secrets.ScrubError(err)
}

func (x *API) postJSON(ctx context.Context, path, endpoint string, body []byte) ([]byte, error) {
	a := x.a
	for attempt := 0; ; attempt++ {
		tok, err := a.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("mimecast %s: %w", endpoint, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := a.client.Do(req, endpoint)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized {
			apiErr := mimecast.ResponseError(resp, endpoint, a.secrets)
			if attempt == 0 {
				a.log.Info("Mimecast refused the access token, authenticating again", "endpoint", endpoint, "code", apiErr.Code)
				a.tokens.Invalidate(tok)
				continue
			}
			return nil, fmt.Errorf("%w: %s: %w", mimecast.ErrAuth, path, apiErr)
		}
		b, err := mimecast.ReadAnswer(resp, endpoint, a.secrets, maxPostAnswer)
		if err != nil && !errors.Is(err, mimecast.ErrForbidden) {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return b, err
	}
}
