package mimecast

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseErrorBody(t *testing.T) {
	for _, tc := range []struct{ body, code, msg string }{
		{`{"fail":[{"code":"token_expired","message":"Token expired"}]}`, "token_expired", "Token expired"},
		{`{"meta":{"status":200},"data":[],"fail":[{"errors":[{"code":"err_audit_siem_invalid_token","message":"The SIEM token is invalid","retryable":false}]}]}`, "err_audit_siem_invalid_token", "The SIEM token is invalid"},
		{`{"error":{"code":"bad_request","message":"start too old"}}`, "bad_request", "start too old"},
		{`{"error":"invalid_client","error_description":"Client authentication failed"}`, "invalid_client", "Client authentication failed"},
		{`{"message":"Forbidden"}`, "", "Forbidden"},
		{`<html>oops</html>`, "", ""},
		{``, "", ""},
	} {
		code, msg := ParseErrorBody([]byte(tc.body), nil)
		if code != tc.code || msg != tc.msg {
			t.Errorf("%s: got %q %q", tc.body, code, msg)
		}
	}
}

func TestRedact(t *testing.T) {
	u, _ := url.Parse("https://u:p@bucket.s3.amazonaws.com/a/b.gz?X-Amz-Signature=abc#frag")
	if got := RedactURL(u); got != "https://bucket.s3.amazonaws.com/a/b.gz" {
		t.Errorf("RedactURL = %q", got)
	}
	s := `Get "https://h/p?sig=SECRET": dial tcp; also http://x:y@h2/q?z=SECRET2 end`
	got := RedactString(s)
	if strings.Contains(got, "SECRET") || strings.Contains(got, "x:y") || !strings.Contains(got, `"https://h/p"`) || !strings.Contains(got, "http://h2/q end") {
		t.Errorf("RedactString = %q", got)
	}
	ue := &url.Error{Op: "Get", URL: "https://h/p?sig=SECRET", Err: errors.New("refused")}
	r := RedactError(ue)
	if strings.Contains(r.Error(), "SECRET") || !errors.Is(r, ue.Err) {
		t.Errorf("RedactError = %v", r)
	}
}

func TestPreview(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	p := Preview([]byte(long))
	if len(p) > PreviewBytes+len("…") || !strings.HasSuffix(p, "…") || !strings.HasPrefix(p, "éé") {
		t.Errorf("Preview = %q (%d bytes)", p, len(p))
	}
	if Preview([]byte("short")) != "short" {
		t.Error("short preview changed")
	}
}
