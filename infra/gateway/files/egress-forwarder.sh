#!/usr/bin/env bash
# Sends the gateway's decisions to the stats service, run every minute by
# cco-egress-forwarder.timer. Reads squid's access log from a saved byte
# offset, keeps one line per connection (egress-decisions.awk), names each
# client by the runner that holds its address (RUNNER_ADDRESSES, written by
# the program), groups them per (runner, name, verdict) with the time of each
# connection, and posts them as extra fields of a heartbeat under the
# gateway's own stats credential (STATS_RUNNER): DESIGN.md has no other event
# type, and the service takes egress figures from that name only
# (service/aggregate/egress.ts). At most CCO_BATCH_LINES log lines go in one
# heartbeat (the service takes at most 5000 connection times in one; its body
# limit is 1 MiB): more are sent as several. The offset advances only after a
# 202: nothing is lost while the service is down, nothing sent twice once it
# answered. A rotated log (logrotate-cco-gateway: access.log.1, uncompressed
# for a day) is finished first, found by its inode.
# The token never appears on a command line: curl reads its header from a
# file in a private directory.
set -uo pipefail
HERE=$(dirname "$0")
# shellcheck source=../../runners/files/lib.sh
. "$HERE/lib.sh"
load_params "${CCO_PARAMS:-/etc/cco-gateway/gateway.env}"
require STATS_URL STATS_RUNNER
export LC_ALL=C # lengths below are bytes

access_log=${CCO_ACCESS_LOG:-/var/log/cco-gateway/access.log}
# The unit's StateDirectory= and LoadCredential= (systemd), or the test's.
state=${CCO_STATE:-${STATE_DIRECTORY:-/var/lib/cco-egress-forwarder}}
token_file=${CCO_TOKEN_FILE:-${CREDENTIALS_DIRECTORY:-/nonexistent}/ingest-token}
decisions_awk=${CCO_DECISIONS_AWK:-$HERE/egress-decisions.awk}
max_lines=${CCO_BATCH_LINES:-4000}
# The service keeps 7 days: an older connection (after a long outage) is counted as truncated, not sent.
keep_ms=$(((7 * 24 - 1) * 3600 * 1000))
offset_file=$state/access.offset

[[ $STATS_RUNNER =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad STATS_RUNNER: $STATS_RUNNER"
# "address=runner ..." of the runners' reserved addresses.
for pair in ${RUNNER_ADDRESSES:-}; do
  [[ $pair =~ ^[0-9.]+=[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad RUNNER_ADDRESSES item: $pair"
done
[ -r "$token_file" ] || die "no ingest token at $token_file"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$token_file")" > "$work/header")
post() {
  curl -sS --max-time 30 -o "$work/response" -w '%{http_code}' -H "@$work/header" \
    -H 'Content-Type: application/json' --data-binary "@$1" "$STATS_URL/api/events" 2> /dev/null || true
}
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }

# heartbeat DECISIONS_TSV -> one heartbeat event on stdout, the decisions grouped.
heartbeat() {
  local ts now_ms
  ts=$(now_iso)
  now_ms=$(date -u +%s%3N)
  awk -F '\t' -v map="${RUNNER_ADDRESSES:-}" -v ts="$ts" -v runner="$STATS_RUNNER" -v oldest=$((now_ms - keep_ms)) '
    BEGIN { n = split(map, pairs, " "); for (i = 1; i <= n; i++) { split(pairs[i], kv, "="); who[kv[1]] = kv[2] } }
    NF == 4 {
      if ($4 + 0 < oldest) { truncated++; next }
      r = ($1 in who) ? who[$1] : "unknown"
      k = r "\t" $2 "\t" $3
      if (k in at) at[k] = at[k] "," $4
      else { order[++groups] = k; at[k] = $4 }
    }
    END {
      printf "{\"v\":1,\"type\":\"heartbeat\",\"ts\":\"%s\",\"runner\":\"%s\",\"egress\":{\"decisions\":[", ts, runner
      for (g = 1; g <= groups; g++) {
        split(order[g], p, "\t")
        printf "%s{\"runner\":\"%s\",\"name\":\"%s\",\"verdict\":\"%s\",\"at\":[%s]}", (g > 1 ? "," : ""), p[1], p[2], p[3], at[order[g]]
      }
      printf "],\"truncated\":%d}}\n", truncated + 0
    }
  ' "$1"
}

# save INODE OFFSET: where the next run starts (written whole, by rename).
save() { echo "$1 $2" > "$offset_file.new" && mv "$offset_file.new" "$offset_file"; }

# forward FILE INODE OFFSET: sends FILE's complete lines past OFFSET, saving
# the offset after each batch the service answered. Returns 1 when it did not.
forward() {
  local file=$1 inode=$2 offset=$3 size bytes status skipped
  for _ in $(seq 1 1000); do
    size=$(stat -c %s "$file" 2> /dev/null || echo 0)
    if [ "$size" -lt "$offset" ]; then
      log "$file shrank below the forwarded offset: reading it again from the start"
      offset=0
    fi
    [ "$size" -gt "$offset" ] || break
    tail -c +"$((offset + 1))" "$file" | head -n "$max_lines" > "$work/chunk"
    # Only complete lines: squid may be writing the last one.
    if [ -n "$(tail -c 1 "$work/chunk")" ]; then
      head -n -1 "$work/chunk" > "$work/chunk.whole"
      mv "$work/chunk.whole" "$work/chunk"
    fi
    bytes=$(stat -c %s "$work/chunk")
    [ "$bytes" -gt 0 ] || break
    awk -f "$decisions_awk" "$work/chunk" > "$work/decisions" 2> "$work/skipped"
    skipped=$(sed -n 's/^skipped \([0-9]*\)$/\1/p' "$work/skipped")
    [ -z "$skipped" ] || log "skipped $skipped log lines with a name or client out of shape"
    if [ -s "$work/decisions" ]; then
      heartbeat "$work/decisions" > "$work/batch"
      status=$(post "$work/batch")
      case $status in
        202) : > "$work/sent" ;;
        400 | 413)
          # The service will never take this batch: set it aside in the journal, go on.
          log "the stats service refused a batch ($status): $(head -c 300 "$work/response") -- $(head -c 200 "$work/batch")..."
          ;;
        *)
          log "stats service answered $status; will retry"
          return 1
          ;;
      esac
    fi
    offset=$((offset + bytes))
    save "$inode" "$offset"
  done
  return 0
}

read -r saved_inode saved_offset < "$offset_file" 2> /dev/null || { saved_inode=0; saved_offset=0; }
[[ $saved_inode =~ ^[0-9]+$ && $saved_offset =~ ^[0-9]+$ ]] || { saved_inode=0; saved_offset=0; }
inode=$(stat -c %i "$access_log" 2> /dev/null || echo 0)
result=0
if [ "$saved_inode" != 0 ] && [ "$saved_inode" != "$inode" ]; then
  # Rotated since the last run: finish the old file (access.log.1) first.
  if [ "$(stat -c %i "$access_log.1" 2> /dev/null)" = "$saved_inode" ]; then
    forward "$access_log.1" "$saved_inode" "$saved_offset" || result=1
    saved_offset=0
  else
    log "the log the offset was saved for is gone (rotated twice?): reading $access_log from its start"
    saved_offset=0
  fi
fi
if [ "$result" = 0 ] && [ "$inode" != 0 ]; then
  [ "$saved_inode" = "$inode" ] || save "$inode" 0
  forward "$access_log" "$inode" "$saved_offset" || result=1
fi

# A plain heartbeat when nothing else went: the gateway is alive and can reach the service.
if [ ! -f "$work/sent" ]; then
  printf '{"v":1,"type":"heartbeat","ts":"%s","runner":"%s"}\n' "$(now_iso)" "$STATS_RUNNER" > "$work/batch"
  status=$(post "$work/batch")
  [ "$status" = 202 ] || log "heartbeat not accepted ($status)"
fi
exit "$result"
