#!/usr/bin/env bash
# Takes this life's just-in-time runner config on stdin, from the Proxmox host
# (the controller runs `pct exec <vmid> --keep-env 0 -- /opt/cco/jit-handoff.sh`
# as root): never on a command line, never on disk. It lands in
# /run/cco/jit/config (tmpfs, root only), which starts the runner
# (cco-jit.path); the runner's unit moves it to its own runtime directory and
# the runner removes it there before it starts.
#
# Exit 75 (EX_TEMPFAIL): not yet, the container is still booting (the
# controller retries). Exit 1: refused (a second config in one life, bad input).
set -euo pipefail
# pct exec --keep-env 0 gives an empty environment.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
dir=/run/cco/jit

# Before systemd mounted /run and started the path unit, a file would land on
# the root filesystem under the tmpfs, or nobody would pick it up.
if ! mountpoint -q /run || [ "$(stat -f -c %T /run)" != tmpfs ]; then
  echo "not ready: /run is not mounted yet" >&2
  exit 75
fi
systemctl is-active --quiet cco-jit.path || { echo "not ready: cco-jit.path is not active" >&2; exit 75; }
# One config per life: the runner started from the first one (its unit ran or runs).
if [ -e "$dir/config" ] || [ "$(systemctl show -P InactiveExitTimestampMonotonic actions-runner.service)" != 0 ]; then
  echo "refused: this life already got its runner config" >&2
  exit 1
fi

config=$(head -c 65536)
config=${config%$'\n'}
[[ $config =~ ^[A-Za-z0-9+/=]+$ ]] || { echo "refused: the config is not base64" >&2; exit 1; }
umask 077
install -d -m 700 -o root -g root "$dir"
printf '%s' "$config" > "$dir/.config.new"
mv -f "$dir/.config.new" "$dir/config"
echo "handed over"
