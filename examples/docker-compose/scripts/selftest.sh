#!/usr/bin/env bash
# Offline checks of the docker-compose demo (no Docker engine needed), run by
# ../../check.sh:
#   - docker-compose config: every service has a pinned image tag (no
#     "latest", no digest-less bare name), the three Wazuh images share one
#     version, depends_on conditions are the ones docker-compose accepts;
#   - generate-certs.sh against a stand-in for the generator image's
#     /entrypoint.sh: file names, owner/mode kept, idempotency, refusal of an
#     incomplete set;
#   - indexer-init.sh against a stand-in for hash.sh: defaults installed
#     unchanged, custom passwords hashed, bad tool output refused.
# What only a Docker host can show (the images' own behaviour) is listed in
# ../README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compose_dir="$(cd "$here/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# --- compose file ------------------------------------------------------------
docker-compose -f "$compose_dir/docker-compose.yml" config >"$tmp/config.yml"
python3 - "$tmp/config.yml" "$compose_dir/config" <<'EOF'
import re, sys
import yaml

cfg = yaml.safe_load(open(sys.argv[1]))
services = cfg["services"]
bad = []
for name, svc in sorted(services.items()):
    image = svc.get("image")
    if not image:
        bad.append("%s: no image" % name)
        continue
    m = re.fullmatch(r"(?P<repo>[^:@]+(?::\d+/[^:@]+)?):(?P<tag>[\w][\w.-]*)(@sha256:[0-9a-f]{64})?", image)
    if not m or m.group("tag") == "latest":
        bad.append("%s: image %r has no pinned tag" % (name, image))
wazuh = {svc["image"].split(":")[1] for svc in services.values()
         if svc.get("image", "").startswith(("wazuh/wazuh-manager:", "wazuh/wazuh-indexer:", "wazuh/wazuh-dashboard:"))}
if len(wazuh) != 1:
    bad.append("Wazuh manager/indexer/dashboard tags differ: %s" % sorted(wazuh))
for need in ("generator", "indexer-init", "wazuh.indexer", "wazuh.manager", "wazuh.dashboard",
             "mimecast-forwarder", "prometheus", "grafana"):
    if need not in services:
        bad.append("service %s is missing" % need)
for name in ("wazuh.indexer", "wazuh.manager", "wazuh.dashboard"):
    dep = services.get(name, {}).get("depends_on", {})
    if dep.get("generator", {}).get("condition") != "service_completed_successfully":
        bad.append("%s must wait for generator (service_completed_successfully)" % name)
# The config files must parse, and the certificates must name the hosts the
# clients connect to (full verification: FILEBEAT_SSL_VERIFICATION_MODE=full).
base = sys.argv[2]
for f in ("wazuh_indexer/wazuh.indexer.yml", "wazuh_indexer/internal_users.yml",
          "wazuh_dashboard/opensearch_dashboards.yml"):
    yaml.safe_load(open(base + "/" + f))
nodes = yaml.safe_load(open(base + "/certs.yml"))["nodes"]
for kind, svc in (("indexer", "wazuh.indexer"), ("server", "wazuh.manager"), ("dashboard", "wazuh.dashboard")):
    names = {n["name"] for n in nodes.get(kind, [])}
    if names != {svc} or services.get(svc, {}).get("hostname") != svc:
        bad.append("certs.yml %s nodes %s must be the service/hostname %s" % (kind, sorted(names), svc))
if services.get("mimecast-forwarder", {}).get("command") != ["demo"]:
    bad.append("mimecast-forwarder must run in demo mode by default")
if bad:
    sys.exit("docker-compose.yml:\n  " + "\n  ".join(bad))
EOF

# --- generate-certs.sh -------------------------------------------------------
gen="$tmp/gen"
mkdir -p "$gen/certs" "$gen/out/indexer" "$gen/out/dashboard" "$gen/out/manager"
cat >"$gen/entrypoint.sh" <<EOF
#!/bin/bash
# Stand-in for the generator image's /entrypoint.sh: same file names.
set -e
echo run >>"$gen/runs"
for f in root-ca.pem root-ca-manager.pem admin.pem admin-key.pem \\
	wazuh.indexer.pem wazuh.indexer-key.pem wazuh.manager.pem wazuh.manager-key.pem \\
	wazuh.dashboard.pem wazuh.dashboard-key.pem; do
	[ "\${OMIT:-}" = "\$f" ] && continue
	printf '%s %s\n' "\$f" "\$(wc -l <"$gen/runs")" >"$gen/certs/\$f"
	chmod 400 "$gen/certs/\$f"
	touch -d 2001-02-03T04:05:06Z "$gen/certs/\$f"
	# The real generator gives indexer/dashboard files to uid 1000.
	[ "\$(id -u)" = 0 ] && chown 1000:1000 "$gen/certs/\$f"
done
true
EOF
chmod +x "$gen/entrypoint.sh"
run_gen() {
	GENERATOR_ENTRYPOINT="$gen/entrypoint.sh" CERTS_DIR="$gen/certs" OUT_DIR="$gen/out" \
		bash "$compose_dir/scripts/generate-certs.sh" >"$gen/log" 2>&1
}
runs() { if [[ -f "$gen/runs" ]]; then wc -l <"$gen/runs"; else echo 0; fi; }

run_gen || { cat "$gen/log" >&2; fail "generate-certs.sh failed"; }
[[ "$(runs)" == 1 ]] || fail "generate-certs.sh: generator ran $(runs) times, want 1"
while read -r dst src; do
	[[ -f "$gen/out/$dst" ]] || fail "generate-certs.sh: $dst missing"
	[[ "$(cat "$gen/out/$dst")" == "$src 1" ]] || fail "generate-certs.sh: $dst is not a copy of $src"
	[[ "$(stat -c %a "$gen/out/$dst")" == 400 ]] || fail "generate-certs.sh: $dst lost mode 0400"
	# cp -p: the generator's owner (and time stamp) must survive the copy.
	[[ "$(stat -c %Y "$gen/out/$dst")" == "$(date -d 2001-02-03T04:05:06Z +%s)" ]] || fail "generate-certs.sh: $dst not copied with cp -p"
	if [[ "$(id -u)" == 0 ]]; then
		[[ "$(stat -c %u:%g "$gen/out/$dst")" == 1000:1000 ]] || fail "generate-certs.sh: $dst lost its owner"
	fi
done <<'EOF'
indexer/root-ca.pem root-ca.pem
indexer/wazuh.indexer.pem wazuh.indexer.pem
indexer/wazuh.indexer.key wazuh.indexer-key.pem
indexer/admin.pem admin.pem
indexer/admin-key.pem admin-key.pem
dashboard/root-ca.pem root-ca.pem
dashboard/wazuh-dashboard.pem wazuh.dashboard.pem
dashboard/wazuh-dashboard-key.pem wazuh.dashboard-key.pem
manager/root-ca.pem root-ca-manager.pem
manager/filebeat.pem wazuh.manager.pem
manager/filebeat.key wazuh.manager-key.pem
EOF
[[ "$(find "$gen/out" -type f ! -name .mimecast-demo-certs | wc -l)" == 11 ]] ||
	fail "generate-certs.sh: unexpected files: $(find "$gen/out" -type f)"
[[ -z "$(find "$gen/out" -name 'root-ca.key' -o -name '*.tmp')" ]] || fail "generate-certs.sh: CA key or temp file left"

run_gen || { cat "$gen/log" >&2; fail "generate-certs.sh second run failed"; }
[[ "$(runs)" == 1 ]] || fail "generate-certs.sh regenerated although every volume was complete"

rm "$gen/out/dashboard/.mimecast-demo-certs"
run_gen || { cat "$gen/log" >&2; fail "generate-certs.sh failed after a volume lost its set"; }
[[ "$(runs)" == 2 ]] || fail "generate-certs.sh did not regenerate for an incomplete volume"
[[ "$(cat "$gen/out/indexer/root-ca.pem")" == "root-ca.pem 2" ]] || fail "generate-certs.sh: indexer kept the old CA"

rm "$gen/out/indexer/.mimecast-demo-certs"
rm -f "$gen/certs/"*
if OMIT=wazuh.manager-key.pem run_gen; then fail "generate-certs.sh accepted an incomplete set"; fi
grep -q 'did not create .*wazuh.manager-key.pem' "$gen/log" || fail "generate-certs.sh: unclear error: $(cat "$gen/log")"
[[ "$(cat "$gen/out/indexer/root-ca.pem")" == "root-ca.pem 2" ]] || fail "generate-certs.sh touched a volume after a failure"
[[ ! -f "$gen/out/indexer/.mimecast-demo-certs" ]] || fail "generate-certs.sh marked an incomplete run"

# --- indexer-init.sh ---------------------------------------------------------
ii="$tmp/ii"
mkdir -p "$ii/security"
echo "_meta: {type: config, config_version: 2}" >"$ii/security/config.yml"
chmod 640 "$ii/security/config.yml"
cat >"$ii/hash.sh" <<'EOF'
#!/bin/bash
# Stand-in for the indexer's hash.sh: banner, then a bcrypt-shaped line.
[ "$1" = "-p" ] || exit 2
[ "$2" = "fail-me" ] && { echo "no hash"; exit 0; }
echo "**************************************************************************"
echo "** This tool will be deprecated in the next major release of OpenSearch **"
printf '$2y$12$%s\n' "$(printf '%s' "$2" | sha256sum | cut -c1-53 | tr 'f' '.')"
EOF
chmod +x "$ii/hash.sh"
source_file="$compose_dir/config/wazuh_indexer/internal_users.yml"
run_ii() {
	SOURCE="$source_file" SECURITY_DIR="$ii/security" HASH_TOOL="$ii/hash.sh" \
		INDEXER_PASSWORD="$1" DASHBOARD_PASSWORD="$2" \
		bash "$compose_dir/scripts/indexer-init.sh" >"$ii/log" 2>&1
}
expected_hash() { printf '$2y$12$%s' "$(printf '%s' "$1" | sha256sum | cut -c1-53 | tr 'f' '.')"; }

run_ii SecretPassword kibanaserver || { cat "$ii/log" >&2; fail "indexer-init.sh failed with the defaults"; }
cmp -s "$source_file" "$ii/security/internal_users.yml" || fail "indexer-init.sh changed the file with the default passwords"
[[ "$(stat -c %a "$ii/security/internal_users.yml")" == 640 ]] || fail "indexer-init.sh: mode differs from config.yml"

run_ii 'N3w-Admin.pw' kibanaserver || { cat "$ii/log" >&2; fail "indexer-init.sh failed with a custom admin password"; }
python3 - "$ii/security/internal_users.yml" "$(expected_hash 'N3w-Admin.pw')" <<'EOF' || fail "indexer-init.sh: wrong hashes"
import sys, yaml
users = yaml.safe_load(open(sys.argv[1]))
assert users["admin"]["hash"] == sys.argv[2], users["admin"]["hash"]
assert users["kibanaserver"]["hash"] == "$2a$12$4AcgAt3xwOWadA5s5blL6ev39OXDNhmOesEoo33eZtrq2N0YrU3H.", users["kibanaserver"]["hash"]
assert users["admin"]["backend_roles"] == ["admin"]
EOF

run_ii SecretPassword 'Kib4na-Server' || { cat "$ii/log" >&2; fail "indexer-init.sh failed with a custom kibanaserver password"; }
grep -qF "$(expected_hash 'Kib4na-Server')" "$ii/security/internal_users.yml" || fail "indexer-init.sh: kibanaserver hash not replaced"
grep -qF 'K/SpwjtB.wOHJ/Nc6GVRDuc1h0rM1DfvziFRNPtk27P.c4yDr9njO' "$ii/security/internal_users.yml" ||
	fail "indexer-init.sh: admin hash changed although WAZUH_INDEXER_PASSWORD is the default"

cp "$ii/security/internal_users.yml" "$ii/before"
if run_ii fail-me kibanaserver; then fail "indexer-init.sh accepted output that is not a bcrypt hash"; fi
cmp -s "$ii/before" "$ii/security/internal_users.yml" || fail "indexer-init.sh replaced the file after a failure"
if run_ii '' kibanaserver; then fail "indexer-init.sh accepted an empty INDEXER_PASSWORD"; fi
rm "$ii/security/config.yml"
if run_ii SecretPassword kibanaserver; then fail "indexer-init.sh accepted a security directory without config.yml"; fi
grep -q 'not populated from the image' "$ii/log" || fail "indexer-init.sh: unclear error: $(cat "$ii/log")"
[[ -z "$(find "$ii/security" -name '.internal_users.yml.*')" ]] || fail "indexer-init.sh left a temp file"

echo "docker-compose demo: compose file and init scripts OK"
