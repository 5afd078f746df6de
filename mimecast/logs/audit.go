package logs

// Audit is POST /api/audit/get-audit-events: the administration audit trail
// (logons, failed authentications, policy and configuration changes,
// exports). Records are data[] itself, newest first; no oldestFirst.
// Mimecast: "Historical lookup is restricted to last 60 days."
var Audit = Endpoint{
	Stream:      "audit",
	Path:        "/api/audit/get-audit-events",
	Metric:      "audit_events",
	TimeField:   "eventTime",
	FromField:   "startDateTime",
	ToField:     "endDateTime",
	Permission:  "Account | Logs | Read",
	MaxLookback: 60 * day,
}
