package logs

// DLP is POST /api/dlp/get-logs: messages that triggered a Data Leak
// Prevention / Content Examination policy, one record per policy action.
// The retention is not documented; Sentinel reads 60 days back.
var DLP = Endpoint{
	Stream:      "dlp",
	Path:        "/api/dlp/get-logs",
	Metric:      "dlp_logs",
	Records:     "dlpLogs",
	TimeField:   "eventTime",
	FromField:   "from",
	ToField:     "to",
	OldestFirst: true,
	Permission:  "Monitoring | Data Leak Prevention | Read",
	MaxLookback: 60 * day,
}
