#!/usr/bin/env python3
"""Regenerates tests/*.ini from the real samples in <repo>/mimecast/mimecasttest/testdata.

Usage: python3 examples/wazuh/tests/generate_tests.py
Lines are built like the forwarder builds them (see forwarder/syslogfmt):
RFC 5424 header without <PRI>, then {"mimecast":{"logType":"<type>",<compact sample>}}
(or the key_value line for SYSLOG_BODY=raw). static_test.go checks that every
unmodified sample line here is byte-identical to the formatter's output;
runtests.py (and TestRuntests on a real manager) runs them.
"""
import json, datetime, os

HERE = os.path.dirname(os.path.abspath(__file__))
S = os.path.normpath(os.path.join(HERE, '..', '..', '..', 'mimecast', 'mimecasttest', 'testdata')) + os.sep
HOST = 'mail-gw01'
SD = '[origin software="mimecast-forwarder" swVersion="0.1.0"]'

def compact(text):
    # like Go's json.Compact: drop insignificant whitespace, keep every byte of strings/numbers
    out, ins, esc = [], False, False
    for c in text:
        if ins:
            out.append(c)
            if esc: esc = False
            elif c == '\\': esc = True
            elif c == '"': ins = False
        elif c == '"':
            ins = True; out.append(c)
        elif c in ' \t\r\n':
            continue
        else:
            out.append(c)
    return ''.join(out)

def v2time(obj):
    return datetime.datetime.fromtimestamp(obj['timestamp'] / 1000, datetime.timezone.utc)
def v1time(obj):
    return datetime.datetime.strptime(obj['datetime'], '%Y-%m-%dT%H:%M:%S%z').astimezone(datetime.timezone.utc)
def ts(t):
    return t.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (t.microsecond // 1000)

def line(typ, cjson, t):
    inner = cjson[1:-1]
    body = '{"mimecast":{"logType":"%s"%s}}' % (typ, (',' + inner) if inner else '')
    return '1 %s %s mimecast - %s %s %s' % (ts(t), HOST, typ.replace(' ', '-'), SD, body)
def rawline(typ, kv, t):
    return '1 %s %s mimecast - %s %s %s' % (ts(t), HOST, typ.replace(' ', '-'), SD, kv)

v2 = [l.rstrip('\n') for l in open(S + 'v2-cg/sekoia-intake-formats.ndjson')]
v1 = [l.rstrip('\n') for l in open(S + 'v1-json/elastic-integrations_test-siem-docs-logs.ndjson')]
dem = json.load(open(S + 'v1-json/demisto-content_siem_response_multiple_events.json'))['data']
kvline = open(S + 'v1-key_value/mimecast-docs-example.log').read().strip('\n')

def V2(n, **mod):
    """line n (1-based) of the v2 sample; mod changes fields (None deletes)."""
    text = v2[n - 1]
    obj = json.loads(text)
    typ = obj.get('type') or obj.get('eventType')
    if not mod:
        return line(typ, compact(text), v2time(obj))
    for k, v in mod.items():
        if v is None: obj.pop(k, None)
        else: obj[k] = v
    return line(typ, json.dumps(obj, separators=(',', ':'), ensure_ascii=False), v2time(obj))

V1TYPES = ['receipt', 'process', 'process', 'process', 'delivery', 'av', 'spam', 'internal email protect',
           'impersonation protect', 'url protect', 'attachment protect']
def v1obj(n, mod):
    obj = json.loads(v1[n - 1])
    for k, v in mod.items():
        if v is None: obj.pop(k, None)
        else: obj[k] = v
    return obj
def V1(n, **mod):
    typ = V1TYPES[n - 1]
    if not mod:
        return line(typ, compact(v1[n - 1]), v1time(json.loads(v1[n - 1])))
    obj = v1obj(n, mod)
    return line(typ, json.dumps(obj, separators=(',', ':'), ensure_ascii=False), v1time(obj))
WRAP = {'Subject', 'RejType', 'RejInfo', 'Err', 'Error'}
def RAW(n, **mod):
    """API 1.0 event n rendered as a key_value line (datetime first, free text backslash-wrapped), SYSLOG_BODY=raw."""
    obj = v1obj(n, mod)
    parts = ['datetime=' + obj['datetime']]
    for k, v in obj.items():
        if k == 'datetime': continue
        if isinstance(v, bool): v = 'true' if v else 'false'
        elif isinstance(v, (dict, list)): v = json.dumps(v, separators=(',', ':'))
        else: v = str(v)
        if k in WRAP: v = '\\' + v + '\\'
        parts.append('%s=%s' % (k, v))
    return rawline(V1TYPES[n - 1], '|'.join(parts), v1time(obj))
def DEM(i):
    o = dem[i]
    return line('receipt', json.dumps(o, separators=(',', ':')), v1time(o))
def KV(kv=None):
    kv = kv or kvline
    t = datetime.datetime.strptime('2017-05-26T16:47:41+0100', '%Y-%m-%dT%H:%M:%S%z').astimezone(datetime.timezone.utc)
    return rawline('receipt', kv, t)

files = {}
def section(fname, title, rule, level, passes, fails=(), note=None, multi=False):
    s = ''
    if note: s += '; ' + note + '\n'
    s += '[%s]\n' % title
    n = 1
    if multi:  # one logtest session: repeated key = lines of one run (correlation)
        for l in passes: s += 'log %d pass = %s\n' % (n, l)
        n += 1
        if fails:
            for l in fails: s += 'log %d fail = %s\n' % (n, l)
    else:
        for l in passes:
            s += 'log %d pass = %s\n' % (n, l); n += 1
        for l in fails:
            s += 'log %d fail = %s\n' % (n, l); n += 1
    s += 'rule = %d\nalert = %d\ndecoder = mimecast\n\n' % (rule, level)
    files.setdefault(fname, []).append(s)

RBL = 14; QR = 16; ACC = 13
# ---- base ----
section('mimecast_base', 'mimecast: base rule, event without alert', 106000, 0,
        [V2(8), V2(ACC), V2(15), V2(18), V2(19), V2(20), V2(4), V2(5), DEM(0), DEM(1), DEM(2), V1(1), V1(2), V1(3), V1(5), KV()],
        [V2(8).replace(' mimecast - ', ' mimecastx - ', 1), V2(8).replace('T', ' ', 1)],
        note='Real samples that must decode (decoder mimecast) and stay silent at level 0: journal, accepted receipts (v2, v1 json, v1 key_value raw body), delivered messages, accepted process. The fail lines have another APP-NAME or a timestamp that is not RFC 3339.')
section('mimecast_base', 'mimecast: base rule, structured data variants', 106000, 0,
        [V2(8).replace(SD, '-'), V2(8).replace(SD, '[origin software="mimecast-forwarder" swVersion="0.1.0"][x@32473 a="b\\]c" d="e]f"]'),
         V2(8).replace(' mimecast - ', ' mimecast 4242 ', 1), KV().replace(SD, '-')],
        note='Derived from the journal sample and the key_value sample: SD "-", several SD elements with escaped and unescaped "]" inside quoted values, numeric PROCID.')
ASA = '%ASA-4-106023: Deny tcp src outside:1.2.3.4/1 dst inside:5.6.7.8/2 by access-group "x"'
FGT = 'date=2024-05-14 time=15:14:57 devname="FGT60E" devid="FGT60E0000000000" logid="0000000013" type="traffic" subtype="forward"'
section('mimecast_base', 'mimecast: text that default decoders and rules look for stays ours', 106000, 0,
        [V2(8, subject=ASA), V2(8, subject=FGT), V2(8, subject='{"integration":"ms-graph","x":1}'),
         V2(8, subject='<log>core_dumped failure error attack denied refused unauthorized fatal failed</log>'),
         V2(8, subtype='system'), V2(8, subtype='dns'), V1(1, Subject=ASA), RAW(1, Subject=ASA)],
        note='Derived from the journal and API 1.0 receipt samples: attacker-chosen text (a Subject) holding what '
             'unanchored default decoders match (cisco-asa "%ASA-", fortigate "date= ... devname=", json-msgraph), '
             'the words of default rule 1002, and subtype values that fortimail rules 44698/44691 take. On a real '
             '4.7.4 manager "%ASA-" made cisco-asa decode the event when the decoder file sorted after '
             '0065-cisco-asa_decoders.xml; the file is named 0000-mimecast_decoders.xml so that ours is tried first.')
# ---- receipt ----
def v1rej(**extra):
    m = dict(Act='Rej', RejType='IP Found in RBL', RejCode='550', RejInfo='Blocked by ivmSIP - see https://www.invaluement.com/lookup/')
    m.update(extra); return m
section('mimecast_receipt', 'mimecast: API 2.0 receipt rejected', 106001, 3, [V2(RBL)], [V2(ACC), V2(15)])
section('mimecast_receipt', 'mimecast: API 1.0 receipt rejected', 106002, 3, [V1(1, **v1rej()), RAW(1, **v1rej())], [V1(1), DEM(0)],
        note='Derived from the API 1.0 receipt sample (elastic line 1): Act=Rej and RejType/RejCode/RejInfo added (no real API 1.0 rejection sample exists); also as a key_value raw line.')
section('mimecast_receipt', 'mimecast: API 2.0 burst of rejections from one IP', 106003, 10, [V2(RBL)] * 10, [V2(RBL)] * 9, multi=True,
        note='Correlation: 10 rejections from senderIp 1.2.3.4 in one wazuh-logtest session (repeated "log 1 pass" keys form one run); 9 do not fire.')
section('mimecast_receipt', 'mimecast: API 1.0 burst of rejections from one IP', 106004, 10, [V1(1, **v1rej())] * 10, [V1(1, **v1rej())] * 9, multi=True)
section('mimecast_receipt', 'mimecast: API 2.0 receipt rejected for malicious content', 106005, 8, [V2(QR)], [V2(RBL)])
section('mimecast_receipt', 'mimecast: API 1.0 receipt rejected for malicious content', 106006, 8,
        [V1(1, **v1rej(RejType='Malicious QRCode Detection', RejCode='554')), RAW(1, **v1rej(RejType='Malicious QRCode Detection', RejCode='554'))],
        [V1(1, **v1rej())], note='Derived from elastic line 1 with the rejection type of the real API 2.0 QR-code rejection.')
# ---- process / delivery ----
section('mimecast_process_delivery', 'mimecast: API 2.0 message held for review', 106010, 5, [V2(9)], [V2(10), V2(11), V2(12)])
section('mimecast_process_delivery', 'mimecast: API 1.0 message held for review', 106011, 5, [V1(4), RAW(4)], [V1(2), V1(3)])
section('mimecast_process_delivery', 'mimecast: API 2.0 delivery failed', 106012, 4,
        [V2(4, delivered='false', deliveryErrors='Connection refused (5.6.7.8)')], [V2(4), V2(5)],
        note='Derived from the delivery sample (test_delivery.json): delivered=false with a deliveryErrors text.')
section('mimecast_process_delivery', 'mimecast: API 1.0 delivery failed', 106013, 4,
        [V1(5, Delivered=False, ReceiptAck='421 4.4.2 Connection dropped'), RAW(5, Delivered=False, ReceiptAck='421 4.4.2 Connection dropped')], [V1(5)],
        note='Derived from the API 1.0 delivery sample: Delivered=false.')
# ---- av ----
section('mimecast_av', 'mimecast: API 2.0 antivirus detection', 106020, 12, [V2(3)], [V2(RBL), V2(3, virusFound=None)])
section('mimecast_av', 'mimecast: API 1.0 antivirus detection', 106021, 12, [V1(6), RAW(6)], [V1(6, Virus=None)])
section('mimecast_av', 'mimecast: API 2.0 repeated malware from one sender to one recipient', 106022, 13, [V2(3)] * 3, [V2(3)] * 2, multi=True)
section('mimecast_av', 'mimecast: API 1.0 repeated malware from one sender to one recipient', 106023, 13, [V1(6)] * 3, [V1(6)] * 2, multi=True)
rc = ['user%d@example.com' % i for i in range(1, 11)]
section('mimecast_av', 'mimecast: API 2.0 malware from one sender to many recipients', 106024, 14,
        [V2(3, recipients=r) for r in rc[:5]], [V2(3, recipients=r) for r in rc[:4]], multi=True,
        note='Derived from the av sample (test_av_logs.json) with 5 different recipients.')
section('mimecast_av', 'mimecast: API 1.0 malware from one sender to many recipients', 106025, 14,
        [V1(6, Recipient=r) for r in rc[:5]], [V1(6, Recipient=r) for r in rc[:4]], multi=True)
# ---- url / iep ----
section('mimecast_url', 'mimecast: API 2.0 blocked URL click', 106030, 10, [V2(21), V2(22), V2(23)], [V2(21, action='Allow', subtype='Allow')])
section('mimecast_url', 'mimecast: API 1.0 blocked URL click', 106031, 10, [V1(10), RAW(10)], [V1(10, reason='clean')])
section('mimecast_url', 'mimecast: API 2.0 several users clicked one blocked URL', 106032, 12,
        [V2(21, recipients=r) for r in rc[:3]], [V2(21)] * 3, multi=True,
        note='Derived from test_url_category_01.json with 3 recipients; the fail run is the same user 3 times.')
section('mimecast_url', 'mimecast: API 1.0 several users clicked one blocked URL', 106033, 12,
        [V1(10, recipient=r) for r in rc[:3]], [V1(10)] * 3, multi=True)
section('mimecast_url', 'mimecast: API 2.0 internal email protect detection', 106034, 8, [V2(7)], [V2(7, scanResults=None)])
section('mimecast_url', 'mimecast: API 1.0 internal email protect detection', 106035, 8, [V1(8), RAW(8)], [V1(8, ScanResultInfo=None)])
# ---- impersonation ----
v1clean = dict(TaggedMalicious='false')
section('mimecast_impersonation', 'mimecast: API 2.0 impersonation protect hit', 106040, 8, [V2(6)], [V1(9)])
section('mimecast_impersonation', 'mimecast: API 1.0 impersonation protect hit', 106041, 8, [V1(9, **v1clean), RAW(9, **v1clean)], [V2(6)],
        note='Derived from the API 1.0 impersonation sample with TaggedMalicious=false (the real one is tagged malicious, see 106043).')
section('mimecast_impersonation', 'mimecast: API 2.0 impersonation tagged malicious', 106042, 12, [V2(6, taggedMalicious='true')], [V2(6)])
section('mimecast_impersonation', 'mimecast: API 1.0 impersonation tagged malicious', 106043, 12, [V1(9), RAW(9)], [V1(9, **v1clean)])
for (r2, r1, f) in [(106044, 106045, 'ReplyMismatch'), (106046, 106047, 'NewDomain'), (106048, 106049, 'SimilarInternalDomain'),
                    (106050, 106051, 'SimilarCustomExternalDomain'), (106052, 106053, 'SimilarMimecastExternalDomain')]:
    f2 = f[0].lower() + f[1:]
    section('mimecast_impersonation', 'mimecast: API 2.0 impersonation %s' % f2, r2, 10, [V2(6, **{f2: 'true'})], [V2(6)],
            note='Derived from test_impersonation_protect.json with %s=true.' % f2)
    m = dict(v1clean); m[f] = 'true'
    section('mimecast_impersonation', 'mimecast: API 1.0 impersonation %s' % f, r1, 10, [V1(9, **m), RAW(9, **m)], [V1(9, **v1clean)],
            note='Derived from the API 1.0 impersonation sample with %s=true and TaggedMalicious=false.' % f)
# ---- attachment protect ----
section('mimecast_attachment', 'mimecast: API 2.0 malicious attachment', 106060, 10, [V2(1), V2(2)], [V1(11)])
section('mimecast_attachment', 'mimecast: API 1.0 malicious attachment', 106061, 10, [V1(11), RAW(11)], [V2(2)])
sha = ['%064x' % (0xabc0 + i) for i in range(3)]
ips = ['192.0.2.%d' % i for i in range(1, 4)]
snd = ['sender%d@example%d.net' % (i, i) for i in range(1, 4)]
dom = ['example%d.net' % i for i in range(1, 4)]
def ap2(i, keep):
    m = dict(recipient=rc[i])
    if 'sha' not in keep: m['sha256'] = sha[i]
    if 'snd' not in keep: m['senderEnvelope'] = snd[i]
    if 'ip' not in keep: m['senderIp'] = ips[i]
    if 'dom' not in keep: m['senderDomain'] = dom[i]
    return V2(2, **m)
def ap1(i, keep):
    m = dict(Recipient=rc[i])
    if 'sha' not in keep: m['sha256'] = sha[i]
    if 'snd' not in keep: m['Sender'] = snd[i]
    if 'ip' not in keep: m['IP'] = ips[i]
    if 'dom' not in keep: m['SenderDomain'] = dom[i]
    return V1(11, **m)
for (r2, r1, keep, what) in [(106062, 106063, ('sha', 'snd', 'ip', 'dom'), 'same file'), (106064, 106065, ('snd', 'ip', 'dom'), 'same sender'),
                             (106066, 106067, ('ip',), 'same source IP'), (106068, 106069, ('dom',), 'same sender domain')]:
    section('mimecast_attachment', 'mimecast: API 2.0 attachment protect, %s across recipients' % what, r2, {106062: 14, 106064: 13, 106066: 12, 106068: 11}[r2],
            [ap2(i, keep) for i in range(3)], [ap2(i, keep) for i in range(2)], multi=True,
            note='Derived from test_attachment_protect_2.json: 3 recipients; sha256, sender, sender IP and sender domain varied except the %s.' % what)
    section('mimecast_attachment', 'mimecast: API 1.0 attachment protect, %s across recipients' % what, r1, {106063: 14, 106065: 13, 106067: 12, 106069: 11}[r1],
            [ap1(i, keep) for i in range(3)], [ap1(i, keep) for i in range(2)], multi=True,
            note='Derived from the API 1.0 attachment protect sample (elastic line 11) the same way.')
# ---- spam ----
section('mimecast_spam', 'mimecast: API 2.0 spam detection', 106080, 5, [V2(17)], [V1(7)])
section('mimecast_spam', 'mimecast: API 1.0 spam detection', 106081, 5, [V1(7), RAW(7)], [V2(17)])
section('mimecast_spam', 'mimecast: API 2.0 spam campaign, one sender many recipients', 106082, 8,
        [V2(17, recipients=r) for r in rc], [V2(17, recipients=r) for r in rc[:9]], multi=True,
        note='Derived from test_spam.json with 10 recipients.')
section('mimecast_spam', 'mimecast: API 1.0 spam campaign, one sender many recipients', 106083, 8,
        [V1(7, Recipient=r) for r in rc], [V1(7, Recipient=r) for r in rc[:9]], multi=True)

# ---- logs beyond the SIEM feed (audit, dlp, ttp-*, held-release, archive-search) ----
def eraw(name):
    return [l.rstrip('\n') for l in open(S + 'endpoints/' + name) if l.strip()]
def eload(name):
    return [json.loads(l) for l in eraw(name)]
def etime(v):
    v = v.replace('Z', '+0000')
    if len(v) > 6 and v[-3] == ':' and v[-6] in '+-':
        v = v[:-3] + v[-2:]
    return datetime.datetime.strptime(v, '%Y-%m-%dT%H:%M:%S%z').astimezone(datetime.timezone.utc)
ENDPOINTS = {'audit': ('audit_events.ndjson', 'eventTime'), 'dlp': ('dlp_logs.ndjson', 'eventTime'),
             'ttp-url': ('ttp_url_logs.ndjson', 'date'), 'ttp-attachment': ('ttp_ap_logs.ndjson', 'date'),
             'ttp-impersonation': ('ttp_ip_logs.ndjson', 'eventTime'), 'held-release': ('message_release_logs.ndjson', 'released'),
             'archive-search': ('archive_search_logs.ndjson', 'createTime')}
def E(stream, n, **mod):
    """record n (1-based) of the stream's real sample, as the forwarder sends it; mod changes fields (None deletes)."""
    f, tf = ENDPOINTS[stream]
    text = eraw(f)[n - 1]
    obj = json.loads(text)
    t = etime(obj[tf])
    if not mod:  # byte for byte what the forwarder sends
        return line(stream, compact(text), t)
    for k, v in mod.items():
        if v is None: obj.pop(k, None)
        else: obj[k] = v
    return line(stream, json.dumps(obj, separators=(',', ':'), ensure_ascii=False), t)
def efind(stream, **want):
    f, _ = ENDPOINTS[stream]
    for i, o in enumerate(eload(f)):
        if all(str(o.get(k)) == str(v) for k, v in want.items()):
            return i + 1
    raise SystemExit('no %s sample with %r' % (stream, want))
AFAIL = efind('audit', auditType='Logon Authentication Failed')
AOK = efind('audit', auditType='User Logged On')
section('mimecast_logs', 'mimecast: stream events without alert', 106100, 0, [E('audit', AOK)], [E('dlp', 1)],
        note='Real audit sample: a successful logon stays at the audit base rule.')
section('mimecast_logs', 'mimecast: audit failed logon', 106101, 5, [E('audit', AFAIL)], [E('audit', AOK)])
section('mimecast_logs', 'mimecast: audit repeated failed logons', 106102, 10, [E('audit', AFAIL)] * 5, [E('audit', AFAIL)] * 4, multi=True,
        note='Correlation: 5 failed logons of the same user in one logtest session; 4 do not fire.')
section('mimecast_logs', 'mimecast: audit Mimecast Support login', 106103, 7, [E('audit', efind('audit', auditType='Mimecast Support Login'))], [E('audit', AOK)])
section('mimecast_logs', 'mimecast: audit API application change', 106104, 8,
        [E('audit', AOK, category='integrations_and_apis', auditType='API Application Created', eventInfo='Application: SIEM export, Client ID: 1234')],
        [E('audit', AOK, category='integrations_and_apis', auditType='Threat Intel Feed Download')],
        note='Derived from the real logon sample: category integrations_and_apis (seen in samples) with an application change.')
section('mimecast_logs', 'mimecast: audit role or policy change', 106105, 6,
        [E('audit', AOK, category='user_account_and_role_logs', auditType='Role Permissions Updated')], [E('audit', AOK)],
        note='Derived from the real logon sample: category user_account_and_role_logs (seen in samples).')
section('mimecast_logs', 'mimecast: audit export', 106106, 4, [E('audit', AOK, auditType='Message Export', category='archive_service_logs')], [E('audit', AOK)])
section('mimecast_logs', 'mimecast: audit mass export', 106107, 10, [E('audit', AOK, auditType='Message Export', category='archive_service_logs')] * 5,
        [E('audit', AOK, auditType='Message Export', category='archive_service_logs')] * 4, multi=True)
DHOLD = efind('dlp', action='hold')
section('mimecast_logs', 'mimecast: DLP hold or block', 106111, 7, [E('dlp', DHOLD), E('dlp', DHOLD, action='block')], [E('dlp', efind('dlp', action='notification'))],
        note='Real DLP samples: the hold record alerts, the notification record of the same message does not; block derived.')
UMAL = efind('ttp-url', scanResult='malicious')
UCLEAN = efind('ttp-url', scanResult='clean')
section('mimecast_logs', 'mimecast: URL Protect malicious click', 106121, 10, [E('ttp-url', UMAL)], [E('ttp-url', UCLEAN)],
        note='Real URL Protect samples: the malicious entry scan alerts, the clean clicks do not.')
section('mimecast_logs', 'mimecast: URL Protect user overrode the warning', 106122, 12,
        [E('ttp-url', UMAL, userOverride='Yes')], [E('ttp-url', UMAL), E('ttp-url', UCLEAN, userOverride='Yes')],
        note='Derived: userOverride set on the malicious sample; a clean click with an override stays silent.')
section('mimecast_logs', 'mimecast: URL Protect user continued past the warning', 106123, 12,
        [E('ttp-url', UMAL, userAwarenessAction='Continue')], [E('ttp-url', UMAL), E('ttp-url', UCLEAN)],
        note='Derived: the malicious sample with userAwarenessAction Continue; the real clean clicks with Continue stay silent.')
section('mimecast_logs', 'mimecast: Attachment Protect malicious file', 106131, 10, [E('ttp-attachment', 1, result='malicious')], [E('ttp-attachment', 1)],
        note='Derived: the real samples are all safe; result set to malicious.')
section('mimecast_logs', 'mimecast: Impersonation Protect tagged malicious', 106141, 10, [E('ttp-impersonation', 1)],
        [E('ttp-impersonation', 1, taggedMalicious=False)])
section('mimecast_logs', 'mimecast: held message released that was held as malicious', 106151, 10, [E('held-release', 1)] +
        [E('held-release', 1, operator={'emailAddress': 'admin@domain.tld'})],
        [E('held-release', 1, heldReason='Spam Detection'), E('held-release', 1, status='rejected')],
        note='Real held-release sample (held for impersonation, released by an operator) and the API 2.0 shape with operator as an object.')
ARCH = E('archive-search', 1)
section('mimecast_logs', 'mimecast: many archive searches by one admin', 106161, 8, [ARCH] * 10, [ARCH] * 9, multi=True,
        note='Correlation: 10 archive searches by the same emailAddr in one logtest session; 9 do not fire.')

hdr = ''';   Tests for the mimecast-forwarder Wazuh ruleset (wazuh/wazuh ruleset/testing format:
;   copy to ruleset/testing/tests/ and run runtests.py, which pipes each "log N"
;   value into wazuh-logtest -U rule:alert:decoder; a repeated key is one
;   multi-line value, i.e. one logtest session, used for correlation rules).
;   Lines are exactly what remoted hands to analysisd: the forwarder's RFC 5424
;   message without <PRI>, built from the real samples in mimecast/mimecasttest/testdata
;   ({"mimecast":{"logType":"<type>",<compact sample>}}, TIMESTAMP = event time
;   in UTC). "Derived" sections change the named fields of a real sample.
;   Generated by generate_tests.py; keep in sync with the rules. Run them on a manager
;   with ../runtests.py (the logtest socket; what TestRuntests does in CI).

'''
outdir = HERE + os.sep
for f, secs in files.items():
    open(outdir + f + '.ini', 'w').write(hdr + ''.join(secs).rstrip('\n') + '\n')
print({f: len(s) for f, s in files.items()})
