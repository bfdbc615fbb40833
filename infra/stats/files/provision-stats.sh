#!/usr/bin/env bash
# Provisions the stats service's container (Debian 12, as root). Idempotent.
# Beside this script: stats.env (parameters), stats-service.js (the bundle),
# cco-stats.service, and lib.sh. The ingest token arrives on stdin as
# INGEST_TOKEN=value.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../runners/files/lib.sh
. "$HERE/lib.sh"
load_params "$HERE/stats.env"
require NODE_VERSION NODE_SHA256 NODE_URL STATS_HOST STATS_PORT
INGEST_TOKEN=""
read_secrets
require INGEST_TOKEN

ensure_packages ca-certificates curl xz-utils openssh-server

# Node.js LTS, pinned and checked: Debian 12's own nodejs (18) is past its end of life.
install_node "$NODE_VERSION" "$NODE_SHA256" "$NODE_URL"

id cco-stats > /dev/null 2>&1 || { useradd --system --home-dir /var/lib/cco-stats --shell /usr/sbin/nologin cco-stats; log "created user cco-stats"; }
ensure_dir /var/lib/cco-stats 750 cco-stats:cco-stats

changed=0
install_file "$HERE/stats-service.js" /opt/cco-stats/stats-service.js 644 root:root
changed=$((changed | CHANGED))
install_file "$HERE/stats.env" /etc/cco-stats/stats.env 644 root:root
changed=$((changed | CHANGED))
# Each runner's credential (the hash of its own token) is added and removed with
# the runner, by this tool (its Pulumi resource runs it); the service re-reads them.
install_file "$HERE/stats-credential.sh" /usr/local/sbin/cco-stats-credential 755 root:root
ensure_dir /etc/cco-stats/credentials.d 750 root:cco-stats
# A here-string, not a pipe: CHANGED set in a pipeline's subshell would be lost (no restart on rotation).
install_text /etc/cco-stats/secret.env 600 root:root <<< "STATS_INGEST_TOKEN=$INGEST_TOKEN"
changed=$((changed | CHANGED))
install_file "$HERE/cco-stats.service" /etc/systemd/system/cco-stats.service 644 root:root
changed=$((changed | CHANGED))
install_file "$HERE/sshd-cco.conf" /etc/ssh/sshd_config.d/50-cco.conf 644 root:root
if [ "$CHANGED" = 1 ]; then sshd -t && systemctl reload ssh; fi
[ "$changed" = 1 ] && systemctl daemon-reload
ensure_unit cco-stats.service "$changed"
