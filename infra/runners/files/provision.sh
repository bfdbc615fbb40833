#!/usr/bin/env bash
# Provisions a runner container (Debian 12, as root). Idempotent: a second run
# changes nothing. Run by the Pulumi program after copying this directory to
# /root/cco-provision-<hash> with its parameters in runner.env beside it.
#
# Secrets arrive on stdin as KEY=value lines, never as arguments:
#   REGISTRATION_TOKEN  persistent mode, used only when the runner is not registered yet
#   INGEST_TOKEN        this runner's own stats credential, for the forwarder
# RUNNER_MODE (runner.env): persistent registers the runner once and runs it
# at boot; ephemeral (the default) registers nothing and installs the runner
# side of a life (ephemeral/install.sh): the Proxmox node's controller hands
# each life a just-in-time config.
# Any failure stops it: a runner must never come up without its egress rules.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

load_params "$HERE/runner.env"
require RUNNER_NAME RUNNER_LABELS RUNNER_VERSION RUNNER_SHA256 RUNNER_URL GITHUB_URL STATS_URL \
  EGRESS_DOMAINS DNS_SERVERS STATS_HOST STATS_PORT ADMIN_CIDR
REGISTRATION_TOKEN=""
INGEST_TOKEN=""
read_secrets
require INGEST_TOKEN
RUNNER_MODE=${RUNNER_MODE:-ephemeral}
case $RUNNER_MODE in ephemeral | persistent) ;; *) die "bad RUNNER_MODE: $RUNNER_MODE (ephemeral or persistent)" ;; esac

HOME_DIR=/home/runner
RUNNER_DIR=$HOME_DIR/actions-runner

# --- the way out: only through the egress gateway, when there is one ----------
# EGRESS_PROXY (http://ADDRESS:PORT, egressMode gateway): the host firewall lets
# this container out to the gateway's port only, so every download from here
# on (apt, the runner tarball, config.sh) and the runner and its jobs
# (proxy.env, read by actions-runner.service) go through it. Empty (egressMode
# direct): no proxy anywhere, and what an earlier provisioning wrote goes.
proxy_env=/etc/cco/proxy.env
apt_proxy=/etc/apt/apt.conf.d/80cco-proxy
if [ -n "${EGRESS_PROXY:-}" ]; then
  [[ $EGRESS_PROXY =~ ^http://[0-9.]+:[0-9]+$ ]] || die "bad EGRESS_PROXY: $EGRESS_PROXY (http://IPv4:port)"
  [[ ${EGRESS_NO_PROXY:-} =~ ^[A-Za-z0-9.:/,]*$ ]] || die "bad EGRESS_NO_PROXY: $EGRESS_NO_PROXY (names, addresses and blocks, comma-separated)"
  export http_proxy=$EGRESS_PROXY https_proxy=$EGRESS_PROXY no_proxy=${EGRESS_NO_PROXY:-}
  install_text "$proxy_env" 644 root:root \
    < <(printf '# cco: written by provision.sh from EGRESS_PROXY\nhttp_proxy=%s\nhttps_proxy=%s\nno_proxy=%s\n' "$http_proxy" "$https_proxy" "$no_proxy")
  proxy_changed=$CHANGED
  install_text "$apt_proxy" 644 root:root \
    < <(printf '// cco: written by provision.sh from EGRESS_PROXY\nAcquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' "$EGRESS_PROXY" "$EGRESS_PROXY")
else
  proxy_changed=0
  for f in "$proxy_env" "$apt_proxy"; do
    if [ -e "$f" ]; then rm -f "$f"; log "removed $f"; proxy_changed=1; fi
  done
fi

# --- packages ---------------------------------------------------------------
ensure_packages ca-certificates curl jq dnsmasq ipset iptables conntrack openssh-server systemd-journal-remote

# --- the runner user: no sudo, no docker unless jobs may use Docker -----------
if ! id runner > /dev/null 2>&1; then
  useradd --create-home --home-dir "$HOME_DIR" --shell /bin/bash runner
  log "created user runner"
fi
in_group() { [[ " $(id -nG "$1") " == *" $2 "* ]]; }
for group in sudo adm; do
  if in_group runner "$group"; then gpasswd -d runner "$group" > /dev/null; log "removed runner from $group"; fi
done
if [ "${DOCKER_IN_JOBS:-false}" = true ]; then
  getent group docker > /dev/null || groupadd docker
  in_group runner docker || { usermod -aG docker runner; log "added runner to docker"; }
elif in_group runner docker; then
  gpasswd -d runner docker > /dev/null
  log "removed runner from docker"
fi

# --- parameters and secrets the services read --------------------------------
install_file "$HERE/runner.env" /etc/cco/runner.env 644 root:root
params_changed=$CHANGED
printf '%s\n' "$INGEST_TOKEN" | install_text /etc/cco/ingest-token 600 root:root
# The stats service's address, for the runner-health workflow (not a secret).
printf '%s\n' "$STATS_URL" | install_text /etc/cco/stats-url 644 root:root

# --- egress allowlist: rules first, so nothing runs without them -------------
# egress.sh and forwarder.sh source lib.sh from beside them.
install_file "$HERE/lib.sh" /opt/cco/lib.sh 644 root:root
egress_changed=$((params_changed | CHANGED))
install_file "$HERE/egress.sh" /opt/cco/egress.sh 755 root:root
egress_changed=$((egress_changed | CHANGED))
install_file "$HERE/units/cco-egress.service" /etc/systemd/system/cco-egress.service 644 root:root
egress_changed=$((egress_changed | CHANGED))
[ "$CHANGED" = 1 ] && systemctl daemon-reload
# The set-full check: a full set fails closed, this makes it visible.
install_file "$HERE/egress-check.sh" /opt/cco/egress-check.sh 755 root:root
check_changed=0
for unit in cco-egress-check.service cco-egress-check.timer; do
  install_file "$HERE/units/$unit" "/etc/systemd/system/$unit" 644 root:root
  check_changed=$((check_changed | CHANGED))
done
[ "$check_changed" = 1 ] && systemctl daemon-reload
# A change is applied in place: egress.sh swaps the rules atomically (and
# restarts dnsmasq when its allowlist changed). Restarting cco-egress.service
# instead would restart actions-runner.service too (Requires=) and kill the
# jobs running on it.
[ "$egress_changed" = 1 ] && /opt/cco/egress.sh
ensure_unit cco-egress.service
ensure_unit dnsmasq.service
ensure_unit cco-egress-check.timer "$check_changed"

# --- sshd: keys only, verbose, no forwarding, the admin user only ------------
install_file "$HERE/config/sshd-cco.conf" /etc/ssh/sshd_config.d/50-cco.conf 644 root:root
sshd_changed=$CHANGED
# Only the user provisioning logs in as: a key a job plants in ~runner/.ssh
# opens no shell (from loopback or the admin network) outside the runner's unit.
[[ ${ADMIN_USER:=root} =~ ^[a-z_][a-z0-9_-]*$ ]] || die "bad ADMIN_USER: $ADMIN_USER"
[ "$ADMIN_USER" != runner ] || die "ADMIN_USER must not be the runner user"
# (Not through a pipe: install_text must set CHANGED in this shell.)
install_text /etc/ssh/sshd_config.d/49-cco-users.conf 644 root:root \
  < <(printf '# cco: written by provision.sh from ADMIN_USER\nAllowUsers %s\n' "$ADMIN_USER")
if [ "$((sshd_changed | CHANGED))" = 1 ]; then
  sshd -t
  systemctl reload ssh
fi

# --- journald keeps logs across reboots (the audit trail of sshd and units) ---
install_file "$HERE/config/journald-cco.conf" /etc/systemd/journald.conf.d/50-cco.conf 644 root:root
[ "$CHANGED" = 1 ] && systemctl restart systemd-journald
# ... and ships them off the container as they come (systemd-journal-upload to
# the collector's systemd-journal-remote), so a job that floods or erases the
# local journal erases nothing already shipped. It ships whole journal entries,
# with the fields journald itself sets (_UID, _SYSTEMD_UNIT, _COMM): a job's
# `logger -t sshd` stays a job's line, told apart from sshd's own.
upload_conf=/etc/systemd/journal-upload.conf.d/50-cco.conf
if [ -n "${LOG_COLLECTOR:-}" ]; then
  [[ $LOG_COLLECTOR =~ ^[0-9.]+:[0-9]+$ ]] || die "bad LOG_COLLECTOR: $LOG_COLLECTOR (IPv4:port)"
  ensure_dir /etc/systemd/journal-upload.conf.d 755 root:root
  install_text "$upload_conf" 644 root:root < <(printf '# cco: written by provision.sh from LOG_COLLECTOR\n[Upload]\nURL=http://%s\n' "$LOG_COLLECTOR")
  ensure_unit systemd-journal-upload.service "$CHANGED"
else
  if systemctl is-enabled --quiet systemd-journal-upload.service 2> /dev/null; then
    systemctl disable --now --quiet systemd-journal-upload.service
    log "disabled systemd-journal-upload.service"
  fi
  if [ -e "$upload_conf" ]; then rm -f "$upload_conf"; log "removed $upload_conf"; fi
fi

# --- job hooks and the spool they append to -----------------------------------
ensure_dir /var/spool/cco 755 root:root
[ -f /var/spool/cco/events.jsonl ] || install -m 620 -o root -g runner /dev/null /var/spool/cco/events.jsonl
ensure_dir /var/lib/cco 700 root:root
for f in job-hook.sh job-started.sh job-completed.sh forwarder.sh runner-env.sh drain.sh; do
  install_file "$HERE/$f" "/opt/cco/$f" 755 root:root
done

# --- cron and at for root only: a job leaves nothing behind that runs later ----
# (for whichever of them is installed, now or later)
printf 'root\n' | install_text /etc/cron.allow 644 root:root
printf 'root\n' | install_text /etc/at.allow 644 root:root

# --- the Actions runner, pinned and verified before unpacking ----------------
# Jobs run as runner and can write anything under $RUNNER_DIR, so root takes no
# decision from there and runs nothing from there: the version marker and the
# runner id live in /var/lib/cco (0700 root), and installdependencies.sh runs
# from the verified tarball, unpacked into a root-owned temporary directory.
# With auto-update the pinned version is only the bootstrap: the runner updates
# itself (update.sh.template in actions/runner: bin and externals become
# symlinks to bin.<version> and externals.<version>), and the marker follows
# it. A pinned version is unpacked only when newer than what runs, so a
# later bump never downgrades a runner that updated itself.
ensure_dir /var/cache/cco 755 root:root
tarball=/var/cache/cco/actions-runner-linux-x64-$RUNNER_VERSION.tar.gz
fetch_verified "$RUNNER_URL" "$RUNNER_SHA256" "$tarball"
version_file=/var/lib/cco/runner-version
version_lt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; }
# installed_version: the version a self-update linked bin to, else the one provisioning unpacked.
installed_version() {
  local target
  if [ -L "$RUNNER_DIR/bin" ]; then
    target=$(readlink "$RUNNER_DIR/bin")
    target=${target##*/bin.}
    [[ $target =~ ^[0-9]+(\.[0-9]+)+$ ]] && printf '%s\n' "$target"
  elif [ -d "$RUNNER_DIR/bin" ]; then
    cat "$version_file" 2> /dev/null || true
  fi
}
# as_runner: what root does in the runner's home it does as runner, so a path a
# job swapped for a symlink (to a root-owned place) gains the job nothing: root
# never creates, chowns, writes or reads there itself.
as_runner() { runuser -u runner -- "$@"; }
installed=$(installed_version)
if [ -z "$installed" ] || version_lt "$installed" "$RUNNER_VERSION"; then
  drain_runner force
  # A process the job left behind may have swapped the directory while we waited.
  [ ! -L "$RUNNER_DIR" ] || die "refusing to unpack the runner: $RUNNER_DIR is a symlink ($(readlink "$RUNNER_DIR")), not the runner's directory"
  as_runner mkdir -p -m 750 "$RUNNER_DIR"
  as_runner chmod 750 "$RUNNER_DIR"
  # Unpacked beside a self-update's links, never through them (tar would write into bin.<old>).
  for d in bin externals; do
    if [ -L "$RUNNER_DIR/$d" ]; then as_runner rm -f "$RUNNER_DIR/$d"; fi
  done
  as_runner tar -xzf "$tarball" -C "$RUNNER_DIR"
  deps=$(mktemp -d)
  tar -xzf "$tarball" -C "$deps" --no-same-owner --wildcards '*bin/installdependencies.sh'
  "$deps/bin/installdependencies.sh" > /dev/null
  rm -rf "$deps"
  printf '%s\n' "$RUNNER_VERSION" | install_text "$version_file" 644 root:root
  as_runner rm -f "$RUNNER_DIR/.cco-version" # where older provisionings kept the marker
  log "unpacked runner $RUNNER_VERSION${installed:+ over $installed}"
else
  printf '%s\n' "$installed" | install_text "$version_file" 644 root:root
fi

# --- registration, once ---------------------------------------------------------
runner_id_file=/var/lib/cco/runner-id
# record_runner_id: the agentId config.sh wrote in .runner, kept where jobs cannot change it.
record_runner_id() {
  local id
  id=$(as_runner jq -r '.agentId // empty' "$RUNNER_DIR/.runner" 2> /dev/null || true)
  [[ $id =~ ^[0-9]+$ ]] || die "no runner id in $RUNNER_DIR/.runner"
  printf '%s\n' "$id" | install_text "$runner_id_file" 644 root:root
}
# Registered means: this provisioning recorded a runner id. Never decided from
# .runner, which jobs can change (a job deleting it must not make root stop the
# runner and re-register with a token that may have expired).
if [ "$RUNNER_MODE" = persistent ] && [ ! -s "$runner_id_file" ]; then
  require REGISTRATION_TOKEN
  # No job runs while config.sh holds the token (a job runs as the same user).
  drain_runner force
  # A directory configured without a recorded id (provisioning interrupted after
  # config.sh, a restored container): config.sh refuses to configure it again
  # ("already configured", ConfigurationManager.cs), so drop its local
  # registration first; --replace then takes over the name in GitHub.
  if [ -e "$RUNNER_DIR/.runner" ]; then
    runuser -u runner -- "$RUNNER_DIR/config.sh" remove --local > /dev/null
    log "removed the local registration left without a recorded runner id"
  fi
  update_flag=()
  [ "${RUNNER_AUTO_UPDATE:-false}" = true ] || update_flag=(--disableupdate)
  # The token reaches config.sh in its environment, which the runner reads as
  # its --token argument (ACTIONS_RUNNER_INPUT_<ARG>): a command line is
  # readable by every user in /proc, an environment only by its own user and root.
  ACTIONS_RUNNER_INPUT_TOKEN=$REGISTRATION_TOKEN runuser -u runner -- "$RUNNER_DIR/config.sh" --unattended --replace \
    --url "$GITHUB_URL" --name "$RUNNER_NAME" \
    --labels "$RUNNER_LABELS" --work _work "${update_flag[@]}" > /dev/null
  # Recorded now, before the runner starts: no job has run since config.sh wrote .runner.
  record_runner_id
  log "registered $RUNNER_NAME"
fi

# --- services ---------------------------------------------------------------------
# The runner restarts only when its own unit changes, and only once its job is done.
runner_changed=0
install_file "$HERE/units/actions-runner.service" /etc/systemd/system/actions-runner.service 644 root:root
runner_changed=$((CHANGED | proxy_changed)) # the unit reads proxy.env when it starts
# Older provisionings kept KillMode=process for auto-update; run.sh makes it unneeded.
autoupdate_dropin=/etc/systemd/system/actions-runner.service.d/cco-autoupdate.conf
if [ -e "$autoupdate_dropin" ]; then
  rm -f "$autoupdate_dropin"
  runner_changed=1
  log "removed $autoupdate_dropin"
fi
forwarder_changed=0
install_file "$HERE/units/cco-forwarder.service" /etc/systemd/system/cco-forwarder.service 644 root:root
forwarder_changed=$CHANGED
install_file "$HERE/units/cco-forwarder.timer" /etc/systemd/system/cco-forwarder.timer 644 root:root
forwarder_changed=$((forwarder_changed | CHANGED))
[ "$((runner_changed | forwarder_changed))" = 1 ] && systemctl daemon-reload
ensure_unit cco-forwarder.timer "$forwarder_changed"
if [ "$RUNNER_MODE" = ephemeral ]; then
  # Started per life by cco-jit.path, one job each; never at boot.
  LIB=/opt/cco/lib.sh bash "$HERE/ephemeral/install.sh"
  exit 0
fi
# Persistent after ephemeral: the runner starts at boot again.
ephemeral_dropin=/etc/systemd/system/actions-runner.service.d/cco-ephemeral.conf
if [ -e "$ephemeral_dropin" ] || [ -e /etc/systemd/system/cco-jit.path ]; then
  systemctl disable --now --quiet cco-jit.path 2> /dev/null || true
  rm -f "$ephemeral_dropin" /etc/systemd/system/cco-jit.path
  systemctl daemon-reload
  log "removed the ephemeral runner side"
fi
# A restart ends a running job: wait for it first.
if [ "$runner_changed" = 1 ] && systemctl is-active --quiet actions-runner.service; then drain_runner force; fi
ensure_unit actions-runner.service

# The id GitHub gave this runner: the Pulumi program keeps it for deregistration.
printf 'runner-id=%s\n' "$(cat "$runner_id_file")"
