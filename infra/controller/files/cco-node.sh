#!/usr/bin/env bash
# The clean snapshot of an ephemeral runner container, on its Proxmox node (as
# root). The Pulumi program runs it over SSH with this file on stdin
# (`bash -s -- ACTION VMID SNAPSHOT [WAIT_S]`), around the container's
# provisioning:
#
#   reset VMID SNAPSHOT WAIT_S  before the container is provisioned again: stop
#       the controller (its idle runners are removed and their containers
#       stopped), wait up to WAIT_S seconds for a life that runs a job to end
#       (its container powers off), then roll back to the clean snapshot and
#       start it, so provisioning changes a clean container, never one a job
#       has used. Nothing to do for a container without a snapshot (new).
#   take VMID SNAPSHOT          after provisioning: check that every volume is
#       on snapshot-capable storage, stop the controller, replace the snapshot.
#       The controller's deployment, which depends on every snapshot, starts
#       the controller again.
#
# What pct does, from pve-guest-common src/PVE/AbstractConfig.pm (4a8f6cb):
# snapshot_prepare refuses a name in use ("snapshot name '...' already used",
# hence delsnapshot first) and storage without the feature ("snapshot feature
# is not available"); snapshot_rollback stops a running container
# (__snapshot_rollback_vm_stop: pve-container src/PVE/LXC/Config.pm, 6.1.10,
# vm_stop) and copies the snapshot's config over the current one
# (__snapshot_apply_config): a rollback brings back the config of its time too.
# Idempotent: reset of a stopped, clean container rolls back to what it is;
# take replaces the snapshot with an identical one.
set -euo pipefail
PCT=${CCO_PCT:-pct}
PVESM=${CCO_PVESM:-pvesm}
UNIT=cco-controller.service
# Storage types whose volumes a container can be snapshotted on (pve-docs
# pvesm.adoc "Available storage types": zfspool, btrfs, lvmthin, rbd, and zfs =
# ZFS over iSCSI; dir, nfs, cifs and lvm snapshot only qcow2 VM disks).
SNAPSHOT_STORAGE="zfspool btrfs lvmthin rbd zfs"

say() { printf 'cco-node: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

action=${1:-}
vmid=${2:-}
snapshot=${3:-}
[[ $vmid =~ ^[1-9][0-9]{2,8}$ ]] || die "bad vmid: $vmid"
[[ $snapshot =~ ^[A-Za-z][A-Za-z0-9_-]{1,39}$ ]] || die "bad snapshot name: $snapshot"

exists() { "$PCT" config "$vmid" > /dev/null 2>&1; }
state() { "$PCT" status "$vmid" | sed -n 's/^status: //p'; }
# listsnapshot prints a tree: "`-> NAME  DATE  DESCRIPTION" per snapshot, then "`-> current".
# (Read whole first: grep -q in a pipe would end pct early, and pipefail call that a failure.)
has_snapshot() {
  local list
  list=$("$PCT" listsnapshot "$vmid")
  grep -Eq -- "-> $snapshot( |$)" <<< "$list"
}
stop_controller() {
  if systemctl is-active --quiet "$UNIT" 2> /dev/null; then
    systemctl stop "$UNIT"
    say "stopped $UNIT (idle runners removed, their containers stopped)"
  fi
}

# Every volume of the container (rootfs, mpN) on a storage of a snapshot-capable type.
check_storage() {
  local line volume storage type
  while IFS= read -r line; do
    [[ $line =~ ^(rootfs|mp[0-9]+):\ ([^,]+) ]] || continue
    volume=${BASH_REMATCH[2]}
    [[ $volume == *:* ]] || die "container $vmid: ${BASH_REMATCH[1]} is a bind mount ($volume), which pct cannot snapshot; ephemeral runners need every volume on LVM-thin, ZFS, Ceph RBD or btrfs storage"
    storage=${volume%%:*}
    type=$("$PVESM" status --storage "$storage" | awk 'NR == 2 { print $2 }')
    case " $SNAPSHOT_STORAGE " in
      *" $type "*) ;;
      *) die "container $vmid: ${BASH_REMATCH[1]} is on storage $storage of type ${type:-unknown}, which cannot snapshot a container; ephemeral runners (runnerMode ephemeral) need cco-infra:proxmoxDatastore on LVM-thin, ZFS, Ceph RBD or btrfs storage (types: $SNAPSHOT_STORAGE)" ;;
    esac
  done < <("$PCT" config "$vmid")
}

case $action in
  reset)
    wait_s=${4:-600}
    [[ $wait_s =~ ^[0-9]+$ ]] || die "bad wait: $wait_s"
    if ! exists || ! has_snapshot; then
      say "container $vmid has no snapshot $snapshot yet: nothing to reset"
      exit 0
    fi
    stop_controller
    deadline=$((SECONDS + wait_s))
    while [ "$(state)" = running ]; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        systemctl start "$UNIT" 2> /dev/null || true
        die "container $vmid still runs a job after ${wait_s} s; it is left as it is and the controller started again: run pulumi up again once the job is done"
      fi
      sleep 2
    done
    "$PCT" rollback "$vmid" "$snapshot"
    "$PCT" start "$vmid"
    say "container $vmid rolled back to $snapshot and started, for provisioning"
    ;;
  take)
    exists || die "no container $vmid"
    check_storage
    stop_controller
    if has_snapshot; then "$PCT" delsnapshot "$vmid" "$snapshot"; fi
    "$PCT" snapshot "$vmid" "$snapshot" --description "cco: clean state after provisioning, the start of every life (ephemeral runners)"
    say "took $snapshot of container $vmid"
    # What the controller's deployment takes as its trigger: a new snapshot restarts it.
    printf 'snapshot=%s:%s:%s\n' "$vmid" "$snapshot" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    ;;
  *)
    die "usage: cco-node.sh reset VMID SNAPSHOT WAIT_S | take VMID SNAPSHOT"
    ;;
esac
