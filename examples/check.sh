#!/usr/bin/env bash
# Checks every example that can be checked without Wazuh, Docker or root:
#   - XML well-formedness of the Wazuh decoders, rules and ossec.conf files
#   - metric names used by Prometheus alerts and the Grafana dashboard exist
#     in metrics/metrics.go; the dashboard is valid JSON
#   - promtool check config / check rules / test rules
#   - docker-compose config -q; docker-compose/scripts/selftest.sh (pinned
#     image tags, certificate and indexer-init scripts with stand-ins)
#   - systemd-analyze verify (with a dummy binary in a temp dir)
#   - rsyslogd -N1 (with throwaway certificates), and a live loopback round
#     trip through rsyslog: octet-counted RFC 5424 in, the file line must be
#     the message without <PRI>, as remoted passes it to analysisd
# Exit status is non-zero on the first failure. Used by CI and by
# examples/wazuh TestCheckScript. Tools: bash, python3, promtool,
# docker-compose, systemd-analyze, rsyslogd, openssl.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
tmp="$(mktemp -d)"
rsyslog_pid=""
cleanup() {
	if [[ -n "$rsyslog_pid" ]]; then kill "$rsyslog_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

for tool in python3 promtool docker-compose systemd-analyze rsyslogd openssl; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

step "XML well-formedness"
for f in "$here"/wazuh/decoders/*.xml "$here"/wazuh/rules/*.xml "$here"/wazuh/ossec.conf.snippet "$here"/docker-compose/wazuh/ossec.conf; do
	if command -v xmllint >/dev/null 2>&1; then
		# Wazuh files may have several root elements: wrap them.
		{ echo '<root>'; cat "$f"; echo '</root>'; } | xmllint --noout - || fail "$f is not well-formed"
	else
		python3 -c 'import sys, xml.etree.ElementTree as ET; ET.fromstring("<root>" + open(sys.argv[1]).read() + "</root>")' "$f" ||
			fail "$f is not well-formed"
	fi
done

step "metric names exist in metrics/metrics.go"
python3 - "$repo/metrics/metrics.go" "$here/prometheus/alerts.yml" "$here/grafana/mimecast-forwarder.json" <<'EOF'
import json, re, sys
src = open(sys.argv[1]).read()
defined = set(re.findall(r'"([a-z0-9_]+)"', src))
json.load(open(sys.argv[3]))  # the dashboard must be valid JSON
bad = []
for path in sys.argv[2:]:
    for name in sorted(set(re.findall(r'mimecast_forwarder_([a-z0-9_]+)', open(path).read()))):
        base = re.sub(r'_(bucket|sum|count)$', '', name)
        if name not in defined and base not in defined:
            bad.append('%s: mimecast_forwarder_%s' % (path, name))
if bad:
    sys.exit('unknown metrics:\n' + '\n'.join(bad))
EOF

step "promtool"
(cd "$here/prometheus" && promtool check config prometheus.yml && promtool check rules alerts.yml && promtool test rules alerts_test.yml alerts_retention_test.yml)

step "docker-compose config (+ pinned tags, init scripts)"
docker-compose -f "$here/docker-compose/docker-compose.yml" config -q
bash "$here/docker-compose/scripts/selftest.sh"

step "systemd-analyze verify"
mkdir -p "$tmp/systemd"
printf '#!/bin/sh\nexit 0\n' >"$tmp/systemd/mimecast-forwarder"
chmod 0755 "$tmp/systemd/mimecast-forwarder"
sed "s|/usr/local/bin/mimecast-forwarder|$tmp/systemd/mimecast-forwarder|" \
	"$here/systemd/mimecast-forwarder.service" >"$tmp/systemd/mimecast-forwarder.service"
out="$(systemd-analyze verify "$tmp/systemd/mimecast-forwarder.service" 2>&1)" || fail "systemd-analyze verify: $out"
# verify exits 0 on unknown keys but prints them.
if grep -v -e '^$' <<<"$out" | grep -q .; then fail "systemd-analyze verify warnings: $out"; fi

step "rsyslogd -N1 (throwaway certificates)"
certs="$tmp/tls"
mkdir -p "$certs"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/ca-key.pem" -out "$certs/ca.pem" -days 1 -subj /CN=check-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$certs/collector-key.pem" -out "$certs/collector.csr" -subj /CN=collector 2>/dev/null
openssl x509 -req -in "$certs/collector.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca-key.pem" -CAcreateserial \
	-out "$certs/collector-cert.pem" -days 1 2>/dev/null
sed "s|/etc/rsyslog.d/tls/|$certs/|g" "$here/rsyslog/mimecast-collector.conf" >"$tmp/rsyslog.conf"
rsyslogd -N1 -f "$tmp/rsyslog.conf"

step "rsyslog round trip (loopback, plain TCP, octet counting)"
# Same template and filter as mimecast-collector.conf, without TLS.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
template="$(grep -o 'template(name="MimecastRawAfterPri"[^)]*)' "$here/rsyslog/mimecast-collector.conf")"
[[ -n "$template" ]] || fail "template MimecastRawAfterPri not found in mimecast-collector.conf"
cat >"$tmp/rt.conf" <<EOF
global(workDirectory="$tmp" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="$port" address="127.0.0.1" ruleset="mimecast")
$template
ruleset(name="mimecast") {
  if \$app-name == "mimecast" then {
    action(type="omfile" file="$tmp/mimecast.log" template="MimecastRawAfterPri")
  }
  stop
}
EOF
rsyslogd -n -f "$tmp/rt.conf" -i "$tmp/rsyslog.pid" >"$tmp/rsyslog.out" 2>&1 &
rsyslog_pid=$!
python3 - "$port" "$tmp/mimecast.log" <<'EOF' || { cat "$tmp/rsyslog.out" >&2; exit 1; }
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
line = ('1 2026-11-28T16:10:00.123Z mail-gw01 mimecast - url-protect '
        '[origin software="mimecast-forwarder" swVersion="0.1.0"] '
        '{"mimecast":{"logType":"url protect","url":"http://x.example/a|b","subject":"a ] b \\" c"}}')
msg = ('<134>' + line).encode()
for _ in range(50):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit('rsyslog did not listen on port %d' % port)
s.sendall(b'%d %s' % (len(msg), msg))
s.close()
got = None
for _ in range(50):
    try:
        got = open(out).read()
        if got.endswith('\n'):
            break
    except OSError:
        pass
    time.sleep(0.1)
# The file line must be byte for byte what remoted hands analysisd (the
# message without <PRI>): the lines the Wazuh tests decode on a real manager.
if got != line + '\n':
    sys.exit('rsyslog wrote %r, want %r' % (got, line + '\n'))
EOF
kill "$rsyslog_pid" 2>/dev/null || true
wait "$rsyslog_pid" 2>/dev/null || true
rsyslog_pid=""

echo "all checks passed"
