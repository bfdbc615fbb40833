# shellcheck shell=bash
# Helpers shared by the provisioning scripts. Sourced, never run.
#
# Every change goes through install_file / ensure_* so that a second run
# changes nothing: a file is rewritten (and its service reloaded) only when its
# content, owner or mode differs.

# Set by install_file when it wrote something.
# shellcheck disable=SC2034 # read by the scripts that source this one
CHANGED=0

log() { printf '%s %s\n' "[cco]" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Reads KEY=value parameters from a file (no code: only assignments of known
# shape are accepted) and exports them.
load_params() {
  local file=$1 line key value
  [ -r "$file" ] || die "no parameters file $file"
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || die "bad parameter line in $file: $line"
    export "$key=$value"
  done < "$file"
}

# Reads KEY=value secrets from stdin (never from argv or the environment of
# other processes) into variables.
read_secrets() {
  local line key
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in '' | '#'*) continue ;; esac
    key=${line%%=*}
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || die "bad secret line on stdin"
    printf -v "$key" '%s' "${line#*=}"
  done
}

require() {
  local name
  for name in "$@"; do
    [ -n "${!name:-}" ] || die "$name is required"
  done
}

# install_file SRC DEST MODE OWNER:GROUP — copies only when something differs.
install_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  CHANGED=0
  if [ -f "$dest" ] && cmp -s "$src" "$dest" &&
    [ "$(stat -c '%a %U:%G' "$dest")" = "$mode $owner" ]; then
    return 0
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest"
  CHANGED=1
  log "installed $dest"
}

# install_text DEST MODE OWNER:GROUP < content — install_file from stdin.
# Feed it by redirection (<<< or <) when CHANGED matters: the last part of a
# pipeline runs in a subshell, so `printf ... | install_text` loses CHANGED.
install_text() {
  local tmp
  tmp=$(mktemp)
  cat > "$tmp"
  install_file "$tmp" "$@"
  rm -f "$tmp"
}

ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [ ! -d "$dir" ]; then
    install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
    log "created $dir"
  elif [ "$(stat -c '%a %U:%G' "$dir")" != "$mode $owner" ]; then
    chmod "$mode" "$dir"
    chown "$owner" "$dir"
    log "fixed $dir"
  fi
}

# Enables and starts a unit unless it already is; restarts it when asked.
ensure_unit() {
  local unit=$1 restart=${2:-0}
  systemctl is-enabled --quiet "$unit" 2>/dev/null || { systemctl enable --quiet "$unit"; log "enabled $unit"; }
  if [ "$restart" = 1 ]; then
    systemctl restart "$unit"
    log "restarted $unit"
  elif ! systemctl is-active --quiet "$unit"; then
    systemctl start "$unit"
    log "started $unit"
  fi
}

# Downloads URL to DEST unless DEST already has SHA256, and checks the digest
# before anyone uses the file.
fetch_verified() {
  local url=$1 sha256=$2 dest=$3 tmp
  if [ -f "$dest" ] && echo "$sha256  $dest" | sha256sum --check --status; then
    return 0
  fi
  tmp="$dest.part"
  log "downloading $url"
  curl -fsSL --retry 3 --max-time 600 -o "$tmp" "$url" || { rm -f "$tmp"; die "cannot download $url"; }
  if ! echo "$sha256  $tmp" | sha256sum --check --status; then
    rm -f "$tmp"
    die "checksum mismatch for $url (expected $sha256)"
  fi
  mv "$tmp" "$dest"
}

# install_node VERSION SHA256 URL — Node.js unpacked into /opt/node-vVERSION,
# verified first, and /opt/node pointed at it (the stats service's container
# and the controller on a Proxmox node run their bundle with /opt/node/bin/node).
install_node() {
  local version=$1 sha256=$2 url=$3 tarball
  ensure_dir /var/cache/cco 755 root:root
  tarball=/var/cache/cco/node-v$version-linux-x64.tar.xz
  fetch_verified "$url" "$sha256" "$tarball"
  if [ ! -x "/opt/node-v$version/bin/node" ]; then
    install -d -m 755 "/opt/node-v$version"
    tar -xJf "$tarball" -C "/opt/node-v$version" --strip-components=1 --no-same-owner
    log "unpacked node $version"
  fi
  if [ "$(readlink /opt/node 2> /dev/null)" != "/opt/node-v$version" ]; then
    ln -sfn "/opt/node-v$version" /opt/node
    log "node -> $version"
  fi
}

# The runner's job runs in Runner.Worker (the listener starts one per job), as
# runner: its exact process name, whatever path or version it runs from.
runner_busy() { pgrep -u runner -x Runner.Worker > /dev/null; }

# drain_runner force|keep: waits up to RUNNER_DRAIN_S (600) seconds for the
# running job to end, then stops actions-runner.service. Stopping the listener
# fails a running job ("The runner has received a shutdown signal"), so every
# stop waits for the job first. At the deadline it stops anyway (force), or
# leaves the runner running and returns 75, still busy (keep).
# The listener may still take a new job in the instant between the check and the stop.
drain_runner() {
  local waited=0 limit=${RUNNER_DRAIN_S:-600}
  while runner_busy && [ "$waited" -lt "$limit" ]; do
    [ "$waited" = 0 ] && log "waiting up to ${limit}s for the running job to end"
    sleep 2
    waited=$((waited + 2))
  done
  if runner_busy; then
    [ "$1" = force ] || { log "a job is still running after ${limit}s: the runner is left running"; return 75; }
    log "a job is still running after ${limit}s: stopping the runner anyway (the job fails)"
  fi
  systemctl stop actions-runner.service 2> /dev/null || true
}
