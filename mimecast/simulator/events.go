package simulator

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rng is a splitmix64 stream: cheap, deterministic, good enough for data.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// one returns true with probability 1/n.
func (r *rng) one(n int) bool { return r.intn(n) == 0 }

func (r *rng) pick(l []string) string { return l[r.intn(len(l))] }

func typeIndex(typ string) int {
	for i, t := range allTypes {
		if t == typ {
			return i
		}
	}
	for i, t := range ciTypes {
		if t == typ {
			return len(allTypes) + i
		}
	}
	return -1
}

func (s *Simulator) rngFor(ti, file, n int) rng {
	r := rng{s: s.opts.Seed}
	r.s ^= uint64(ti+1) * 0x632be59bd9b4e019
	r.next()
	r.s ^= uint64(file) * 0x8cb92ba72f3d8dd7
	r.next()
	r.s ^= uint64(n) * 0xd6e8feb86659fd93
	return r
}

// Event returns the exact line (without the trailing LF) served as record n
// of file `file` of typ, including injected bad or long lines. It returns nil
// for a type that is not simulated or an index out of range.
func (s *Simulator) Event(typ string, file, n int) []byte {
	if _, ok := s.types[typ]; !ok || file < 0 || n < 0 || n >= s.opts.RecordsPerFile {
		return nil
	}
	f := s.file(typ, file)
	switch n {
	case f.Faults.LongLine:
		var sb strings.Builder
		var b []byte
		if err := s.writeLongEvent(&sb, &b, typ, file, n); err != nil {
			return nil // strings.Builder never fails
		}
		return []byte(strings.TrimSuffix(sb.String(), "\n"))
	case f.Faults.BadJSONLine:
		return appendBadLine(nil, typ, file, n)
	}
	return s.appendEvent(nil, typ, file, n)
}

// EventID returns the aggregateId of record n of file `file` of typ:
// "sim-<stream>-<file>-<n>" (stream = type with spaces replaced by '-').
func EventID(typ string, file, n int) string {
	return string(appendID(nil, typ, file, n))
}

func appendID(b []byte, typ string, file, n int) []byte {
	b = append(b, "sim-"...)
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if c == ' ' {
			c = '-'
		}
		b = append(b, c)
	}
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(file), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(n), 10)
}

// appendBadLine is the invalid JSON line of BadJSONLineEvery: a record cut
// in the middle of a string value.
func appendBadLine(b []byte, typ string, file, n int) []byte {
	b = append(b, `{"aggregateId":"`...)
	b = appendID(b, typ, file, n)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","subject":"truncated record \"never closed`...)
	return b
}

// longChunk fills long lines; plain ASCII without escapes so that cutting it
// anywhere keeps the JSON valid.
const longChunk = "Received: from mx1.example.net (mx1.example.net [203.0.113.7]) by relay.example.com with ESMTPS id 4f2a9c; "

// writeLongEvent writes record n as a normal event with an extra "headers"
// field of LongLineBytes bytes, then LF, streaming the padding.
func (s *Simulator) writeLongEvent(w io.Writer, bp *[]byte, typ string, file, n int) error {
	*bp = s.appendEvent((*bp)[:0], typ, file, n)
	*bp = append((*bp)[:len(*bp)-1], `,"headers":"`...) // drop the closing brace
	if _, err := w.Write(*bp); err != nil {
		return err
	}
	rest := s.opts.LongLineBytes
	chunk := []byte(strings.Repeat(longChunk, 4096/len(longChunk)+1))
	for rest > 0 {
		c := chunk[:min(rest, len(chunk))]
		if _, err := w.Write(c); err != nil {
			return err
		}
		rest -= len(c)
	}
	_, err := io.WriteString(w, "\"}\n")
	return err
}

// ev builds one compact JSON object.
type ev struct {
	b     []byte
	first bool
	r     rng
}

func (e *ev) key(k string) {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *ev) str(k, v string) { e.key(k); e.b = appendJSONString(e.b, v) }

func (e *ev) null(k string) { e.key(k); e.b = append(e.b, "null"...) }

// strN writes v, or null with probability 1/nullOne.
func (e *ev) strN(k, v string, nullOne int) {
	if e.r.one(nullOne) {
		e.null(k)
		return
	}
	e.str(k, v)
}

func (e *ev) num(k string, v int64) { e.key(k); e.b = strconv.AppendInt(e.b, v, 10) }

// numStr writes an integer as a JSON string, as Mimecast does.
func (e *ev) numStr(k string, v int) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = strconv.AppendInt(e.b, int64(v), 10)
	e.b = append(e.b, '"')
}

func (e *ev) raw(k, v string) { e.key(k); e.b = append(e.b, v...) }

func (e *ev) hex(k string, nbytes int) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendHex(e.b, &e.r, nbytes)
	e.b = append(e.b, '"')
}

const hexDigits = "0123456789abcdef"

func appendHex(b []byte, r *rng, nbytes int) []byte {
	for nbytes > 0 {
		v := r.next()
		for i := 0; i < 8 && nbytes > 0; i++ {
			b = append(b, hexDigits[v>>4&0xf], hexDigits[v&0xf])
			v >>= 8
			nbytes--
		}
	}
	return b
}

func (e *ev) email(k string) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendEmail(e.b, &e.r)
	e.b = append(e.b, '"')
}

func appendEmail(b []byte, r *rng) []byte {
	b = append(b, r.pick(localParts)...)
	if r.one(3) {
		b = strconv.AppendInt(b, int64(r.intn(100)), 10)
	}
	b = append(b, '@')
	return append(b, r.pick(domains)...)
}

func (e *ev) recipients(k string) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = appendEmail(e.b, &e.r)
	if e.r.one(8) {
		e.b = append(e.b, ',', ' ')
		e.b = appendEmail(e.b, &e.r)
	}
	e.b = append(e.b, '"')
}

func (e *ev) ip(k string) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = append(e.b, e.r.pick(ipPrefixes)...)
	e.b = strconv.AppendInt(e.b, int64(1+e.r.intn(254)), 10)
	e.b = append(e.b, '"')
}

func (e *ev) messageID(k string) {
	e.key(k)
	e.b = append(e.b, '"')
	br := !e.r.one(5)
	if br {
		e.b = append(e.b, '<')
	}
	e.b = appendHex(e.b, &e.r, 12)
	e.b = append(e.b, '@')
	e.b = append(e.b, e.r.pick(domains)...)
	if br {
		e.b = append(e.b, '>')
	}
	e.b = append(e.b, '"')
}

func (e *ev) subject(k string) {
	if e.r.one(40) {
		e.key(k)
		e.b = append(e.b, '"')
		n := 1 + e.r.intn(3)
		for i := range n * 12 {
			e.b = appendJSONBody(e.b, subjects[(i+e.r.intn(4))%len(subjects)])
			e.b = append(e.b, ' ', '|', ' ')
		}
		e.b = append(e.b, '"')
		return
	}
	e.strN(k, e.r.pick(subjects), 30)
}

// appendJSONString appends s as a JSON string (quotes included). Control
// characters, '"', '\\' and DEL are escaped; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONBody(b, s)
	return append(b, '"')
}

func appendJSONBody(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(b, s[start:]...)
}

// appendEvent appends the compact JSON of record n of file `file` of typ
// (no trailing LF, faults not applied).
func (s *Simulator) appendEvent(dst []byte, typ string, file, n int) []byte {
	ti := typeIndex(typ)
	e := ev{b: append(dst, '{'), first: true, r: s.rngFor(ti, file, n)}
	r := &e.r

	// Timestamp: monotonic non-decreasing within the file's window.
	ws, pub := s.window(file)
	wms := pub.Sub(ws).Milliseconds()
	R := int64(s.opts.RecordsPerFile)
	lo := int64(n) * wms / R
	hi := (int64(n) + 1) * wms / R
	ts := ws.UnixMilli() + lo
	if hi > lo {
		ts += int64(r.intn(int(hi - lo)))
	}

	alt := r.one(6) // eventType/subType spelling instead of type/subtype
	var sub string
	subNull := true
	setSub := func(v string) { sub, subNull = v, false }

	e.key("aggregateId")
	e.b = append(e.b, '"')
	e.b = appendID(e.b, typ, file, n)
	e.b = append(e.b, '"')
	e.key("processingId")
	e.b = append(e.b, '"')
	e.b = appendID(e.b, typ, file, n)
	e.b = append(e.b, '_')
	e.b = appendHex(e.b, r, 5)
	e.b = append(e.b, '"')
	e.str("accountId", accounts[int(s.opts.Seed%uint64(len(accounts)))])
	e.num("timestamp", ts)

	switch typ {
	case "receipt":
		rej := r.one(8)
		action := "Acc"
		if rej {
			action = "Rej"
		}
		setSub(action)
		e.str("action", action)
		if rej && r.one(3) {
			e.null("senderEnvelope")
			e.null("messageId")
			e.null("subject")
		} else {
			e.email("senderEnvelope")
			e.messageID("messageId")
			e.subject("subject")
		}
		e.recipients("recipients")
		e.ip("senderIp")
		kind := -1
		if rej {
			kind = r.intn(len(rejections))
			e.str("rejectionType", rejections[kind].typ)
			e.str("rejectionCode", rejections[kind].code)
		} else {
			e.null("rejectionType")
			e.null("rejectionCode")
		}
		e.str("direction", r.pick([]string{"Inbound", "inbound", "Outbound", "Internal"}))
		e.numStr("numberAttachments", r.intn(4))
		e.email("senderHeader")
		if rej {
			e.str("rejectionInfo", rejections[kind].info)
		} else {
			e.null("rejectionInfo")
		}
		if rej && r.one(2) {
			e.str("tlsVersion", "")
			e.str("tlsCipher", "")
		} else {
			e.str("tlsVersion", r.pick([]string{"TLSv1.3", "TLSv1.2"}))
			e.str("tlsCipher", r.pick([]string{"TLS_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"}))
		}
		if r.one(3) {
			e.str("spamInfo", "[]")
		} else {
			e.null("spamInfo")
		}
		if r.one(20) {
			e.raw("spamProcessingDetail", spamDetails[r.intn(len(spamDetails))]) // nested object variant
		} else {
			e.str("spamProcessingDetail", spamDetails[r.intn(len(spamDetails))])
		}
		if rej && rejections[kind].virus {
			e.str("virusFound", r.pick(viruses))
		} else {
			e.null("virusFound")
		}
		score := r.intn(12)
		if rej || r.one(10) {
			score = 15 + r.intn(30)
		}
		e.numStr("spamScore", score)
		e.null("spamDetectionLevel")
		if rej && kind == 1 {
			e.str("receiptErrors", "Malicious QRCode detected in email: UrlReputationScan")
		} else {
			e.null("receiptErrors")
		}
	case "process":
		action := "Acc"
		switch {
		case r.one(6):
			action = "Hld"
		case r.one(25):
			action = "Sdbx"
		}
		setSub(action)
		e.str("action", action)
		e.email("senderEnvelope")
		e.messageID("messageId")
		e.subject("subject")
		if action == "Hld" {
			e.str("holdReason", r.pick([]string{"Spm", "Oth", "Av", "Pol", "Imp", "Dlp"}))
		} else if r.one(4) {
			e.str("holdReason", "Oth")
		} else {
			e.null("holdReason")
		}
		na := r.intn(4)
		size := 0
		if na > 0 {
			size = 500 + r.intn(2_000_000)
		}
		e.numStr("totalSizeAttachments", size)
		e.numStr("numberAttachments", na)
		if na == 0 {
			e.null("attachments")
		} else {
			e.key("attachments")
			e.b = append(e.b, '"')
			for i := range na {
				if i > 0 {
					e.b = append(e.b, ',', ' ')
				}
				e.b = appendJSONBody(e.b, `"`+r.pick(fileNames)+`"`)
			}
			e.b = append(e.b, '"')
		}
		e.numStr("emailSize", 2000+size+r.intn(200_000))
	case "delivery":
		ok := !r.one(15)
		e.email("senderEnvelope")
		e.messageID("messageId")
		e.subject("subject")
		e.recipients("recipients")
		e.str("delivered", strconv.FormatBool(ok))
		e.ip("destinationIp")
		e.strN("Hostname", r.pick(hostnames), 5)
		e.numStr("numberAttachments", r.intn(3))
		e.strN("direction", r.pick([]string{"Inbound", "Outbound", "Internal"}), 6)
		e.numStr("totalSizeAttachments", r.intn(300000))
		e.numStr("deliveryAttempts", 1+r.intn(3))
		e.str("tlsVersion", r.pick([]string{"TLSv1.3", "TLSv1.2"}))
		e.str("tlsCipher", "TLS_AES_256_GCM_SHA384")
		e.numStr("emailSize", 2000+r.intn(200_000))
		e.str("tlsUsed", r.pick([]string{"Yes", "true"}))
		e.strN("route", r.pick([]string{"Office 365 Inbound Routing Policy Definition", "Default Outbound Route", "Google Workspace Delivery"}), 4)
		if ok {
			e.null("deliveryErrors")
			e.null("rejectionType")
			e.null("rejectionCode")
			e.null("rejectionInfo")
		} else {
			e.str("deliveryErrors", "451 4.4.0 DNS resolution failed for [mail.example.org]")
			e.str("rejectionType", "Temporary Failure")
			e.str("rejectionCode", "451")
			e.str("rejectionInfo", "Remote server [198.51.100.25] said: 451 4.7.1 Greylisted, try again later")
		}
		e.numStr("deliveryTime", 200+r.intn(20000))
		setSub(strconv.FormatBool(ok))
	case "av":
		fname := r.pick(fileNames)
		e.str("fileName", fname)
		e.hex("sha256", 32)
		e.subject("subject")
		e.email("senderEnvelope")
		e.messageID("messageId")
		e.str("senderDomainInternal", r.pick([]string{"true", "false"}))
		e.hex("sha1", 20)
		e.str("virusFound", r.pick(viruses))
		e.str("route", r.pick([]string{"Inbound", "Outbound", "Internal"}))
		e.recipients("recipients")
		e.str("fileExtension", ext(fname))
		e.ip("senderIp")
		e.str("senderDomain", r.pick(domains))
		e.numStr("emailSize", 5000+r.intn(3_000_000))
		e.hex("md5", 16)
	case "spam":
		e.messageID("messageId")
		e.email("senderEnvelope")
		e.subject("subject")
		e.recipients("recipients")
		e.ip("senderIp")
		e.str("senderDomain", r.pick(domains))
		e.str("route", r.pick([]string{"Inbound", "inbound"}))
		e.email("senderHeader")
	case "internal email protect":
		e.messageID("messageId")
		e.email("senderEnvelope")
		e.subject("subject")
		e.recipients("recipients")
		i := r.intn(len(internalFindings))
		e.str("urlCategory", internalFindings[i][0])
		e.str("scanResults", internalFindings[i][1])
		e.str("route", "Internal")
		e.null("monitoredDomainSource")
		e.null("similarDomain")
	case "impersonation protect":
		mal := r.one(3)
		action := "None"
		if mal {
			action = r.pick([]string{"Hold", "Bounce"})
		}
		setSub(action)
		b := func(v bool) string { return strconv.FormatBool(v) }
		e.str("taggedMalicious", b(mal))
		e.subject("subject")
		e.str("internalUserName", b(mal && r.one(2)))
		e.email("senderEnvelope")
		e.str("policyDefinition", r.pick([]string{"Default Impersonation Definition", "Executive Protection \"VIP\" Policy"}))
		e.str("newDomain", b(mal && r.one(2)))
		e.str("customThreatDictionary", "false")
		e.str("action", action)
		e.ip("senderIp")
		e.str("similarInternalDomain", b(mal && r.one(2)))
		if r.one(4) {
			e.str("messageId", "")
		} else {
			e.messageID("messageId")
		}
		items := 0
		if mal {
			items = 1 + r.intn(4)
		}
		e.numStr("itemsDetected", items)
		e.str("mimecastThreatDictionary", b(mal && r.one(3)))
		e.str("customNameMatch", b(mal && r.one(2)))
		e.str("route", "Inbound")
		e.str("similarMimecastExternalDomain", "false")
		e.recipients("recipients")
		e.str("similarCustomExternalDomain", "false")
		e.str("taggedExternal", b(r.one(2)))
		e.str("replyMismatch", b(mal && r.one(2)))
	case "url protect":
		block := r.one(3)
		action := "Allow"
		if block {
			action = "Block"
		}
		setSub(action)
		if block {
			e.str("urlCategory", r.pick([]string{"Phishing & Fraud", "Malware", "Dangerous file extension", "Compromised"}))
		} else {
			e.str("urlCategory", r.pick([]string{"Business", "Technology", "News", "Search Engines & Portals"}))
		}
		e.str("action", action)
		e.str("url", r.pick(urls))
		e.subject("subject")
		e.ip("sourceIp")
		e.str("senderDomain", r.pick(domains))
		e.email("senderEnvelope")
		e.str("route", r.pick([]string{"inbound", "outbound", "internal"}))
		e.recipients("recipients")
		if block {
			e.str("blockReason", "malicious")
		} else {
			e.null("blockReason")
		}
		e.messageID("messageId")
		if block && !r.one(3) {
			e.str("analysis", analyses[r.intn(len(analyses))])
		} else {
			e.str("analysis", "null")
		}
	case "attachment protect":
		fname := r.pick(fileNames)
		e.email("senderEnvelope")
		e.messageID("messageId")
		e.subject("subject")
		e.email("recipient")
		e.str("fileName", fname)
		if r.one(4) {
			e.str("sha256", eicarSHA256)
		} else {
			e.hex("sha256", 32)
		}
		e.numStr("sizeAttachment", 100+r.intn(5_000_000))
		e.ip("senderIp")
		e.str("senderDomain", r.pick(domains))
		e.str("fileExtension", ext(fname))
		e.hex("sha1", 20)
		e.str("fileMime", mimeOf(ext(fname)))
		e.str("route", r.pick([]string{"inbound", "Inbound"}))
		e.hex("md5", 16)
	case "journal":
		e.email("senderEnvelope")
		e.recipients("recipients")
		e.str("direction", r.pick([]string{"Inbound", "Outbound", "Internal"}))
		if r.one(2) {
			e.messageID("messageId")
		}
	case "entities", "mailflow", "urlclick":
		alt = false
		s.appendCIFields(&e, typ, setSub)
	}
	if alt {
		e.str("eventType", typ)
		if subNull {
			e.null("subType")
		} else {
			e.str("subType", sub)
		}
	} else {
		e.str("type", typ)
		if subNull {
			e.null("subtype")
		} else {
			e.str("subtype", sub)
		}
	}
	if r.one(2) {
		e.num("_offset", 100_000+int64(file)*R+int64(n))
		e.num("_partition", int64(60+ti*7))
	}
	return append(e.b, '}')
}

func ext(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

func mimeOf(ext string) string {
	switch ext {
	case "pdf":
		return "application/pdf"
	case "docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case "xlsm":
		return "application/vnd.ms-excel.sheet.macroEnabled.12"
	case "zip":
		return "application/zip"
	case "exe", "dll":
		return "application/x-msdownload"
	case "png":
		return "image/png"
	case "jpg":
		return "image/jpeg"
	case "html":
		return "text/html"
	}
	return "application/octet-stream"
}

const eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

var (
	accounts   = []string{"CUSA12A345", "CUK98Z765", "CDE11B222"}
	localParts = []string{"john.doe", "jane.doe", "admin", "j.smith", "newsletter", "billing", "no-reply", "m.müller", "ceo", "helpdesk", "o'brien", "support+tickets"}
	domains    = []string{"example.com", "example.org", "example.net", "corp.example", "acme.example", "mail.example.co.uk", "xn--bcher-kva.example"}
	ipPrefixes = []string{"192.0.2.", "198.51.100.", "203.0.113.", "40.107.22.", "10.20.30."}
	hostnames  = []string{"mail-111111111.inbound.protection.outlook.com", "aspmx.l.google.com", "mx01.corp.example", "smtp.example.net"}
	subjects   = []string{
		"Redacted",
		"Quarterly report Q3",
		`Invoice #4711 "URGENT" please pay`,
		`Path C:\Users\bob\Documents\report.docx`,
		"[EXT] Re: meeting ] agenda [draft]",
		"Grüße aus München – 日本語の件名",
		"Ünïcödé résumé ✓ 📎 attached",
		"Line one\nLine two\twith tab",
		"Your mailbox is full!!! Verify now",
		"RE: FW: contract {\"id\": 42}",
		"Payment advice / Zahlungsavis 2026-11",
		"¿Dónde está el informe? Ça va — ok",
		"Password reset requested <no-reply>",
		"so-called \"TPS REPORTS\" we need to fill",
		"Weekly digest: 12 new posts",
		`Backslash at end \`,
	}
	fileNames = []string{"tpsreport.docx", "tps_report.pdf", "invoice_4711.xlsm", "image001.png", "~WRD0601.jpg", "setup.exe", "payload.dll", "archive.zip", "Rechnung Müller.pdf", "statement.html"}
	viruses   = []string{"Eicar-Test-Signature", "Win.Trojan.Agent-123456", "Doc.Downloader.Emotet-9876", "bad.virus.found", "Html.Phishing.Bank-42"}
	urls      = []string{
		"http://www.example.com",
		"http://www.example.com/",
		"https://login.example.net/secure/verify.php?user=jane&token=abc123",
		"https://example.org/pages/billing.php?id=1&ref=mail#top",
		"https://xn--pple-43d.example/account",
		"https://cdn.example.com/files/invoice%20Nov.zip",
		"https://docs.example.com/d/1AbC_dEf/edit?usp=sharing",
	}
	analyses = []string{
		`{"CredentialTheftEvidence":["The website uses an unencrypted connection"],"CredentialTheftTags":["NO_CERTIFICATE","NO_IMAGES_PASSED_FILTERING","REDIRECTION","REMOTE_RESOURCES"]}`,
		`{"Status":["CustomerAll","VerdictAllow"],"CredentialTheftEvidence":["The website uses a valid certificate"],"CredentialTheftTags":["BRAND_FOUND_IN_URL","VALID_CERTIFICATE"]}`,
	}
	spamDetails = []string{
		`{"spf":{"allow":true,"info":"ALLOW"},"dkim":{"allow":true,"info":"ALLOW"},"dmarc":{"allow":true,"info":"ALLOW"}}`,
		`{"rbl":{"allow":true,"info":""},"greyEmail":true,"permittedSender":{"allow":true,"info":"NONE"},"managedSender":{"allow":true,"info":"UNKNOWN"}}`,
		`{"rbl":{"allow":false,"info":"sip.invaluement.mimecast.org Blocked by ivmSIP"},"spf":{"allow":false,"info":"FAIL"}}`,
		`{"rbl":{"allow":true,"info":""},"greyEmail":false,"verdict":{"categories":[{"name":"SPAM","score":12.08,"risk":"HIGH","subcategories":[{"name":"HEURISTIC","score":2.0,"risk":"NEGLIGIBLE","augmentations":[]}]}],"decision":"SPAM","description":"","risk":"HIGH"}}`,
	}
	internalFindings = [][2]string{
		{"Dangerous file extension", "Restricted File Type - Found executable extension: dll"},
		{"Phishing & Fraud", "Malicious URL found: https://login.example.net/secure/verify.php"},
		{"Malware", "Virus signature found: Eicar-Test-Signature"},
	}
	rejections = []struct {
		typ, code, info string
		virus           bool
	}{
		{"IP Found in RBL", "550", "sip.invaluement.mimecast.org Blocked by ivmSIP and/or ivmSIP/24 - see https://www.invaluement.com/lookup/?item=203.0.113.9.", false},
		{"Malicious QRCode Detection", "554", "[Type: [Phishing & Fraud],Url: [https://example.com/pages/billing.php],UrlBlock: [ORIGINAL:https://example.com/pages/billin]", false},
		{"Virus Signature Detected", "554", "Message contains a virus: Eicar-Test-Signature", true},
		{"Envelope Rejected", "550", "Recipient address rejected: User unknown in virtual mailbox table", false},
		{"Spam Signature", "554", "Message rejected as spam by Content Filtering", false},
	}
)
