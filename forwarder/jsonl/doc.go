// Package jsonl holds the generic JSON-lines helpers that the log sources
// (mimecast/api1, mimecast/api2) and the formatter (forwarder/syslogfmt)
// share, so that neither imports the other nor the mimecast root:
//
//   - splitting a stream into lines in bounded memory: Scanner
//     (NewScanner, NewBudgetScanner) and ScanLines return lines of any
//     length up to a limit, reading through longer ones without holding
//     them; LineBudget is the memory for lines longer than 1 MiB, shared
//     by every stream of the process, which wait for it (LineClaim,
//     DefaultLineBudget, DefaultMaxLine);
//   - checking and compacting one JSON object: Normalize (validate and
//     compact, invalid UTF-8 in strings replaced by \ufffd; a hand-written
//     one-pass checker fuzzed against encoding/json, with a fast path for
//     the compact objects Mimecast sends), NormalizeTime,
//     NormalizeInfo and NormalizeMembers (the same in one pass with the
//     event's time, the count of replaced bytes and, for
//     NormalizeMembers and Scanner.Normalize, where each top-level member
//     lies in the output, so that nobody walks it again: the hot path),
//     EventTime (an event's own time from its top-level "timestamp" or
//     "datetime" key) and ParseDateTime (ISO 8601 date-times as Mimecast
//     API 1.0 writes them);
//   - skipping JSON values without decoding them: SkipString and
//     SkipValue, which the formatter's field scans use.
//
// It imports nothing of the project but metrics.
package jsonl
