package simulator

// The log endpoints beyond the SIEM feed (POST /api/audit/get-audit-events,
// /api/dlp/get-logs, /api/ttp/{url,attachment,impersonation}/get-logs,
// /api/gateway/get-held-release-logs, /api/archive/get-archive-search-logs),
// with both authentications (API 2.0 bearer token, API 1.0 signature) and
// Mimecast's habits: newest first unless oldestFirst (where the endpoint
// has it), a "next" token on every page including the empty last one,
// fail[] inside HTTP 200 answers (LogOptions.FailEvery) and 403 for the
// streams not granted (LogOptions.Forbidden).
//
// Events: stream slot k (k ≥ 0) is at Epoch + k·Spacing (whole seconds) and
// holds 3 - k%3 events on that same second, so that window boundaries see
// several events on their second. An event exists once its time is not
// after the simulator's clock. LogEvents lists them.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EndpointLogs is the Stats.Requests key of the log endpoints.
const EndpointLogs = "logs"

// DefaultLogSpacing is the default time between two event slots of a log stream.
const DefaultLogSpacing = 10 * time.Minute

// LogOptions configures the log endpoints. The zero value is valid.
type LogOptions struct {
	// Spacing is the time between two event slots of a stream (whole
	// seconds). Default DefaultLogSpacing.
	Spacing time.Duration
	// Forbidden lists the streams (audit, dlp, ttp-url, …) answered 403,
	// as for an API application without their permission.
	Forbidden []string
	// FailEvery: every Nth log request (counted on these endpoints) is
	// answered HTTP 200 with a fail[] entry and no data. 0: off.
	FailEvery int
}

// RegisterFlags binds the options to fs (-log-…).
func (o *LogOptions) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.Spacing, "log-spacing", o.Spacing, "time between two event slots of a log stream (0: 10m)")
	fs.Func("log-forbidden", "comma-separated log streams answered 403 (e.g. dlp,audit)", func(v string) error {
		o.Forbidden = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				o.Forbidden = append(o.Forbidden, t)
			}
		}
		return nil
	})
	fs.IntVar(&o.FailEvery, "log-fail-every", o.FailEvery, "fault: answer every Nth log request 200 with fail[] (0: off)")
}

// Validate reports every problem of o.
func (o LogOptions) Validate() error {
	var errs []error
	if o.Spacing < 0 || o.Spacing%time.Second != 0 {
		errs = append(errs, fmt.Errorf("simulator: log Spacing must be whole seconds ≥ 0, got %s", o.Spacing))
	}
	if o.FailEvery < 0 {
		errs = append(errs, fmt.Errorf("simulator: log FailEvery must be >= 0, got %d", o.FailEvery))
	}
	for _, f := range o.Forbidden {
		if _, ok := logEndpointOf(f); !ok {
			errs = append(errs, fmt.Errorf("simulator: unknown log stream %q in Forbidden (want one of %s)", f, strings.Join(LogStreams(), ", ")))
		}
	}
	return errors.Join(errs...)
}

func (s *Simulator) logSpacing() time.Duration {
	if s.opts.Logs.Spacing == 0 {
		return DefaultLogSpacing
	}
	return s.opts.Logs.Spacing
}

// logEndpoint is how the simulator serves one log stream.
type logEndpoint struct {
	stream, path, records, timeField, from, to string
	oldestFirst                                bool
}

var logEndpoints = []logEndpoint{
	{"audit", "/api/audit/get-audit-events", "", "eventTime", "startDateTime", "endDateTime", false},
	{"dlp", "/api/dlp/get-logs", "dlpLogs", "eventTime", "from", "to", true},
	{"ttp-url", "/api/ttp/url/get-logs", "clickLogs", "date", "from", "to", true},
	{"ttp-attachment", "/api/ttp/attachment/get-logs", "attachmentLogs", "date", "from", "to", true},
	{"ttp-impersonation", "/api/ttp/impersonation/get-logs", "impersonationLogs", "eventTime", "from", "to", true},
	{"held-release", "/api/gateway/get-held-release-logs", "heldReleaseLogs", "released", "start", "end", false},
	{"archive-search", "/api/archive/get-archive-search-logs", "logs", "createTime", "start", "end", false},
}

// LogStreams returns the names of the simulated log streams.
func LogStreams() []string {
	out := make([]string, len(logEndpoints))
	for i, e := range logEndpoints {
		out[i] = e.stream
	}
	return out
}

func logEndpointOf(stream string) (logEndpoint, bool) {
	for _, e := range logEndpoints {
		if e.stream == stream {
			return e, true
		}
	}
	return logEndpoint{}, false
}

// logSlot is one event of a log stream.
type logSlot struct{ k, j int }

func (s *Simulator) slotTime(k int) time.Time {
	return s.epoch.Truncate(time.Second).Add(time.Duration(k) * s.logSpacing())
}

func slotCount(k int) int { return 3 - k%3 }

// logSlots returns the events of a stream dated in [from, to] and not
// after the clock, oldest first.
func (s *Simulator) logSlots(from, to time.Time) []logSlot {
	if now := s.now(); to.After(now) {
		to = now
	}
	sp := s.logSpacing()
	k0 := 0
	if d := from.Sub(s.slotTime(0)); d > 0 {
		k0 = int((d + sp - 1) / sp)
	}
	var out []logSlot
	for k := k0; !s.slotTime(k).After(to); k++ {
		for j := 0; j < slotCount(k); j++ {
			out = append(out, logSlot{k, j})
		}
	}
	return out
}

// LogEvents returns the JSON of every event of stream dated in [from, to]
// (inclusive) and not after the simulator's clock, oldest first: what an
// exactly-once reader of that span must deliver.
func (s *Simulator) LogEvents(stream string, from, to time.Time) [][]byte {
	ep, ok := logEndpointOf(stream)
	if !ok {
		return nil
	}
	var out [][]byte
	for _, sl := range s.logSlots(from, to) {
		out = append(out, s.logEvent(ep, sl))
	}
	return out
}

// logEvent returns the JSON of one event, shaped on the real samples.
func (s *Simulator) logEvent(ep logEndpoint, sl logSlot) []byte {
	ti := 100
	for i, e := range logEndpoints {
		if e.stream == ep.stream {
			ti += i
		}
	}
	r := s.rngFor(ti, sl.k, sl.j)
	t := s.slotTime(sl.k)
	ts := t.Format("2006-01-02T15:04:05-0700")
	email := func() string { return string(appendEmail(nil, &r)) }
	msgID := fmt.Sprintf("<sim-%s-%d-%d@mail.example.com>", ep.stream, sl.k, sl.j)
	subject := r.pick([]string{"Invoice 4471 overdue", "RE: Q3 figures", "Your parcel could not be delivered", "Password expires today", "Team lunch", "Signed contract attached"})
	route := r.pick([]string{"inbound", "outbound", "internal"})
	var m map[string]any
	switch ep.stream {
	case "audit":
		auditType := r.pick([]string{"User Logged On", "Logon Authentication Failed", "Policy Definition Changed", "Message Tracking Export", "Threat Intel Feed Download", "Completed Directory Sync", "Search Performed"})
		cat := map[string]string{"User Logged On": "authentication_logs", "Logon Authentication Failed": "authentication_logs",
			"Policy Definition Changed": "account_logs", "Message Tracking Export": "case_review_logs",
			"Threat Intel Feed Download": "reporting_logs", "Completed Directory Sync": "user_account_and_role_logs",
			"Search Performed": "archive_service_logs"}[auditType]
		user := email()
		if auditType == "Completed Directory Sync" {
			user = ""
		}
		info := fmt.Sprintf("%s for %s, Date: %s, Time: %s BST, IP: 67.43.156.%d, Application: Administration Console",
			auditType, user, t.Format("2006-01-02"), t.Add(time.Hour).Format("15:04:05"), r.intn(250))
		if auditType == "Search Performed" {
			info += "\nSearch Criteria: {\"keywords\":\"invoice\",\"route\":\"" + route + "\"}"
		}
		m = map[string]any{"id": fmt.Sprintf("sim-audit-%d-%d", sl.k, sl.j), "auditType": auditType, "user": user,
			"eventTime": ts, "eventInfo": info, "category": cat}
	case "dlp":
		if r.one(4) { // another offset, same instant
			ts = t.In(time.FixedZone("", 7*3600)).Format("2006-01-02T15:04:05-0700")
		}
		m = map[string]any{"senderAddress": email(), "recipientAddress": email(), "subject": subject, "eventTime": ts,
			"route": route, "policy": r.pick([]string{"Content Inspection - Watermark", "Confidential", "PCI - Card Numbers", "GDPR - Personal Data"}),
			"action": r.pick([]string{"hold", "notification", "block", "smart_tag"}), "messageId": msgID}
	case "ttp-url":
		action := r.pick([]string{"allow", "allow", "warn", "block"})
		scan := "clean"
		if action == "block" {
			scan = "malicious"
		}
		m = map[string]any{"userEmailAddress": email(), "fromUserEmailAddress": email(),
			"url":           fmt.Sprintf("https://www.example-%d.com/login?session=%d", r.intn(50), r.intn(1e6)),
			"ttpDefinition": "Inbound URL 'Aggressive'", "subject": subject, "action": action,
			"adminOverride": "N/A", "userOverride": r.pick([]string{"None", "None", "Continue"}), "scanResult": scan,
			"category":  r.pick([]string{"Business", "Phishing & Fraud", "Malware", "Social Networking"}),
			"sendingIp": r.pick([]string{"67.43.156.15", "Internal IP"}), "userAwarenessAction": r.pick([]string{"Continue", "N/A"}),
			"date": ts, "actions": "Allow", "route": route, "creationMethod": r.pick([]string{"User Click", "Entry Scan"}),
			"emailPartsDescription": []string{"Body"}, "messageId": msgID}
	case "ttp-attachment":
		result := r.pick([]string{"safe", "safe", "safe", "malicious"})
		m = map[string]any{"senderAddress": email(), "recipientAddress": email(),
			"fileName": fmt.Sprintf("document-%d.pdf", r.intn(1000)), "fileType": "application/pdf", "result": result,
			"actionTriggered": r.pick([]string{"user release, none", "none, none", "sandbox, hold"}), "date": ts,
			"details": "Safe                                              \r\nTime taken: 0 hrs, 0 min, 4 sec", "route": route,
			"messageId": msgID, "subject": subject, "fileHash": fmt.Sprintf("%064x", r.next()),
			"definition": "Inbound - Safe file with On-Demand Sandbox"}
	case "ttp-impersonation":
		mal := r.one(3)
		action := "none"
		if mal {
			action = r.pick([]string{"hold", "bounce", "none"})
		}
		m = map[string]any{"id": fmt.Sprintf("MTOKEN:sim-%d-%d", sl.k, sl.j), "senderAddress": email(), "recipientAddress": email(),
			"subject": subject, "definition": "IP - 1 hit (Tag email)", "hits": 1 + r.intn(3),
			"identifiers": []string{r.pick([]string{"internal_user_name", "similar_internal_domain", "newly_observed_domain"})},
			"action":      action, "taggedExternal": r.one(2), "taggedMalicious": mal, "senderIpAddress": "67.43.156.15",
			"eventTime": ts, "impersonationResults": []map[string]string{{"impersonationDomainSource": "internal_user_name",
				"similarDomain": "John Doe Jr <johndoejr@example.com>", "stringSimilarToDomain": "John Doe Jr", "checkerResult": "hit"}},
			"messageId": msgID}
	case "held-release":
		if r.one(3) {
			ts = t.Format("2006-01-02T15:04:05Z07:00") // the documentation's +00:00
		}
		status := r.pick([]string{"released", "rejected"})
		m = map[string]any{"id": fmt.Sprintf("sim-held-%d-%d", sl.k, sl.j), "status": status,
			"rejectReason": "", "heldReason": r.pick([]string{"Default Spam Scanning Definition", "High-Confidence Impersonation Protection", "Attachment Protection"}),
			"heldGroup": "IT Staff Global", "messageInfo": r.pick([]string{"Graymail", "Expired in queue - rejected by housekeeping", "Released by administrator"}),
			"released": ts, "operator": map[string]string{"emailAddress": email()},
			"fromEnv": map[string]string{"emailAddress": email()}, "fromHdr": map[string]string{"emailAddress": email(), "displayableName": "Sender"},
			"to": []map[string]string{{"emailAddress": email()}}, "subject": subject, "attachments": r.one(2), "route": route,
			"size": 2000 + r.intn(50000), "policy": "Moderate Spam Detection", "spamScore": r.intn(30), "detectionLevel": "moderate",
			"spamProcessingDetail": map[string]any{"spf": map[string]any{"allow": true, "info": "allow"},
				"dkim": map[string]any{"allow": true, "info": "allow"}, "dmarc": map[string]any{"allow": true, "info": "allow"},
				"verdict": map[string]any{"decision": "spam", "risk": "low"}}}
		if status == "rejected" {
			m["rejectReason"] = "Message goes against email policies"
		}
	case "archive-search":
		m = map[string]any{"createTime": ts, "emailAddr": email(), "source": "archive",
			"searchText":   r.pick([]string{"", "[Route : outbound]", "invoice", "<75117693bccaae9e-67627@hapi.example.com>"}),
			"searchReason": r.pick([]string{"", "Legal hold request"}),
			"description":  r.pick([]string{"Message Tracking Search", "Audit [Page 1] - Depth 100", "Threat Remediation search"}),
			"isAdmin":      r.one(2)}
	}
	b, _ := json.Marshal(m) // maps of strings, numbers and booleans
	return b
}

// logPageToken is a signed (offset, window) of a page.
type logPageToken struct {
	stream   string
	from, to int64
	oldest   bool
	offset   int
}

func (s *Simulator) encodeLogToken(t logPageToken) string {
	p := make([]byte, 0, 64)
	p = binary.BigEndian.AppendUint64(p, uint64(t.from))
	p = binary.BigEndian.AppendUint64(p, uint64(t.to))
	p = binary.BigEndian.AppendUint32(p, uint32(t.offset))
	if t.oldest {
		p = append(p, 1)
	} else {
		p = append(p, 0)
	}
	p = append(p, t.stream...)
	return b64.EncodeToString(p) + "." + b64.EncodeToString(s.mac("logpage", p)[:12])
}

func (s *Simulator) decodeLogToken(tok string) (logPageToken, error) {
	ps, ms, ok := strings.Cut(tok, ".")
	p, err1 := b64.DecodeString(ps)
	m, err2 := b64.DecodeString(ms)
	if !ok || err1 != nil || err2 != nil || len(p) < 21 || string(m) != string(s.mac("logpage", p)[:12]) {
		return logPageToken{}, errors.New("unknown or tampered pageToken")
	}
	return logPageToken{from: int64(binary.BigEndian.Uint64(p)), to: int64(binary.BigEndian.Uint64(p[8:])),
		offset: int(binary.BigEndian.Uint32(p[16:])), oldest: p[20] == 1, stream: string(p[21:])}, nil
}

// handleLogs serves one log endpoint.
func (s *Simulator) handleLogs(ep logEndpoint) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Authorization"), "MC ") {
			if !s.v1Auth(w, r, s.v1Opts()) {
				return
			}
		} else if !s.checkToken(w, r) {
			return
		}
		if slices.Contains(s.opts.Logs.Forbidden, ep.stream) {
			s.count("logs_forbidden", 1)
			writeFail(w, http.StatusForbidden, "forbidden", "the application is not granted access to "+ep.path)
			return
		}
		s.mu.Lock()
		s.logSeq++
		seq := s.logSeq
		s.mu.Unlock()
		if n := int64(s.opts.Logs.FailEvery); n > 0 && seq%n == 0 {
			s.count("logs_fail_200", 1)
			writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"status": 200}, "data": []any{},
				"fail": []any{map[string]any{"errors": []any{map[string]any{"code": "err_simulated_failure", "message": "a simulated failure inside an HTTP 200 answer", "retryable": true}}}}})
			return
		}
		invalid := func(msg string) {
			s.stats.add(func(st *Stats) { st.ValidationErrors++ })
			writeJSON(w, http.StatusBadRequest, map[string]any{"meta": map[string]any{"status": 400}, "data": []any{},
				"fail": []any{map[string]any{"errors": []any{map[string]any{"code": "err_validation", "message": msg, "retryable": false}}}}})
		}
		var req struct {
			Meta struct {
				Pagination struct {
					PageSize  int    `json:"pageSize"`
					PageToken string `json:"pageToken"`
				} `json:"pagination"`
			} `json:"meta"`
			Data []map[string]json.RawMessage `json:"data"`
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := json.Unmarshal(body, &req); err != nil {
			invalid("the request body is not JSON: " + err.Error())
			return
		}
		var d map[string]json.RawMessage
		if len(req.Data) > 0 {
			d = req.Data[0]
		}
		when := func(field string, def time.Time) (time.Time, bool) {
			var v string
			if raw, ok := d[field]; !ok || json.Unmarshal(raw, &v) != nil || v == "" {
				return def, true
			}
			for _, l := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
				if t, err := time.Parse(l, v); err == nil {
					return t, true
				}
			}
			invalid(field + " must be an ISO 8601 date-time such as 2011-12-03T10:15:30+0000, got " + strconv.Quote(v))
			return time.Time{}, false
		}
		now := s.now()
		from, ok := when(ep.from, now.UTC().Truncate(24*time.Hour))
		if !ok {
			return
		}
		to, ok := when(ep.to, now)
		if !ok {
			return
		}
		var oldest bool
		if raw, ok := d["oldestFirst"]; ok && ep.oldestFirst {
			_ = json.Unmarshal(raw, &oldest)
		}
		size := req.Meta.Pagination.PageSize
		if size <= 0 {
			size = 25
		}
		if size > 500 {
			invalid("pageSize must be at most 500")
			return
		}
		tok := logPageToken{stream: ep.stream, from: from.Unix(), to: to.Unix(), oldest: oldest}
		if pt := req.Meta.Pagination.PageToken; pt != "" {
			got, err := s.decodeLogToken(pt)
			if err != nil || got.stream != tok.stream || got.from != tok.from || got.to != tok.to || got.oldest != tok.oldest {
				s.stats.add(func(st *Stats) { st.InvalidNextPage++ })
				invalid("pageToken is invalid or was issued for another query")
				return
			}
			tok.offset = got.offset
		}
		slots := s.logSlots(from, to)
		if !oldest {
			slices.Reverse(slots)
		}
		page := []json.RawMessage{}
		for i := tok.offset; i < len(slots) && i < tok.offset+size; i++ {
			page = append(page, s.logEvent(ep, slots[i]))
		}
		s.count("logs_records", int64(len(page)))
		next := tok
		next.offset = min(tok.offset+size, len(slots))
		// Mimecast sends a "next" token on every page, the empty last one too.
		pag := map[string]any{"pageSize": len(page), "totalCount": len(slots), "next": s.encodeLogToken(next)}
		if tok.offset > 0 {
			prev := tok
			prev.offset = max(tok.offset-size, 0)
			pag["previous"] = s.encodeLogToken(prev)
		}
		var data any = page
		if ep.records != "" {
			data = []any{map[string]any{ep.records: page}}
		}
		writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"status": 200, "pagination": pag}, "data": data, "fail": []any{}})
	}
}
