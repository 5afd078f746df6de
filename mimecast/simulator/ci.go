package simulator

// Cloud Integrated (GET /siem/v1/batch/events/ci): the same batch
// mechanism as Cloud Gateway, for the types entities, mailflow and
// urlclick, with events shaped on the real samples (recipients is an
// array, direction INBOUND or Inbound, policiesApplied[], authResults[]).

var ciTypes = []string{"entities", "mailflow", "urlclick"}

// CITypes returns the Cloud Integrated batch types.
func CITypes() []string { return append([]string(nil), ciTypes...) }

func isCIType(t string) bool {
	for _, c := range ciTypes {
		if c == t {
			return true
		}
	}
	return false
}

// appendCIFields writes the fields of a Cloud Integrated event.
func (s *Simulator) appendCIFields(e *ev, typ string, setSub func(string)) {
	r := &e.r
	e.str("source", "OFFICE_365_MAIL")
	e.str("direction", r.pick([]string{"INBOUND", "INBOUND", "Inbound", "OUTBOUND"}))
	e.email("senderHeader")
	e.str("senderEnvelope", "")
	e.ip("senderIp")
	e.messageID("messageId")
	e.subject("subject")
	e.key("recipients")
	e.b = append(e.b, '[', '"')
	e.b = appendEmail(e.b, r)
	e.b = append(e.b, '"', ']')
	switch typ {
	case "entities":
		threat := r.pick([]string{"NO_DETECTIONS", "NO_DETECTIONS", "NO_DETECTIONS", "PHISHING", "MALWARE", "IMPERSONATION"})
		setSub(threat)
		e.str("threatType", threat)
		state := "DELIVERY_IN_PROGRESS"
		if threat != "NO_DETECTIONS" {
			state = r.pick([]string{"REMEDIATED", "QUARANTINED"})
		}
		e.str("threatState", state)
		e.raw("attachments", `[]`)
		e.raw("policiesApplied", `[{"action":"DO_NOTHING","mode":"ACTIVE","name":"Default O365 Mail policy"}]`)
		e.raw("tags", "null")
		e.raw("historicalMail", "false")
	case "mailflow":
		setSub("DELIVERY")
		e.raw("authResults", `[{"type":"SPF","result":"PASS","aligned":true},{"type":"DKIM","result":"PASS","aligned":true},{"type":"DMARC","result":"PASS","aligned":true}]`)
	case "urlclick":
		setSub("BLOCKED")
		e.str("url", "https://login-example.net/verify")
		e.str("action", "BLOCK")
		e.str("urlCategory", r.pick([]string{"PHISHING", "MALWARE"}))
	}
}
