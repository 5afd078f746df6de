package api2

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mimecast-forwarder/mimecast-forwarder/metrics"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast"
	"github.com/mimecast-forwarder/mimecast-forwarder/mimecast/mimecasttest"
)

// TestAPICallsNeverFollowRedirects: a listing or token call answered with a
// redirect to another port or another host name is not followed (the
// bearer token or the client secret would go along); the error names the
// Location's host and the setting to check.
func TestAPICallsNeverFollowRedirects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		host   string // of the Location: "" = 127.0.0.1, another port
		status int
		token  bool // redirect the token request, else the listing
	}{
		{"listing 302 to another port", "", http.StatusFound, false},
		{"listing 307 to another host name", "localhost", http.StatusTemporaryRedirect, false},
		{"token 307 to another port", "", http.StatusTemporaryRedirect, true},
		{"token 308 to another host name", "localhost", http.StatusPermanentRedirect, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			trap := mimecasttest.NewTrap(t)
			trap.Answer = `{"access_token":"trap-token","token_type":"Bearer","expires_in":1799,"value":[],"isCaughtUp":true}`
			loc := trap.URL(tc.host)
			if tc.token {
				e.api.tokenHook = func(w http.ResponseWriter, r *http.Request) bool {
					http.Redirect(w, r, loc+tokenPath, tc.status)
					return true
				}
			} else {
				e.api.list = func(w http.ResponseWriter, q map[string]string, hit int) {
					w.Header().Set("Location", loc+cgListPath+"?type=receipt")
					w.WriteHeader(tc.status)
				}
			}
			_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
			for _, r := range trap.Requests() {
				t.Errorf("the redirect was followed: %s %s got Authorization %q and body %q", r.Method, r.Host, r.Header.Get("Authorization"), r.Body)
			}
			mimecasttest.WantRedirectError(t, err, loc, tc.status)
			var re *mimecast.RedirectError
			if !errors.As(err, &re) || re.Location == "" {
				t.Errorf("no *mimecast.RedirectError in %v", err)
			}
			mimecasttest.NoLeak(t, "the error", err.Error(), testSecret)
		})
	}
}

// TestDownloadFollowsRedirectWithoutCredentials: a presigned batch file
// URL may redirect (storage moves); the download follows it, carrying no
// credentials.
func TestDownloadFollowsRedirectWithoutCredentials(t *testing.T) {
	e := newEnv(t, nil)
	trap := mimecasttest.NewTrap(t)
	trap.Answer = `{"id":"moved"}` + "\n"
	e.api.setPage(true, "", "a.gz")
	e.api.files["a.gz"] = gz(t, []byte(`{"id":"never served"}`+"\n"))
	e.api.fileHook = func(w http.ResponseWriter, name string) bool {
		w.Header().Set("Location", trap.URL("localhost")+"/moved/"+name)
		w.WriteHeader(http.StatusFound)
		return true
	}
	b, err := e.src(t, "receipt").Fetch(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].JSON != `{"id":"moved"}` {
		t.Errorf("records = %+v", got)
	}
	reqs := trap.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/moved/a.gz" {
		t.Fatalf("trap requests = %+v", reqs)
	}
	if h := reqs[0].Header.Get("Authorization"); h != "" {
		t.Errorf("the redirected download carried Authorization %q", h)
	}
}

// echoAPI is a fake Mimecast API 2.0 whose error answers echo the
// request, as some gateways and debugging proxies do.
type echoAPI struct {
	mu     sync.Mutex
	tokens int
	// tokenEcho: the token request is refused (401) with its form echoed;
	// else a token is issued and the listing answers listStatus with the
	// request echoed in a Mimecast error (json) or as plain text.
	tokenEcho  bool
	listStatus int
	plain      bool
}

// liveToken is the bearer token the echo API issues.
const liveToken = "eyJhbGciOi.LIVE-bearer-token.Zm9vYmFy"

func (a *echoAPI) handler(w http.ResponseWriter, r *http.Request) {
	dump := mimecasttest.Echo(r)
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.URL.Path == tokenPath {
		a.tokens++
		if a.tokenEcho {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q}`, "cannot authenticate: "+dump)
			return
		}
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":1799}`, liveToken)
		return
	}
	w.WriteHeader(a.listStatus)
	if a.plain {
		io.WriteString(w, dump)
		return
	}
	fmt.Fprintf(w, `{"fail":[{"code":"bad_request","message":%q}]}`, "rejected: "+dump+" (token "+liveToken+")")
}

// TestServerEchoIsScrubbed: whatever a server echoes back of the request,
// the errors and logs show none of the client secret (in any encoding),
// the bearer token or the Authorization header.
func TestServerEchoIsScrubbed(t *testing.T) {
	for _, api := range []*echoAPI{
		{tokenEcho: true},
		{listStatus: http.StatusBadRequest},
		{listStatus: http.StatusBadRequest, plain: true},
		{listStatus: http.StatusUnauthorized},
		{listStatus: http.StatusInternalServerError, plain: true}, // retried, then reported by the client
	} {
		name := fmt.Sprintf("token echo %v, listing %d, plain %v", api.tokenEcho, api.listStatus, api.plain)
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(api.handler))
			t.Cleanup(srv.Close)
			e := newEnv(t, func(c *Config) {
				c.BaseURL = srv.URL
				c.ClientSecret = mimecasttest.OddSecret
				c.Client.RetryMax = 1
			})
			_, err := e.src(t, "receipt").Fetch(t.Context(), nil)
			if err == nil {
				t.Fatal("no error")
			}
			text := err.Error() + "\n" + e.logs.String()
			mimecasttest.NoLeak(t, "the error and the logs", text, mimecasttest.OddSecret, liveToken)
			if strings.Contains(err.Error(), "Bearer e") || strings.Contains(err.Error(), "client_secret=S") {
				t.Errorf("error shows a credential: %v", err)
			}
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("error %q shows no [REDACTED]: is the echo cut away?", err)
			}
			var apiErr *mimecast.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("no APIError: %v", err)
			}
			if len(apiErr.Message) > mimecast.ExcerptBytes+len("…") {
				t.Errorf("message of %d bytes, want a short excerpt: %q", len(apiErr.Message), apiErr.Message)
			}
			mimecasttest.NoLeak(t, "APIError.Message", apiErr.Message, mimecasttest.OddSecret, liveToken)
		})
	}
}

// TestAny401Reauthenticates: a listing answered 401 for any reason (token
// revoked, secret rotated, another instance took over) drops the token and
// authenticates again once; a second 401 is an auth error.
func TestAny401Reauthenticates(t *testing.T) {
	e := newEnv(t, nil)
	recv, url := e.src(t, "receipt"), e.src(t, "url-protect")
	if _, err := recv.Fetch(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	e.api.mu.Lock()
	e.api.revoked["token-1"] = true
	e.api.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Source{recv, url} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Fetch(t.Context(), nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d after a 401: %v", i, err)
		}
	}
	if n := e.api.tokenCount(); n != 2 {
		t.Errorf("%d tokens, want 2 (the revoked one and one new, shared)", n)
	}

	reauthOnceThenAuthError(t, e, recv, e.api.revoked, "unauthorized")
	if got := value(t, e.m.APIRequests.WithLabelValues(metrics.EndpointBatchList, "401")); got < 3 {
		t.Errorf("api_requests{batch_list,401} = %v, want at least 3", got)
	}
}
