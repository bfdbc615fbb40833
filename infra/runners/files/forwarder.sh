#!/usr/bin/env bash
# Sends the job events the hooks appended to the spool to the stats service
# (POST /api/events, NDJSON) and a heartbeat for this runner. Run by
# cco-forwarder.timer. The offset advances only after a 202, so nothing is
# lost while the stats service is down; a line the service refuses (400, or
# 413 for a single line over its body limit) is set aside in the journal and
# skipped, so one bad line never blocks the rest.
# The ingest token never appears on a command line (any user can read
# /proc/*/cmdline): curl reads its Authorization header from a 0600 file.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
load_params "${CCO_PARAMS:-/etc/cco/runner.env}"
require RUNNER_NAME STATS_URL
export LC_ALL=C # lengths below are bytes

spool=${CCO_SPOOL:-/var/spool/cco/events.jsonl}
state=${CCO_STATE:-/var/lib/cco}
token_file=${CCO_TOKEN_FILE:-/etc/cco/ingest-token}
max_lines=${CCO_BATCH_LINES:-1000}
max_bytes=${CCO_BATCH_BYTES:-524288}

# post FILE -> prints the HTTP status; the body goes to $response.
# Every temporary file lives in one private directory (0700, from mktemp -d;
# inside the unit's own /tmp too, PrivateTmp=yes): no name in it is known to,
# or can be planted by, another user, so no symlink of a job's is ever followed.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
response=$work/response
batch=$work/batch
header=$work/header
(umask 077 && : > "$header")
printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" > "$header"
post() {
  curl -sS --max-time 30 -o "$response" -w '%{http_code}' \
    -H "@$header" -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$1" "$STATS_URL/api/events" 2> /dev/null || true # curl prints 000 when it cannot connect
}

# forward SPOOL OFFSET_FILE: sends complete lines past the offset, batch by batch.
forward() {
  local file=$1 offset_file=$2 offset size lines bytes line n status bad cap=$max_lines
  [ -f "$file" ] || return 0
  offset=$(cat "$offset_file" 2> /dev/null || echo 0)
  [[ $offset =~ ^[0-9]+$ ]] || offset=0
  for _ in $(seq 1 1000); do
    size=$(stat -c %s "$file")
    if [ "$size" -lt "$offset" ]; then
      log "$file shrank below the forwarded offset: reading it again from the start"
      offset=0
    fi
    [ "$size" -gt "$offset" ] || break
    : > "$batch"
    lines=0
    bytes=0
    # Only complete lines: read -r fails on a last line without its newline.
    while IFS= read -r line; do
      n=$((${#line} + 1))
      if [ "$lines" -ge "$cap" ] || { [ "$lines" -gt 0 ] && [ $((bytes + n)) -gt "$max_bytes" ]; }; then break; fi
      printf '%s\n' "$line" >> "$batch"
      lines=$((lines + 1))
      bytes=$((bytes + n))
    done < <(tail -c +"$((offset + 1))" "$file")
    [ "$lines" -gt 0 ] || break
    status=$(post "$batch")
    if [ "$status" = 202 ]; then
      offset=$((offset + bytes))
      echo "$offset" > "$offset_file"
      continue
    fi
    if [ "$status" = 400 ]; then
      # The service names the first bad line: send what precedes it, skip it.
      bad=$(jq -r '.line // 1' "$response" 2> /dev/null || echo 1)
      [[ $bad =~ ^[0-9]+$ ]] && [ "$bad" -ge 1 ] || bad=1
      skip=$(sed -n "${bad}p" "$batch")
      head -n "$((bad - 1))" "$batch" > "$batch.good"
      if [ "$bad" -gt 1 ]; then
        status=$(post "$batch.good")
        [ "$status" = 202 ] || { rm -f "$batch.good"; log "stats service answered $status; will retry"; return 1; }
      fi
      offset=$((offset + $(stat -c %s "$batch.good") + ${#skip} + 1))
      rm -f "$batch.good"
      echo "$offset" > "$offset_file"
      log "skipped a line the stats service refused: $(jq -c . "$response" 2> /dev/null) -- $skip"
      continue
    fi
    if [ "$status" = 413 ] && [ "$lines" -gt 1 ]; then
      # Too large for the service as a batch: go on one line at a time.
      cap=1
      continue
    fi
    if [ "$status" = 413 ]; then
      # One line over the service's body limit can never be accepted: skip it.
      offset=$((offset + bytes))
      echo "$offset" > "$offset_file"
      log "skipped a line the stats service refused as too large ($bytes bytes): $(jq -c . "$response" 2> /dev/null) -- $(head -c 200 "$batch")..."
      continue
    fi
    log "stats service answered $status; will retry"
    return 1
  done
  return 0
}

# A spool set aside by rotation is finished first.
if [ -f "$spool.1" ]; then
  forward "$spool.1" "$state/spool.1.offset" && [ "$(cat "$state/spool.1.offset" 2> /dev/null)" = "$(stat -c %s "$spool.1")" ] &&
    rm -f "$spool.1" "$state/spool.1.offset"
fi
forward "$spool" "$state/spool.offset"
sent=$?

# Rotate a large spool once everything in it is forwarded: rename it, give the
# hooks a new one, and finish the old one next time (a hook mid-append lands there).
if [ "$sent" = 0 ] && [ ! -f "$spool.1" ] && [ "$(stat -c %s "$spool")" -gt "${CCO_ROTATE_BYTES:-16777216}" ]; then
  mv "$spool" "$spool.1"
  mv "$state/spool.offset" "$state/spool.1.offset"
  install -m 620 -o "$(stat -c %U "$spool.1")" -g "$(stat -c %G "$spool.1")" /dev/null "$spool"
  log "rotated the spool"
fi

# code_of: the last listener exit code among the journal lines on stdin, as the
# runner's run-helper.sh logs it (actions/runner src/Misc/layoutroot/run-helper.sh.template,
# v2.329.0 and v2.336.0: one line per code), or nothing.
code_of() {
  sed -nE \
    -e 's/^Runner listener exit with 0 return code.*/0/p' \
    -e 's/^Runner listener exit with terminated error.*/1/p' \
    -e 's/^Runner listener exit with retryable error.*/2/p' \
    -e 's/^Runner listener exit because of updating.*/3/p' \
    -e 's/^Runner listener exit with Session Conflict error.*/5/p' \
    -e 's/^Runner listener exit with deprecated version exit code: ([0-9]+).*/\1/p' \
    -e 's/^Exiting with unknown error code: ([0-9]+).*/\1/p' | tail -n 1
}
# listener_code: the listener's last exit code in this run of the unit, or nothing.
listener_code() {
  local id since code=""
  id=$(systemctl show -P InvocationID actions-runner.service 2> /dev/null || true)
  [ -z "$id" ] || code=$(journalctl --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$id" 2> /dev/null | code_of)
  # The line run-helper.sh writes just before the unit stops can lack the
  # invocation: journald may read it after the process and its cgroup are gone
  # (systemd's test/units/TEST-04-JOURNAL.invocation.sh syncs the journal before
  # a service exits for that reason; one CI run of ours missed the code). Such a
  # line keeps the unit's name (src/journal/journald-context.c falls back to the
  # unit of the stdout stream): then the unit's lines since its last start.
  if [ -z "$code" ]; then
    since=$(systemctl show -P ExecMainStartTimestamp --timestamp=unix actions-runner.service 2> /dev/null || true)
    [[ $since =~ ^@[0-9]+$ ]] || return 0
    code=$(journalctl --no-pager -o cat -u actions-runner.service --since "$since" 2> /dev/null | code_of)
  fi
  printf '%s\n' "$code"
}
# listener_state: "<state> <code|null>" of the runner's listener. refused: it
# stopped with a code that needs an operator: 1 (runner deleted in GitHub,
# access denied, version refused before 2.333, not configured) or 7 (version
# refused); failed: any other stop but a clean 0, a unit that failed or is
# waiting to restart.
listener_state() {
  local active main code
  active=$(systemctl show -P ActiveState actions-runner.service 2> /dev/null) || { echo "failed null"; return; }
  case $active in
    active | reloading) echo "running null"; return ;;
  esac
  code=$(listener_code)
  main=$(systemctl show -P ExecMainStatus actions-runner.service 2> /dev/null || true)
  # run.sh passes 7 on (>= 2.333); it reports the other codes as 0.
  [ "$main" = 7 ] && code=7
  case ${code:-none} in
    1 | 7) echo "refused $code" ;;
    0 | none) if [ "$active" = inactive ]; then echo "stopped ${code:-null}"; else echo "failed ${code:-null}"; fi ;;
    *) echo "failed $code" ;;
  esac
}

# The heartbeat: this runner is alive and can reach the stats service, and its listener's state.
read -r listener listener_exit < <(listener_state)
printf '{"v":1,"type":"heartbeat","ts":"%s","runner":"%s","listener":"%s","listenerExitCode":%s}\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$RUNNER_NAME" "$listener" "$listener_exit" > "$batch"
status=$(post "$batch")
[ "$status" = 202 ] || log "heartbeat not accepted ($status)"
exit "$sent"
