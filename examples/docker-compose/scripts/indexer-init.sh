#!/bin/bash
# Installs the Wazuh indexer's internal_users.yml with the demo passwords from
# the environment.
#
# Runs as the entrypoint of the "indexer-init" service, which uses the same
# image as wazuh.indexer (wazuh/wazuh-indexer:4.7.5) and mounts the same
# volume on SECURITY_DIR (/usr/share/wazuh-indexer/opensearch-security): the
# first container to mount that empty volume gets the image's security
# configuration copied into it by Docker (config.yml, roles.yml, ...), and this
# script replaces internal_users.yml in it. wazuh.indexer loads these files
# into its security index on its first start (allow_default_init_securityindex).
#
# SOURCE is wazuh-docker's internal_users.yml (config/wazuh_indexer/), whose
# admin and kibanaserver hashes are those of the official demo passwords
# SecretPassword and kibanaserver. When INDEXER_PASSWORD or DASHBOARD_PASSWORD
# is something else, the matching hash is replaced by one computed with the
# image's own tool (plugins/opensearch-security/tools/hash.sh -p, the command
# Wazuh documents for changing these passwords). With the defaults no hash is
# computed and the file is installed unchanged.
#
# Passwords changed after the first start of wazuh.indexer are NOT applied by
# this script (the security index already exists): see README.md.
#
# Environment:
#   INDEXER_PASSWORD    password of the indexer user "admin"        (required)
#   DASHBOARD_PASSWORD  password of the indexer user "kibanaserver" (required)
#   SOURCE              template  (/config/internal_users.yml)
#   SECURITY_DIR        target    (/usr/share/wazuh-indexer/opensearch-security)
#   HASH_TOOL           bcrypt tool (/usr/share/wazuh-indexer/plugins/opensearch-security/tools/hash.sh)
set -euo pipefail

SOURCE="${SOURCE:-/config/internal_users.yml}"
SECURITY_DIR="${SECURITY_DIR:-/usr/share/wazuh-indexer/opensearch-security}"
HASH_TOOL="${HASH_TOOL:-/usr/share/wazuh-indexer/plugins/opensearch-security/tools/hash.sh}"

DEFAULT_ADMIN_PASSWORD='SecretPassword'
DEFAULT_ADMIN_HASH='$2y$12$K/SpwjtB.wOHJ/Nc6GVRDuc1h0rM1DfvziFRNPtk27P.c4yDr9njO'
DEFAULT_KIBANASERVER_PASSWORD='kibanaserver'
DEFAULT_KIBANASERVER_HASH='$2a$12$4AcgAt3xwOWadA5s5blL6ev39OXDNhmOesEoo33eZtrq2N0YrU3H.'

fail() {
	printf 'indexer-init: %s\n' "$*" >&2
	exit 1
}

[[ -n "${INDEXER_PASSWORD:-}" ]] || fail "INDEXER_PASSWORD is empty"
[[ -n "${DASHBOARD_PASSWORD:-}" ]] || fail "DASHBOARD_PASSWORD is empty"
[[ -r "$SOURCE" ]] || fail "$SOURCE is not readable"
# Docker copies the image's files into the volume only while it is empty; if
# they are missing the indexer could not initialise its security index.
reference="$SECURITY_DIR/config.yml"
[[ -f "$reference" ]] || fail "$reference is missing: the volume was not populated from the image (docker compose down -v, then up)"

# bcrypt_hash PASSWORD: prints the bcrypt hash computed by the indexer's tool.
# hash.sh prints a deprecation banner first; the hash is its last line.
bcrypt_hash() {
	local out hash
	out="$(bash "$HASH_TOOL" -p "$1")" || fail "$HASH_TOOL failed"
	hash="$(printf '%s\n' "$out" | tail -n 1)"
	[[ "$hash" =~ ^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$ ]] || fail "$HASH_TOOL did not print a bcrypt hash"
	printf '%s' "$hash"
}

content="$(<"$SOURCE")"
[[ "$content" == *"$DEFAULT_ADMIN_HASH"* ]] || fail "$SOURCE does not contain the default admin hash"
[[ "$content" == *"$DEFAULT_KIBANASERVER_HASH"* ]] || fail "$SOURCE does not contain the default kibanaserver hash"

if [[ "$INDEXER_PASSWORD" != "$DEFAULT_ADMIN_PASSWORD" ]]; then
	echo "indexer-init: hashing the admin password from WAZUH_INDEXER_PASSWORD"
	hash="$(bcrypt_hash "$INDEXER_PASSWORD")"
	content="${content//"$DEFAULT_ADMIN_HASH"/"$hash"}"
fi
if [[ "$DASHBOARD_PASSWORD" != "$DEFAULT_KIBANASERVER_PASSWORD" ]]; then
	echo "indexer-init: hashing the kibanaserver password from WAZUH_DASHBOARD_PASSWORD"
	hash="$(bcrypt_hash "$DASHBOARD_PASSWORD")"
	content="${content//"$DEFAULT_KIBANASERVER_HASH"/"$hash"}"
fi

tmp="$(mktemp "$SECURITY_DIR/.internal_users.yml.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$content" >"$tmp"
# Same owner and mode as the image's own security files.
chown --reference="$reference" "$tmp"
chmod --reference="$reference" "$tmp"
mv -f "$tmp" "$SECURITY_DIR/internal_users.yml"
trap - EXIT
echo "indexer-init: $SECURITY_DIR/internal_users.yml installed"
