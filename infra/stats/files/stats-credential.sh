#!/usr/bin/env bash
# Adds or removes one runner's ingest credential on the stats service (as root):
#   cco-stats-credential add RUNNER     reads "sha256:<64 hex>" (the hash of the runner's token) on stdin
#   cco-stats-credential remove RUNNER
# One file per runner in the directory the service reads (STATS_CREDENTIALS_FILE):
# the service takes the change at the next request or pass, without a restart.
# Idempotent: adding the same hash again, or removing what is gone, changes nothing.
set -euo pipefail
# Overridable for the test that runs this script against the service's reader.
DIR=${CCO_STATS_CREDENTIALS_DIR:-/etc/cco-stats/credentials.d}
GROUP=${CCO_STATS_GROUP:-cco-stats}
action=${1:-}
runner=${2:-}
[[ $runner =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || { echo "cco-stats-credential: bad runner name" >&2; exit 2; }
case $action in
  add)
    IFS= read -r hash || true
    [[ $hash =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "cco-stats-credential: expected sha256:<64 hex digits> on stdin" >&2; exit 2; }
    install -d -m 750 -g "$GROUP" "$DIR"
    line="$runner $hash"
    if [ -f "$DIR/$runner" ] && [ "$(cat "$DIR/$runner")" = "$line" ]; then exit 0; fi
    # Written beside, then renamed: the service never reads half a line (it skips dot files).
    tmp=$(mktemp "$DIR/.$runner.XXXXXX")
    printf '%s\n' "$line" > "$tmp"
    chgrp "$GROUP" "$tmp"
    chmod 640 "$tmp"
    mv -f "$tmp" "$DIR/$runner"
    echo "cco-stats-credential: $runner added"
    ;;
  remove)
    if [ -e "$DIR/$runner" ]; then
      rm -f "$DIR/$runner"
      echo "cco-stats-credential: $runner removed"
    fi
    ;;
  *)
    echo "usage: cco-stats-credential add|remove RUNNER" >&2
    exit 2
    ;;
esac
