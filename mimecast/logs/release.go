package logs

// HeldRelease is POST /api/gateway/get-held-release-logs: held messages
// released, rejected or expired, with the operator who did it. Mimecast's
// default start is one month back; records without "released" exist (they
// are forwarded with no time). No oldestFirst.
var HeldRelease = Endpoint{
	Stream:      "held-release",
	Path:        "/api/gateway/get-held-release-logs",
	Metric:      "held_release_logs",
	Records:     "heldReleaseLogs",
	TimeField:   "released",
	FromField:   "start",
	ToField:     "end",
	Permission:  "Monitoring | Held | Read",
	MaxLookback: 30 * day,
}
