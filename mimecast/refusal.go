package mimecast

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
)

// ErrForbidden is wrapped by the error of a call Mimecast answered 403 for
// one stream: the API application (or the API 1.0 user) lacks the stream's
// permission, or the account lacks the product. Other streams may still be
// readable. Test it with errors.Is.
var ErrForbidden = errors.New("mimecast refused access to this data (403)")

// RefusalRetry is how long a refused stream waits before asking again.
const RefusalRetry = time.Hour

// Refusal tracks the 403 answers of one stream: the first refusal is logged
// once at WARN with the permission the stream needs, every refusal is
// counted (stream_errors_total{reason="forbidden"}) and sets the
// stream_refused gauge, and the stream asks again only after RefusalRetry.
// A Strict refusal (the stream was named explicitly, in --once or check)
// is returned as an error instead. Create it with NewRefusal; it is safe
// for concurrent use.
type Refusal struct {
	stream, permission string
	strict             bool
	m                  *metrics.Metrics
	log                *slog.Logger
	now                func() time.Time

	mu     sync.Mutex
	until  time.Time
	warned bool
}

// NewRefusal returns the tracker of stream, which needs permission (the
// wording of Mimecast's console, e.g. "Monitoring | Data Leak Prevention |
// Read"). log is the stream's logger: it names the stream already. now nil
// means time.Now.
func NewRefusal(stream, permission string, strict bool, m *metrics.Metrics, log *slog.Logger, now func() time.Time) *Refusal {
	if now == nil {
		now = time.Now
	}
	return &Refusal{stream: stream, permission: permission, strict: strict, m: m, log: log, now: now}
}

// Permission returns the permission the stream needs.
func (r *Refusal) Permission() string { return r.permission }

// Waiting reports whether the stream was refused less than RefusalRetry ago:
// the caller then asks nothing and reports "nothing for now".
func (r *Refusal) Waiting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.until.IsZero() && r.now().Before(r.until)
}

// Refused records a 403 answer (err wraps ErrForbidden). It returns err,
// explained, when the refusal is strict; nil otherwise, after counting and
// (the first time) logging it.
func (r *Refusal) Refused(err error) error {
	explained := fmt.Errorf("stream %s: %w (the API application needs %s)", r.stream, err, r.permission)
	r.m.StreamErrors.WithLabelValues(r.stream, metrics.ReasonForbidden).Inc()
	r.m.StreamRefused.WithLabelValues(r.stream).Set(1)
	if r.strict {
		return explained
	}
	r.mu.Lock()
	r.until = r.now().Add(RefusalRetry)
	first := !r.warned
	r.warned = true
	r.mu.Unlock()
	if first {
		r.log.Warn("Mimecast refuses this stream; it is skipped and asked again every hour (other streams are not affected)",
			"permission", r.permission, "err", RedactString(err.Error()))
	} else {
		r.log.Debug("Mimecast still refuses this stream")
	}
	return nil
}

// Granted records a successful call: a stream refused before is readable now.
func (r *Refusal) Granted() {
	r.mu.Lock()
	was := !r.until.IsZero()
	r.until = time.Time{}
	r.mu.Unlock()
	if was {
		r.m.StreamRefused.WithLabelValues(r.stream).Set(0)
		r.log.Info("Mimecast now grants this stream")
	}
}

// ReadAnswer reads the JSON answer of an API call: the body of a 200 (at
// most limit bytes: more is an error), or an error for any other status: a
// 403 wraps ErrForbidden, the others are *APIError. The body is closed.
func ReadAnswer(resp *http.Response, endpoint string, secrets *Secrets, limit int64) ([]byte, error) {
	if resp.StatusCode != http.StatusOK {
		apiErr := ResponseError(resp, endpoint, secrets)
		if resp.StatusCode == http.StatusForbidden {
			return nil, fmt.Errorf("%w: %w", ErrForbidden, apiErr)
		}
		return nil, apiErr
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("mimecast %s: reading the answer: %w", endpoint, secrets.ScrubError(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("mimecast %s: the answer exceeds %d bytes", endpoint, limit)
	}
	return b, nil
}
