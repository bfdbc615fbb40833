#!/usr/bin/env bash
# Ephemeral mode's runner side (as root, after the runner is unpacked):
# actions-runner.service is no longer started at boot, but by cco-jit.path
# when the Proxmox host hands in a just-in-time config, and it runs one job.
# No registration token is ever used here. Idempotent.
#   install.sh   (beside lib.sh's copy in /opt/cco, or LIB=path/to/lib.sh)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "${LIB:-/opt/cco/lib.sh}"

# Whatever registration a persistent runner had is not part of the clean state.
# Stopped before the drop-in is in: with it, the runner's stop powers the container off.
if [ -e /var/lib/cco/runner-id ]; then
  systemctl stop actions-runner.service
  rm -f /var/lib/cco/runner-id /home/runner/actions-runner/.runner /home/runner/actions-runner/.credentials \
    /home/runner/actions-runner/.credentials_rsaparams
  log "removed the persistent registration"
fi

changed=0
install_file "$HERE/jit-handoff.sh" /opt/cco/jit-handoff.sh 755 root:root
install_file "$HERE/jit-runner.sh" /opt/cco/jit-runner.sh 755 root:root
install_file "$HERE/cco-jit.path" /etc/systemd/system/cco-jit.path 644 root:root
changed=$((changed | CHANGED))
install_file "$HERE/actions-runner-ephemeral.conf" /etc/systemd/system/actions-runner.service.d/cco-ephemeral.conf 644 root:root
changed=$((changed | CHANGED))
[ "$changed" = 1 ] && systemctl daemon-reload

if systemctl is-enabled --quiet actions-runner.service 2> /dev/null; then
  systemctl disable --quiet actions-runner.service
  log "disabled actions-runner.service at boot (cco-jit.path starts it)"
fi
if ! systemctl is-enabled --quiet cco-jit.path; then
  systemctl enable --quiet cco-jit.path
  log "enabled cco-jit.path"
fi
