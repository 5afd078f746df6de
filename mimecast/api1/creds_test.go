package api1

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// TestRedirectNotFollowed: get-siem-logs answered with a redirect to
// another port or host name is not followed (the signer would sign the
// redirected request: Authorization: MC accessKey:signature would go
// along); the error names the Location's host and the setting to check.
func TestRedirectNotFollowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		host   string
		status int
	}{
		{"307 to another port", "", http.StatusTemporaryRedirect},
		{"302 to another host name", "localhost", http.StatusFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trap := mimecasttest.NewTrap(t)
			loc := trap.URL(tc.host) + Path
			e := newEnv(t, nil, func(w http.ResponseWriter, req siemRequest, n int) {
				w.Header().Set("Location", loc)
				w.WriteHeader(tc.status)
			})
			_, err := e.src.Fetch(t.Context(), nil)
			for _, r := range trap.Requests() {
				t.Errorf("the redirect was followed: %s %s got Authorization %q", r.Method, r.Host, r.Header.Get("Authorization"))
			}
			mimecasttest.WantRedirectError(t, err, loc, tc.status)
			if len(e.fs.reqs()) != 1 {
				t.Errorf("%d requests to Mimecast, want 1 (a redirect is not retried)", len(e.fs.reqs()))
			}
		})
	}
}

// TestServerEchoIsScrubbed: whatever a server echoes back of the signed
// request (the Authorization header with the access key, the keys in any
// encoding), the errors and logs do not show it.
func TestServerEchoIsScrubbed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, dump string)
	}{
		{"fail message", func(w http.ResponseWriter, dump string) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_xdk_bad_request","message":%q}]}]}`,
				"cannot process "+dump+" keys "+testSecretB64+" "+url.QueryEscape(testSecretB64))
		}},
		{"401", func(w http.ResponseWriter, dump string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"fail":[{"errors":[{"code":"err_xdk_authentication","message":%q}]}]}`, dump)
		}},
		{"500 plain text", func(w http.ResponseWriter, dump string) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, strings.ReplaceAll(dump, "\n", " | "))
		}},
		{"content type", func(w http.ResponseWriter, dump string) {
			auth := dump[strings.Index(dump, "Authorization: "):]
			w.Header().Set("Content-Type", "text/weird; echo="+auth[:strings.IndexByte(auth, '\n')])
			io.WriteString(w, "?")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.answer(w, mimecasttest.Echo(r))
			}))
			t.Cleanup(srv.Close)
			e := newEnv(t, func(c *Config) { c.BaseURL = srv.URL }, nil)
			_, err := e.src.Fetch(t.Context(), nil)
			if err == nil {
				t.Fatal("no error")
			}
			mimecasttest.NoLeak(t, "the error and the logs", err.Error()+"\n"+e.logs.String(), testSecretB64, testAppKey, testAccessKey)
			if strings.Contains(err.Error(), "MC ") {
				t.Errorf("error shows an Authorization header: %v", err)
			}
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("error %q shows no [REDACTED]: is the echo cut away?", err)
			}
		})
	}
}
