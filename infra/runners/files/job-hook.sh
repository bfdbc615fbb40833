#!/usr/bin/env bash
# Appends one job event (DESIGN.md event contract, plus actor, sha, ref and
# event name) to the spool the forwarder sends to the stats service.
#   job-hook.sh started|completed
# Run by the Actions runner (as user runner) through job-started.sh and
# job-completed.sh. It never fails a job: every error is swallowed, and the
# whole hook is bounded to 10 seconds.

# Bound the whole hook: re-run under timeout, and always report success.
if [ -z "${CCO_HOOK_BOUNDED:-}" ]; then
  CCO_HOOK_BOUNDED=1 timeout "${CCO_HOOK_TIMEOUT_S:-10}" "$0" "$@" 2> /dev/null
  exit 0
fi

kind=${1:-}
spool=${CCO_SPOOL:-/var/spool/cco/events.jsonl}
diag=${CCO_RUNNER_DIAG:-/home/runner/actions-runner/_diag}

case $kind in
  started | completed) ;;
  *) exit 0 ;;
esac

# This job's Worker log is the newest (names are Worker_YYYYMMDD-HHMMSS-utc.log).
worker=""
for f in "$diag"/Worker_*.log; do [ -f "$f" ] && worker=$f; done
# The display name tells matrix legs (same job id) apart.
display=""
[ -n "$worker" ] && display=$(grep -o '"jobDisplayName": *"[^"]*"' "$worker" | head -n 1 | sed 's/.*: *"\(.*\)"$/\1/')
result=""
if [ "$kind" = completed ]; then
  # The runner hands hooks no job result; the results of the steps so far are in its log.
  result=succeeded
  if [ -n "$worker" ]; then
    if grep -Eq "current step result '(Canceled|Cancelled)'|Step result: (Canceled|Cancelled)" "$worker"; then
      result=cancelled
    elif grep -Eq "current step result 'Failed'|Step result: Failed" "$worker"; then
      result=failed
    fi
  fi
fi

line=$(jq -cn \
  --arg type "job_$kind" \
  --arg ts "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \
  --arg runner "${RUNNER_NAME:-$(hostname)}" \
  --arg repo "${GITHUB_REPOSITORY:-}" \
  --arg workflow "${GITHUB_WORKFLOW:-}" \
  --arg job "${display:-${GITHUB_JOB:-}}" \
  --arg runId "${GITHUB_RUN_ID:-0}" \
  --arg runAttempt "${GITHUB_RUN_ATTEMPT:-1}" \
  --arg result "$result" \
  --arg actor "${GITHUB_ACTOR:-}" \
  --arg sha "${GITHUB_SHA:-}" \
  --arg ref "${GITHUB_REF:-}" \
  --arg event "${GITHUB_EVENT_NAME:-}" \
  '{v: 1, type: $type, ts: $ts, runner: $runner, repo: $repo, workflow: $workflow, job: $job,
    runId: ($runId | tonumber), runAttempt: ($runAttempt | tonumber)}
   + (if $result == "" then {} else {result: $result} end)
   + {actor: $actor, sha: $sha, ref: $ref, event: $event}' 2> /dev/null) || line=""
# One write of one line: appends from concurrent hooks never interleave.
[ -n "$line" ] && printf '%s\n' "$line" >> "$spool" 2> /dev/null
exit 0
