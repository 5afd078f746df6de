package simulator

// Mimecast API 1.0 SIEM logs: POST /api/audit/get-siem-logs.
//
// Authentication is verified as Mimecast does: x-mc-app-id must be the
// application ID, Authorization "MC <accessKey>:<signature>" must carry
// base64(HMAC-SHA1(base64decode(secretKey), "date:reqid:path:appKey")),
// x-mc-date ("Mon, 02 Jan 2006 15:04:05 UTC") must be within MaxClockSkew of
// the simulator's clock, and an x-mc-req-id may be used only once (a
// bounded set of recent ids is kept). Signature failures are answered HTTP
// 401 with the API 1.0 error envelope; the codes err_auth_* are the
// simulator's own (Mimecast's exact codes for these cases are not
// documented). A wrong application ID is answered HTTP 200
// err_developer_key, as Mimecast's code list says.
//
// Log files form a token chain. File k holds, for every simulated type, one
// zip member with that type's events of schedule slot k (the API 2.0 file k
// of the type: same publication time and window), named
// "<prefix><yyyyMMddHHmmssSSS>.json" (or ".log" for key_value), prefix as
// Mimecast (receipt_, process_, delivery_, av_, spameventthread_, iep_,
// impersonation_, ttp_url_, ttp_ap_, jrnl_). A request without token gets
// file 0; each file comes with mc-siem-token, the token of the next file.
// Tokens are HMAC'd: an unknown or tampered token is answered
// err_audit_siem_invalid_token. When the next file is not published yet,
// the answer is the "no more logs" JSON.

import (
	"archive/zip"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EndpointSIEMv1 is the Stats.Requests key of API 1.0 get-siem-logs.
const EndpointSIEMv1 = "siem_v1"

// V1Path is the API 1.0 SIEM logs endpoint.
const V1Path = "/api/audit/get-siem-logs"

// Default API 1.0 credentials, used when V1Options fields are empty. They
// are documented demo values, not secrets.
const (
	DefaultV1AppID     = "simulator-app-id"
	DefaultV1AppKey    = "simulator-app-key"
	DefaultV1AccessKey = "simulator-access-key"
	// DefaultV1SecretKey is base64("simulator-secret-key").
	DefaultV1SecretKey = "c2ltdWxhdG9yLXNlY3JldC1rZXk="
)

// Defaults of V1Options.
const (
	DefaultV1MaxClockSkew = 15 * time.Minute
	DefaultV1ReplayWindow = 10000
	DefaultV1FailCode     = "err_xdk_binding_expired"
)

// API 1.0 error codes answered by the simulator.
const (
	V1CodeInvalidToken     = "err_audit_siem_invalid_token"
	V1CodeDeveloperKey     = "err_developer_key"
	V1CodeValidationNull   = "err_validation_null"
	V1CodeValidationBlank  = "err_validation_blank"
	V1CodeValidation       = "err_validation_invalid_value" // simulator's own
	V1CodeAuthHeaders      = "err_auth_headers_missing"     // simulator's own
	V1CodeUnknownAccessKey = "err_auth_unknown_access_key"  // simulator's own
	V1CodeBadSignature     = "err_auth_signature_mismatch"  // simulator's own
	V1CodeDateOutOfRange   = "err_auth_date_out_of_range"   // simulator's own
	V1CodeRequestIDReused  = "err_auth_request_id_reused"   // simulator's own
)

// V1Options configures the API 1.0 endpoint. The zero value is valid.
type V1Options struct {
	// AppID, AppKey, AccessKey and SecretKey (base64) are the accepted
	// credentials. Defaults: the DefaultV1* constants.
	AppID, AppKey, AccessKey, SecretKey string
	// MaxClockSkew is how far x-mc-date may be from the simulator's clock.
	// Default DefaultV1MaxClockSkew (15 min).
	MaxClockSkew time.Duration
	// ReplayWindow is how many recent request ids are remembered to refuse
	// reuse. Default DefaultV1ReplayWindow.
	ReplayWindow int
	// FailEvery: every Nth API 1.0 request (counted on this endpoint, after
	// authentication) is answered HTTP 200 with fail[] code FailCode.
	// 0: off.
	FailEvery int
	// FailCode is the code of injected failures. Default
	// DefaultV1FailCode (err_xdk_binding_expired).
	FailCode string
	// CorruptZipEvery: files whose index%N == N-1 are served as the first
	// half of their zip (no central directory). 0: off.
	CorruptZipEvery int
	// TruncatedMemberEvery: in files whose index%N == N-1 the first member
	// (in name order) is cut: a json member is exactly
	// `{ "type" : "MTA", "data" : ` (as seen in the wild), a key_value member
	// stops in the middle of its last line. 0: off.
	TruncatedMemberEvery int
}

// Validate reports every problem of o, one line each.
func (o V1Options) Validate() error {
	var errs []error
	if o.SecretKey != "" {
		if _, err := base64.StdEncoding.DecodeString(o.SecretKey); err != nil {
			errs = append(errs, errors.New("simulator: V1 SecretKey is not valid base64"))
		}
	}
	for name, v := range map[string]int{"V1 ReplayWindow": o.ReplayWindow, "V1 FailEvery": o.FailEvery,
		"V1 CorruptZipEvery": o.CorruptZipEvery, "V1 TruncatedMemberEvery": o.TruncatedMemberEvery} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("simulator: %s must be >= 0, got %d", name, v))
		}
	}
	if o.MaxClockSkew < 0 {
		errs = append(errs, fmt.Errorf("simulator: V1 MaxClockSkew must be >= 0, got %s", o.MaxClockSkew))
	}
	return errors.Join(errs...)
}

func (o V1Options) withDefaults() V1Options {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.AppID, DefaultV1AppID)
	def(&o.AppKey, DefaultV1AppKey)
	def(&o.AccessKey, DefaultV1AccessKey)
	def(&o.SecretKey, DefaultV1SecretKey)
	def(&o.FailCode, DefaultV1FailCode)
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = DefaultV1MaxClockSkew
	}
	if o.ReplayWindow == 0 {
		o.ReplayWindow = DefaultV1ReplayWindow
	}
	return o
}

// RegisterFlags binds the API 1.0 options to flags of fs, named -v1-….
func (o *V1Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.AppID, "v1-app-id", o.AppID, "API 1.0: accepted application ID (default "+DefaultV1AppID+")")
	fs.StringVar(&o.AppKey, "v1-app-key", o.AppKey, "API 1.0: accepted application key (default "+DefaultV1AppKey+")")
	fs.StringVar(&o.AccessKey, "v1-access-key", o.AccessKey, "API 1.0: accepted access key (default "+DefaultV1AccessKey+")")
	fs.StringVar(&o.SecretKey, "v1-secret-key", o.SecretKey, "API 1.0: accepted secret key, base64 (default "+DefaultV1SecretKey+")")
	fs.DurationVar(&o.MaxClockSkew, "v1-max-clock-skew", o.MaxClockSkew, "API 1.0: accepted x-mc-date skew (0: 15m)")
	fs.IntVar(&o.ReplayWindow, "v1-replay-window", o.ReplayWindow, "API 1.0: request ids remembered against replay (0: 10000)")
	fs.IntVar(&o.FailEvery, "v1-fail-every", o.FailEvery, "API 1.0 fault: answer every Nth request with fail[] (0: off)")
	fs.StringVar(&o.FailCode, "v1-fail-code", o.FailCode, "API 1.0 fault: code of injected failures (default "+DefaultV1FailCode+")")
	fs.IntVar(&o.CorruptZipEvery, "v1-corrupt-zip-every", o.CorruptZipEvery, "API 1.0 fault: every Nth file is a corrupt zip (0: off)")
	fs.IntVar(&o.TruncatedMemberEvery, "v1-truncated-member-every", o.TruncatedMemberEvery, "API 1.0 fault: every Nth file has a truncated member (0: off)")
}

// V1Stats counts what the API 1.0 endpoint did.
type V1Stats struct {
	Files            int64            // log files served
	Records          int64            // records written into served files (intact members)
	NoMoreLogs       int64            // "no more logs" answers
	AuthFailures     map[string]int64 // 401 answers by code
	InvalidTokens    int64            // err_audit_siem_invalid_token answers
	InjectedFails    int64            // FailEvery answers
	ValidationErrors int64            // err_validation_* and err_developer_key answers
	CorruptZips      int64            // files served corrupt
	TruncatedMembers int64            // members served truncated
}

// v1State is the API 1.0 state of a Simulator; its zero value is ready.
type v1State struct {
	mu      sync.Mutex
	seq     int64
	seen    map[string]struct{}
	ring    []string
	ringPos int
	stats   V1Stats
}

// V1Stats returns a snapshot of the API 1.0 counters.
func (s *Simulator) V1Stats() V1Stats {
	s.v1.mu.Lock()
	defer s.v1.mu.Unlock()
	st := s.v1.stats
	st.AuthFailures = make(map[string]int64, len(s.v1.stats.AuthFailures))
	for k, v := range s.v1.stats.AuthFailures {
		st.AuthFailures[k] = v
	}
	return st
}

func (s *Simulator) v1stat(f func(*V1Stats)) {
	s.v1.mu.Lock()
	f(&s.v1.stats)
	s.v1.mu.Unlock()
}

// v1Opts returns the effective API 1.0 options.
func (s *Simulator) v1Opts() V1Options { return s.opts.V1.withDefaults() }

// V1Credentials returns the accepted API 1.0 credentials.
func (s *Simulator) V1Credentials() (appID, appKey, accessKey, secretKey string) {
	o := s.v1Opts()
	return o.AppID, o.AppKey, o.AccessKey, o.SecretKey
}

// v1Fail writes the API 1.0 error envelope.
func v1Fail(w http.ResponseWriter, status int, code, msg string) {
	type e struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Retryable bool   `json:"retryable"`
	}
	type f struct {
		Errors []e `json:"errors"`
	}
	writeJSON(w, status, struct {
		Meta struct {
			Status int `json:"status"`
		} `json:"meta"`
		Data []any `json:"data"`
		Fail []f   `json:"fail"`
	}{Meta: struct {
		Status int `json:"status"`
	}{status}, Data: []any{}, Fail: []f{{Errors: []e{{Code: code, Message: msg}}}}})
}

// v1Auth verifies the request's signature. It writes the error and returns
// false when the request is refused.
func (s *Simulator) v1Auth(w http.ResponseWriter, r *http.Request, o V1Options) bool {
	deny := func(code, msg string) bool {
		s.v1stat(func(st *V1Stats) {
			if st.AuthFailures == nil {
				st.AuthFailures = map[string]int64{}
			}
			st.AuthFailures[code]++
		})
		v1Fail(w, http.StatusUnauthorized, code, msg)
		return false
	}
	date, id, appID := r.Header.Get("x-mc-date"), r.Header.Get("x-mc-req-id"), r.Header.Get("x-mc-app-id")
	auth := r.Header.Get("Authorization")
	if date == "" || id == "" || appID == "" || auth == "" {
		return deny(V1CodeAuthHeaders, "Authorization, x-mc-date, x-mc-req-id and x-mc-app-id are required")
	}
	cred, ok := strings.CutPrefix(auth, "MC ")
	access, sig, ok2 := strings.Cut(cred, ":")
	if !ok || !ok2 {
		return deny(V1CodeAuthHeaders, "the Authorization header must be MC <accessKey>:<signature>")
	}
	if !hmac.Equal([]byte(access), []byte(o.AccessKey)) {
		return deny(V1CodeUnknownAccessKey, "unknown access key")
	}
	t, err := time.Parse("Mon, 02 Jan 2006 15:04:05 UTC", date)
	if err != nil {
		return deny(V1CodeDateOutOfRange, "x-mc-date must look like Tue, 24 Nov 2015 12:50:11 UTC")
	}
	if d := s.now().Sub(t); d > o.MaxClockSkew || d < -o.MaxClockSkew {
		return deny(V1CodeDateOutOfRange, "x-mc-date is "+d.Round(time.Second).String()+" away from the server time")
	}
	secret, _ := base64.StdEncoding.DecodeString(o.SecretKey) // validated by Options.Validate
	mac := hmac.New(sha1.New, secret)
	io.WriteString(mac, date+":"+id+":"+r.URL.Path+":"+o.AppKey)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return deny(V1CodeBadSignature, "the request signature does not match")
	}
	if !s.v1Remember(id, o.ReplayWindow) {
		return deny(V1CodeRequestIDReused, "x-mc-req-id was already used")
	}
	if appID != o.AppID {
		s.v1stat(func(st *V1Stats) { st.ValidationErrors++ })
		v1Fail(w, http.StatusOK, V1CodeDeveloperKey, "The application id provided is not valid")
		return false
	}
	return true
}

// v1Remember records a request id; false if it was seen recently.
func (s *Simulator) v1Remember(id string, window int) bool {
	v := &s.v1
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = make(map[string]struct{}, window)
		v.ring = make([]string, window)
	}
	if _, dup := v.seen[id]; dup {
		return false
	}
	if old := v.ring[v.ringPos]; old != "" {
		delete(v.seen, old)
	}
	v.ring[v.ringPos] = id
	v.ringPos = (v.ringPos + 1) % len(v.ring)
	v.seen[id] = struct{}{}
	return true
}

// V1Token returns the mc-siem-token that asks for file k of the chain.
func (s *Simulator) V1Token(k int) string {
	var p [8]byte
	binary.BigEndian.PutUint64(p[:], uint64(k))
	return "sim1_" + b64.EncodeToString(p[:]) + "." + b64.EncodeToString(s.mac("v1-siem-token", p[:])[:16])
}

func (s *Simulator) parseV1Token(tok string) (int, bool) {
	rest, ok := strings.CutPrefix(tok, "sim1_")
	if !ok {
		return 0, false
	}
	ps, ms, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, false
	}
	p, err1 := b64.DecodeString(ps)
	m, err2 := b64.DecodeString(ms)
	if err1 != nil || err2 != nil || len(p) != 8 || !hmac.Equal(m, s.mac("v1-siem-token", p)[:16]) {
		return 0, false
	}
	k := binary.BigEndian.Uint64(p)
	if k > 1<<40 {
		return 0, false
	}
	return int(k), true
}

// V1Published returns how many API 1.0 files are published at time at:
// files 0 … n-1 can be fetched.
func (s *Simulator) V1Published(at time.Time) int { return s.countAt(at) }

// v1Prefixes maps canonical types to API 1.0 member name prefixes.
var v1Prefixes = map[string]string{
	"receipt": "receipt_", "process": "process_", "delivery": "delivery_", "av": "av_",
	"spam": "spameventthread_", "internal email protect": "iep_", "impersonation protect": "impersonation_",
	"url protect": "ttp_url_", "attachment protect": "ttp_ap_", "journal": "jrnl_",
}

// V1MemberName returns the zip member name of typ in file k.
func (s *Simulator) V1MemberName(typ string, k int, format string) string {
	_, pub := s.window(k)
	ext := ".json"
	if format == "key_value" {
		ext = ".log"
	}
	return v1Prefixes[typ] + pub.UTC().Format("20060102150405") + fmt.Sprintf("%03d", pub.Nanosecond()/1e6) + ext
}

// v1Offsets are the zone offsets events are written with (seconds east).
var v1Offsets = []int{0, 3600, -4 * 3600, 5*3600 + 1800}

// V1Event returns record n of typ in file k: a JSON object for format
// "json", a key_value line for "key_value" (no line terminator). Both
// forms hold the same fields; every value is a string in key_value and
// numbers stay numbers in json. Events carry their time in "datetime" with
// a non-UTC offset for some records, and a Subject containing '|' for
// some. It returns nil for a type that is not simulated or n out of range.
func (s *Simulator) V1Event(typ string, k, n int, format string) []byte {
	if _, ok := s.types[typ]; !ok || k < 0 || n < 0 || n >= s.opts.RecordsPerFile {
		return nil
	}
	r := s.rngFor(typeIndex(typ)+20, k, n)
	ws, pub := s.window(k)
	span := pub.Sub(ws) / time.Duration(s.opts.RecordsPerFile)
	at := ws.Add(time.Duration(n)*span + time.Duration(r.intn(int(max(span/time.Second, 1))))*time.Second).Truncate(time.Second)
	off := v1Offsets[r.intn(len(v1Offsets))]
	dt := at.In(time.FixedZone("", off)).Format("2006-01-02T15:04:05-0700")
	// Values vary per record (ids, addresses, numbers, subjects) so that a
	// zip compresses about as much as real API 1.0 files, not 15:1.
	subject := r.pick([]string{"Invoice ", "Re: meeting notes ", "Quarterly report | draft ", "Your parcel = delayed ", "Hello ", "Fwd: PO "}) + strconv.Itoa(r.intn(1_000_000))
	id := EventID(typ, k, n)
	domains := []string{"example.net", "example.org", "partner.example", "mail.example.io", "corp.example.com", "vendor.example"}
	sender := fmt.Sprintf("user%d@%s", r.intn(5000), r.pick(domains))
	type field struct {
		k, v string
		num  bool
		wrap bool
	}
	fs := []field{
		{k: "datetime", v: dt},
		{k: "aCode", v: id},
		{k: "acc", v: "C0A0"},
		{k: "MsgId", v: fmt.Sprintf("<%016x.%s@mail%02d.example.com>", r.next(), id, r.intn(40))},
		{k: "Sender", v: sender},
		{k: "headerFrom", v: sender},
		{k: "Rcpt", v: fmt.Sprintf("staff%d@example.com", r.intn(5000))},
		{k: "Dir", v: r.pick([]string{"Inbound", "Outbound", "Internal"})},
		{k: "Subject", v: subject, wrap: true},
	}
	switch typ {
	case "receipt":
		fs = append(fs, field{k: "Act", v: r.pick([]string{"Acc", "Rej"})}, field{k: "SpamScore", v: strconv.Itoa(r.intn(30)), num: true},
			field{k: "SpamLimit", v: strconv.Itoa(r.intn(2) * 20), num: true},
			field{k: "IP", v: fmt.Sprintf("%d.%d.%d.%d", 1+r.intn(223), r.intn(256), r.intn(256), 1+r.intn(254))}, field{k: "TlsVer", v: r.pick([]string{"TLSv1.2", "TLSv1.3"})},
			field{k: "Cphr", v: r.pick([]string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"})})
	case "process":
		fs = append(fs, field{k: "Act", v: r.pick([]string{"Acc", "Hld"})}, field{k: "AttCnt", v: strconv.Itoa(r.intn(3)), num: true},
			field{k: "AttNames", v: fmt.Sprintf("doc%d.pdf", r.intn(100000))}, field{k: "AttSize", v: strconv.Itoa(r.intn(900000)), num: true},
			field{k: "MsgSize", v: strconv.Itoa(1000 + r.intn(90000)), num: true})
	case "delivery":
		fs = append(fs, field{k: "Delivered", v: "true", num: true}, field{k: "Attempt", v: "1", num: true},
			field{k: "Latency", v: strconv.Itoa(r.intn(9000)), num: true}, field{k: "Snt", v: strconv.Itoa(1000 + r.intn(90000)), num: true},
			field{k: "UseTls", v: r.pick([]string{"Yes", "No"})})
	case "url protect":
		fs = append(fs, field{k: "URL", v: fmt.Sprintf("https://phish%d.example/login?a=%d&b=%x", r.intn(900), r.intn(100000), r.next())}, field{k: "UrlCategory", v: "Phishing & Fraud"})
	case "attachment protect", "av":
		fs = append(fs, field{k: "fileName", v: fmt.Sprintf("invoice%d.xlsm", r.intn(100000))},
			field{k: "sha256", v: fmt.Sprintf("%016x%016x%016x%016x", r.next(), r.next(), r.next(), r.next())})
	default:
		fs = append(fs, field{k: "Route", v: r.pick([]string{"Inbound", "Outbound", "Internal"})})
	}
	var b []byte
	if format == "key_value" {
		for i, f := range fs {
			if i > 0 {
				b = append(b, '|')
			}
			b = append(b, f.k...)
			b = append(b, '=')
			if f.wrap {
				b = append(b, '\\')
			}
			b = append(b, f.v...)
			if f.wrap {
				b = append(b, '\\')
			}
		}
		return b
	}
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.k)
		b = append(b, ':')
		if f.num {
			b = append(b, f.v...)
		} else {
			b = appendJSONString(b, f.v)
		}
	}
	return append(b, '}')
}

// V1File describes file k of the chain.
type V1File struct {
	Index     int
	Published time.Time
	// Corrupt: served as the first half of the zip. TruncatedMember: the
	// name of the member served truncated ("" if none).
	Corrupt         bool
	TruncatedMember string
}

// V1FileInfo describes file k for format.
func (s *Simulator) V1FileInfo(k int, format string) V1File {
	o := s.v1Opts()
	_, pub := s.window(k)
	f := V1File{Index: k, Published: pub, Corrupt: every(o.CorruptZipEvery, k)}
	if every(o.TruncatedMemberEvery, k) && !f.Corrupt {
		first := ""
		for _, t := range s.opts.Types {
			if n := s.V1MemberName(t, k, format); first == "" || n < first {
				first = n
			}
		}
		f.TruncatedMember = first
	}
	return f
}

// V1Zip returns API 1.0 file k as served in the given format ("json" or
// "key_value"), faults included: for measurements that need the same
// bytes outside HTTP (the bench's unzip baseline).
func (s *Simulator) V1Zip(k int, format string) ([]byte, error) {
	b, _, err := s.v1Zip(k, format)
	return b, err
}

// v1Zip builds file k.
func (s *Simulator) v1Zip(k int, format string) ([]byte, int, error) {
	info := s.V1FileInfo(k, format)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	records := 0
	for _, typ := range s.opts.Types {
		name := s.V1MemberName(typ, k, format)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: info.Published})
		if err != nil {
			return nil, 0, err
		}
		var m []byte
		if format == "key_value" {
			for n := range s.opts.RecordsPerFile {
				m = append(m, s.V1Event(typ, k, n, format)...)
				m = append(m, '\n')
			}
		} else {
			m = append(m, `{"type":"MTA","data":[`...)
			for n := range s.opts.RecordsPerFile {
				if n > 0 {
					m = append(m, ",\n"...)
				}
				m = append(m, s.V1Event(typ, k, n, format)...)
			}
			m = append(m, "]}"...)
		}
		if name == info.TruncatedMember {
			if format == "key_value" {
				m = m[:len(m)-len(s.V1Event(typ, k, s.opts.RecordsPerFile-1, format))/2-1]
			} else {
				m = []byte(`{ "type" : "MTA", "data" : `)
			}
		} else {
			records += s.opts.RecordsPerFile
		}
		if _, err := w.Write(m); err != nil {
			return nil, 0, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	b := buf.Bytes()
	if info.Corrupt {
		b = b[:len(b)/2]
		records = 0
	}
	return b, records, nil
}

type v1Request struct {
	Data []struct {
		Type       *string `json:"type"`
		Token      *string `json:"token"`
		FileFormat *string `json:"fileFormat"`
		Compress   *bool   `json:"compress"`
	} `json:"data"`
}

// handleSIEMv1 serves POST /api/audit/get-siem-logs.
func (s *Simulator) handleSIEMv1(w http.ResponseWriter, r *http.Request) {
	o := s.v1Opts()
	if !s.v1Auth(w, r, o) {
		return
	}
	invalid := func(code, msg string) {
		s.v1stat(func(st *V1Stats) { st.ValidationErrors++ })
		v1Fail(w, http.StatusOK, code, msg)
	}
	var req v1Request
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		invalid(V1CodeValidationNull, "the request body is not JSON")
		return
	}
	if len(req.Data) != 1 {
		invalid(V1CodeValidationNull, "data must hold exactly one object")
		return
	}
	d := req.Data[0]
	switch {
	case d.Type == nil:
		invalid(V1CodeValidationNull, "type is required")
		return
	case *d.Type == "":
		invalid(V1CodeValidationBlank, "type must not be blank")
		return
	case *d.Type != "MTA":
		invalid(V1CodeValidation, "type must be MTA")
		return
	}
	format := "key_value" // Mimecast's default, as far as documented
	if d.FileFormat != nil {
		format = *d.FileFormat
	}
	if format != "key_value" && format != "json" {
		invalid(V1CodeValidation, "fileFormat must be json or key_value")
		return
	}
	if d.Compress == nil || !*d.Compress {
		invalid(V1CodeValidation, "the simulator only serves compressed files: send compress true")
		return
	}
	k := 0
	if d.Token != nil {
		var ok bool
		if k, ok = s.parseV1Token(*d.Token); !ok {
			s.v1stat(func(st *V1Stats) { st.InvalidTokens++ })
			v1Fail(w, http.StatusOK, V1CodeInvalidToken, "The SIEM token is invalid")
			return
		}
	}
	s.v1.mu.Lock()
	s.v1.seq++
	seq := s.v1.seq
	s.v1.mu.Unlock()
	if n := int64(o.FailEvery); n > 0 && seq%n == 0 {
		s.v1stat(func(st *V1Stats) { st.InjectedFails++ })
		v1Fail(w, http.StatusOK, o.FailCode, "injected by the simulator")
		return
	}
	if k >= s.V1Published(s.now()) {
		s.v1stat(func(st *V1Stats) { st.NoMoreLogs++ })
		writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"status": 200, "isLastToken": true}, "data": []any{}, "fail": []any{}})
		return
	}
	body, records, err := s.cachedV1Zip(k, format)
	if err != nil {
		v1Fail(w, http.StatusInternalServerError, "err_internal", "simulator: building the zip: "+err.Error())
		return
	}
	info := s.V1FileInfo(k, format)
	s.v1stat(func(st *V1Stats) {
		st.Files++
		st.Records += int64(records)
		if info.Corrupt {
			st.CorruptZips++
		}
		if info.TruncatedMember != "" {
			st.TruncatedMembers++
		}
	})
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="MTA_`+info.Published.UTC().Format("20060102150405")+`_`+strconv.Itoa(k)+`.zip"`)
	h.Set("mc-siem-token", s.V1Token(k+1))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
