#!/bin/bash
# Certificates for the demo stack, without a manual step.
#
# Runs as the entrypoint of the "generator" service (image
# wazuh/wazuh-certs-generator:0.0.1, the one wazuh-docker v4.7.x uses in
# single-node/generate-indexer-certs.yml). It calls the image's own
# /entrypoint.sh unchanged: that downloads wazuh-certs-tool.sh from
# packages.wazuh.com, creates the root CA and the admin, wazuh.indexer,
# wazuh.manager and wazuh.dashboard certificates from /config/certs.yml into
# /certificates (a tmpfs here) and sets the owners and modes wazuh-docker
# expects (0400; uid 1000 for indexer and dashboard files, 999:997 for the
# manager's).
#
# This wrapper then copies each service's files, with their owner and mode
# (cp -p), into that service's volume under the names and paths the official
# single-node/docker-compose.yml mounts them at:
#   OUT_DIR/indexer   -> wazuh.indexer   /usr/share/wazuh-indexer/certs
#   OUT_DIR/dashboard -> wazuh.dashboard /usr/share/wazuh-dashboard/certs
#   OUT_DIR/manager   -> wazuh.manager   /etc/ssl/filebeat (SSL_* variables)
# The root CA's private key is not kept anywhere.
#
# Idempotent: when every volume already holds a complete set (marker file
# written last), it exits 0 without generating anything, so `docker compose up`
# can run it every time and the running services keep a consistent CA. To get
# new certificates: `docker compose down -v` (also deletes the indexed alerts).
#
# Environment (defaults are the container paths; check.sh overrides them to
# exercise this script with a stand-in entrypoint):
#   GENERATOR_ENTRYPOINT  the image's generator        (/entrypoint.sh)
#   CERTS_DIR             where it writes              (/certificates)
#   OUT_DIR               parent of the three volumes  (/out)
set -euo pipefail

GENERATOR_ENTRYPOINT="${GENERATOR_ENTRYPOINT:-/entrypoint.sh}"
CERTS_DIR="${CERTS_DIR:-/certificates}"
OUT_DIR="${OUT_DIR:-/out}"
MARKER=".mimecast-demo-certs"

fail() {
	printf 'generate-certs: %s\n' "$*" >&2
	exit 1
}

# destination directory -> "source-name:destination-name ..."
declare -A LAYOUT=(
	[indexer]="root-ca.pem:root-ca.pem wazuh.indexer.pem:wazuh.indexer.pem wazuh.indexer-key.pem:wazuh.indexer.key admin.pem:admin.pem admin-key.pem:admin-key.pem"
	[dashboard]="root-ca.pem:root-ca.pem wazuh.dashboard.pem:wazuh-dashboard.pem wazuh.dashboard-key.pem:wazuh-dashboard-key.pem"
	[manager]="root-ca-manager.pem:root-ca.pem wazuh.manager.pem:filebeat.pem wazuh.manager-key.pem:filebeat.key"
)

complete=true
for dir in "${!LAYOUT[@]}"; do
	[[ -d "$OUT_DIR/$dir" ]] || fail "$OUT_DIR/$dir is not mounted"
	[[ -f "$OUT_DIR/$dir/$MARKER" ]] || complete=false
done
if [[ "$complete" == true ]]; then
	echo "generate-certs: certificates already present, nothing to do (docker compose down -v to regenerate)"
	exit 0
fi

[[ -x "$GENERATOR_ENTRYPOINT" ]] || fail "$GENERATOR_ENTRYPOINT not found or not executable"
echo "generate-certs: running $GENERATOR_ENTRYPOINT (needs https://packages.wazuh.com)"
"$GENERATOR_ENTRYPOINT" || fail "$GENERATOR_ENTRYPOINT failed"

# Check everything before touching any volume.
for dir in "${!LAYOUT[@]}"; do
	for pair in ${LAYOUT[$dir]}; do
		src="${pair%%:*}"
		[[ -s "$CERTS_DIR/$src" ]] || fail "the generator did not create $CERTS_DIR/$src"
	done
done

for dir in "${!LAYOUT[@]}"; do
	rm -f "$OUT_DIR/$dir/$MARKER"
done
for dir in "${!LAYOUT[@]}"; do
	for pair in ${LAYOUT[$dir]}; do
		src="${pair%%:*}"
		dst="${pair#*:}"
		cp -p "$CERTS_DIR/$src" "$OUT_DIR/$dir/.$dst.tmp"
		mv -f "$OUT_DIR/$dir/.$dst.tmp" "$OUT_DIR/$dir/$dst"
	done
done
for dir in "${!LAYOUT[@]}"; do
	date -u +%Y-%m-%dT%H:%M:%SZ >"$OUT_DIR/$dir/$MARKER"
done
echo "generate-certs: certificates installed for indexer, dashboard and manager"
