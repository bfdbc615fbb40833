#!/usr/bin/env bash
# Installs or updates the ephemeral runners' controller on a Proxmox node (as
# root): Node.js (pinned, verified), the bundled controller, its config, its
# secrets and its hardened unit; then (re)starts it. Run by the Pulumi program
# over SSH from /root/cco-provision-<hash>, with its parameters in
# controller.env beside it. Idempotent: a second run changes nothing, but
# starts the controller if it is stopped (cco-node.sh stops it around a
# snapshot).
#
# Secrets arrive on stdin as KEY=value lines, never as arguments:
#   GITHUB_TOKEN   fine-grained, this repository's Administration: JIT configs, runner removal
#   INGEST_TOKEN   the controller's own stats credential (its heartbeats only)
#
#   provision-controller.sh             install or update, then start
#   provision-controller.sh uninstall   stop it (idle runners removed), remove it
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../runners/files/lib.sh
. "$HERE/lib.sh"

UNIT=cco-controller.service
ETC=/etc/cco-controller

if [ "${1:-}" = uninstall ]; then
  if systemctl is-enabled --quiet "$UNIT" 2> /dev/null || systemctl is-active --quiet "$UNIT" 2> /dev/null; then
    systemctl disable --now --quiet "$UNIT"
    log "stopped and disabled $UNIT"
  fi
  rm -rf "$ETC" /opt/cco-controller "/etc/systemd/system/$UNIT"
  systemctl daemon-reload
  log "removed the controller"
  exit 0
fi

load_params "$HERE/controller.env"
require NODE_VERSION NODE_SHA256 NODE_URL
GITHUB_TOKEN=""
INGEST_TOKEN=""
read_secrets
require GITHUB_TOKEN

# Node.js comes as a .tar.xz fetched by curl: a Proxmox node has both; a bare Debian gets them.
if ! command -v curl > /dev/null || ! command -v xz > /dev/null; then
  ensure_packages curl xz-utils
fi
install_node "$NODE_VERSION" "$NODE_SHA256" "$NODE_URL"
# The controller's own parser checks the config before anything is replaced:
# a bad one stops here, with the running controller (and its config) untouched.
/opt/node/bin/node "$HERE/controller.js" --check-config "$HERE/controller.json" > /dev/null ||
  die "controller.json refused, nothing changed (the reason is above)"

changed=0
ensure_dir "$ETC" 700 root:root
install_file "$HERE/controller.json" "$ETC/controller.json" 600 root:root
changed=$((changed | CHANGED))
# Here-strings, not pipes: install_text in a pipeline runs in a subshell and
# its CHANGED is lost (a rotated token was installed but never restarted into).
install_text "$ETC/github-token" 600 root:root <<< "$GITHUB_TOKEN"
changed=$((changed | CHANGED))
install_text "$ETC/ingest-token" 600 root:root <<< "$INGEST_TOKEN"
changed=$((changed | CHANGED))
install_file "$HERE/controller.js" /opt/cco-controller/controller.js 644 root:root
changed=$((changed | CHANGED))
# Kept for the uninstall the program runs when the controller goes.
install_file "$HERE/provision-controller.sh" /opt/cco-controller/provision-controller.sh 755 root:root
install_file "$HERE/lib.sh" /opt/cco-controller/lib.sh 644 root:root
install_file "$HERE/cco-controller.service" "/etc/systemd/system/$UNIT" 644 root:root
if [ "$CHANGED" = 1 ]; then
  systemctl daemon-reload
  changed=1
fi
ensure_unit "$UNIT" "$changed"
