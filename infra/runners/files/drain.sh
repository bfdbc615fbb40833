#!/bin/bash
# Takes this runner out of service before its container goes: waits for the
# running job (up to RUNNER_DRAIN_S, 600 s), then stops and disables the
# runner's listener, so that it takes no new job whatever labels the
# workflows ask for. Exits 75 when the job is still running at the deadline
# (the runner is then left running), 0 otherwise.
#   drain.sh          drain and stop
#   drain.sh resume   start the listener again (deregistration gave up)
# Run as root over SSH by the Pulumi program (deregistration).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if [ "${1:-}" = resume ]; then
  systemctl enable --now --quiet actions-runner.service
  log "runner resumed"
  exit 0
fi
drain_runner keep || exit $?
systemctl disable --quiet actions-runner.service 2> /dev/null || true
log "runner stopped: no job is running and none will start"
