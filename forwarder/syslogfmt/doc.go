// Package syslogfmt turns a source.Record into one RFC 5424 syslog message,
// without framing (the transport adds the LF or the octet count):
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
//	<132>1 2026-11-28T16:10:00.123Z myhost mimecast - url-protect [origin software="mimecast-forwarder" swVersion="1.2.0"] {"mimecast":{"logType":"url protect",...}}
//
// The parts:
//
//   - PRI = facility*8 + severity; facility from Config (default local0),
//     severity from Severity (table below).
//   - TIMESTAMP: the record's time in UTC, truncated to milliseconds, always
//     3 fraction digits and "Z". The fraction keeps Wazuh's
//     checkpoint-smart1 decoder from capturing the line. A zero time, or one
//     outside years 0001–9999, is replaced by the time of formatting
//     (Config.Now).
//   - HOSTNAME, APP-NAME, PROCID from Config, validated at New with
//     go-syslog's RFC 5424 builder. MSGID = MsgID(record.Type).
//   - SD: [origin software="mimecast-forwarder" swVersion="<version>"]
//     (IANA-registered SD-ID, RFC 5424 §7.2), or "-" when disabled.
//   - MSG, body mode json (default): {"mimecast":{"logType":"<type>",<the
//     inner bytes of record.JSON>}}, the original fields byte for byte
//     ({"mimecast":{"logType":"<type>"}} for {}). Never a duplicate
//     logType: when the record JSON has its own top-level "logType" member
//     (spelled without \u escapes, as every source writes it), the
//     formatter's logType (the record's type, which
//     the Wazuh decoders and rules read) wins and the event's member is
//     kept, in place with its value unchanged, renamed "originalLogType"
//     ("originalLogType2", "originalLogType3", … when that name is taken or
//     the event has several). The type is written valid UTF-8 (a byte of
//     invalid UTF-8 becomes \ufffd); the record JSON is valid UTF-8 already
//     (jsonl.Normalize). Body mode raw:
//     record.Raw (the API 1.0 key_value line) without a leading UTF-8 BOM;
//     records without Raw use json.
//   - No LF, CR or NUL is ever sent: any that appears in MSG (raw mode, or
//     whitespace of a non-compact JSON) is replaced by one space, which
//     keeps JSON valid and key_value lines readable and keeps the length.
//     No BOM is ever sent.
//
// # Severity
//
// Decided from the record's Type and top-level fields (of its JSON, or of
// Record.Fields when the source gives them: API 2.0 lists the members it
// located while compacting the JSON, so the JSON is not walked again; API
// 1.0 key_value with SYSLOG_BODY=raw sends no JSON, only its pairs;
// case-sensitive names; API 2.0 / API 1.0 spelling;
// values compared ASCII case-insensitively; "present" means not absent,
// null, "", "null" or "-"):
//
//	Type                    Condition                                                         Severity
//	av                      virusFound / Virus present                                        warning (4)
//	av                      otherwise                                                         notice (5)
//	url protect             action / Action is Block or Blocked, or blockReason / reason is
//	                        malicious, or urlCategory is Blocked (API 1.0)                    warning (4)
//	url protect             otherwise (e.g. an allowed click)                                 informational (6)
//	attachment protect      result / Result is safe or clean                                  informational (6)
//	attachment protect      otherwise (these logs report malicious / sandbox-failed files)    warning (4)
//	impersonation protect   taggedMalicious / TaggedMalicious is true                         warning (4)
//	impersonation protect   otherwise (a policy hit, e.g. action Hold)                        notice (5)
//	internal email protect  urlCategory / UrlCategory, scanResults / ScanResultInfo or
//	                        virusFound / Virus present                                        warning (4)
//	internal email protect  otherwise                                                         notice (5)
//	receipt                 rejectionType / RejType contains "virus" or "malicious"           warning (4)
//	receipt                 action / Act is Rej, or spamProcessingDetail / SpamProcessingDetail
//	                        holds the verdict "decision":"SPAM" (spam detection)              notice (5)
//	receipt                 otherwise                                                         informational (6)
//	process                 action / Act is Hld or Hold                                       notice (5)
//	process                 otherwise                                                         informational (6)
//	delivery                delivered / Delivered is false, or rejectionType / RejType present notice (5)
//	delivery                otherwise                                                         informational (6)
//	spam                    always (spam detection)                                           notice (5)
//	journal, anything else  always                                                            informational (6)
//
// # Size limit
//
// A message longer than Config.MaxMessageBytes is shrunk and Append reports
// shrunk == true:
//
//  1. json mode: the longest JSON string values inside the mimecast object
//     (values at any depth, never keys, never logType) are shortened, all to
//     the same largest length L that makes the message fit (found by binary
//     search), each at a UTF-8 boundary and never inside an escape sequence
//     (nor after a lone UTF-16 high surrogate), followed by the marker
//     "…[truncated N bytes]" (N = bytes of the JSON-escaped value removed).
//     A value is only cut when that makes it shorter. The result is valid
//     JSON with every key present.
//  2. json fallback, when shortening strings cannot suffice (e.g. 10 000
//     numeric fields, huge keys): the body below, the "head" filled with as
//     much of record.JSON (as a JSON string, cut at a character boundary) as
//     fits. The event is never dropped; the original fields are no longer
//     keys. New refuses a MaxMessageBytes too small for this body.
//  3. raw mode: the line is cut at a UTF-8 boundary and the marker appended.
//
// The fallback body:
//
//	{"mimecast":{"logType":"<type, first 64 bytes>","truncated":true,"originalBytes":<len(record.JSON)>,"head":"<escaped start of record.JSON>…[truncated N bytes]"}}
package syslogfmt
