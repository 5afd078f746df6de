package logs

// ArchiveSearch is POST /api/archive/get-archive-search-logs: searches of
// the archive (who searched what, and why). No oldestFirst. Retention not
// documented: 30 days assumed.
var ArchiveSearch = Endpoint{
	Stream:      "archive-search",
	Path:        "/api/archive/get-archive-search-logs",
	Metric:      "archive_search_logs",
	Records:     "logs",
	TimeField:   "createTime",
	FromField:   "start",
	ToField:     "end",
	Permission:  "Archive | Search Logs | Read",
	MaxLookback: 30 * day,
}
