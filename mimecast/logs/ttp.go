package logs

// TTPURL is POST /api/ttp/url/get-logs: URL Protect clicks (date is the
// click time). The retention is not documented; Sentinel reads 60 days back.
var TTPURL = Endpoint{
	Stream:      "ttp-url",
	Path:        "/api/ttp/url/get-logs",
	Metric:      "ttp_url_logs",
	Records:     "clickLogs",
	TimeField:   "date",
	FromField:   "from",
	ToField:     "to",
	OldestFirst: true,
	Permission:  "Monitoring | URL Protection | Read",
	MaxLookback: 60 * day,
}

// TTPAttachment is POST /api/ttp/attachment/get-logs: Attachment Protect
// sandbox results (date is the release from the sandbox).
var TTPAttachment = Endpoint{
	Stream:      "ttp-attachment",
	Path:        "/api/ttp/attachment/get-logs",
	Metric:      "ttp_attachment_logs",
	Records:     "attachmentLogs",
	TimeField:   "date",
	FromField:   "from",
	ToField:     "to",
	OldestFirst: true,
	Permission:  "Monitoring | Attachment Protection | Read",
	MaxLookback: 60 * day,
}

// TTPImpersonation is POST /api/ttp/impersonation/get-logs: Impersonation
// Protect hits.
var TTPImpersonation = Endpoint{
	Stream:      "ttp-impersonation",
	Path:        "/api/ttp/impersonation/get-logs",
	Metric:      "ttp_impersonation_logs",
	Records:     "impersonationLogs",
	TimeField:   "eventTime",
	FromField:   "from",
	ToField:     "to",
	OldestFirst: true,
	Permission:  "Monitoring | Impersonation Protection | Read",
	MaxLookback: 60 * day,
}
