#!/bin/bash
# Appends one job event (DESIGN.md event contract, plus actor, sha, ref and
# event name) to the spool the forwarder sends to the stats service.
#   job-hook.sh started|completed
# Run by the Actions runner (as user runner) through job-started.sh and
# job-completed.sh. It never fails a job: every error is swallowed, and the
# whole hook is bounded to 10 seconds.
#
# The runner starts a hook as `bash -e -o pipefail FILE` with the bash it finds
# first on the job's PATH, GITHUB_PATH entries first (actions/runner v2.329.0,
# src/Runner.Worker/JobHookProvider.cs, Handlers/ScriptHandler.cs): a job can
# put its own bash there, which this file cannot prevent. Everything from here
# on runs from a fixed PATH, by absolute path.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C

# Bound the whole hook: re-run under timeout, and always report success.
if [ -z "${CCO_HOOK_BOUNDED:-}" ]; then
  CCO_HOOK_BOUNDED=1 /usr/bin/timeout "${CCO_HOOK_TIMEOUT_S:-10}" /bin/bash "$0" "$@" 2> /dev/null
  exit 0
fi

kind=${1:-}
spool=${CCO_SPOOL:-/var/spool/cco/events.jsonl}
diag=${CCO_RUNNER_DIAG:-/home/runner/actions-runner/_diag}

case $kind in
  started | completed) ;;
  *) exit 0 ;;
esac

# This job's Worker log: the Worker writes _diag/Worker_YYYYMMDD-HHMMSS-utc.log
# and starts a new page (a new file) every 8 MB (src/Runner.Common/HostTraceListener.cs,
# HostContext.cs _defaultLogPageSize). Its first page opens with the Worker's
# "Version:" line (src/Runner.Worker/Program.cs); the pages of this job are the
# newest such page and every page after it (one job at a time per runner).
pages=()
for f in "$diag"/Worker_*.log; do [ -f "$f" ] && pages+=("$f"); done
first=-1
for ((i = ${#pages[@]} - 1; i >= 0; i--)); do
  if /usr/bin/grep -Eq '^\[[0-9-]+ [0-9:]+Z INFO Worker\] Version: ' "${pages[i]}"; then
    first=$i
    break
  fi
done
job_pages=()
[ "$first" -ge 0 ] && job_pages=("${pages[@]:first}")

# The display name (in the job message on the first page) tells matrix legs (same job id) apart.
display=""
[ "$first" -ge 0 ] && display=$(/usr/bin/grep -o -m 1 '"jobDisplayName": *"[^"]*"' "${job_pages[0]}" | /usr/bin/sed 's/.*: *"\(.*\)"$/\1/')

result=""
if [ "$kind" = completed ]; then
  # The runner hands hooks no result. After every step, StepsRunner logs the
  # job's state ("Current state: job state = 'Failed'", empty while nothing
  # changed it: src/Runner.Worker/StepsRunner.cs v2.329.0); this hook is the
  # last post-job step, so the last such line is the job's result so far.
  # Without one, the result is unknown rather than guessed.
  state=unknown
  if [ "${#job_pages[@]}" -gt 0 ]; then
    line=$(/usr/bin/grep -h -E "^\[[^]]* INFO StepsRunner\] Current state: job state = '[A-Za-z]*'" "${job_pages[@]}" | /usr/bin/tail -n 1)
    [ -n "$line" ] && state=$(printf '%s\n' "$line" | /usr/bin/sed -E "s/.*job state = '([A-Za-z]*)'.*/\1/")
  fi
  case $state in
    '' | Succeeded | SucceededWithIssues) result=succeeded ;;
    Failed) result=failed ;;
    Canceled | Cancelled) result=cancelled ;;
    *) result=unknown ;;
  esac
fi

# Ephemeral runners: GitHub knows the life's runner (<container>-<suffix>, named
# by the controller), the stats service the container (its slot), whose own
# credential the forwarder holds: the event is the slot's, the life's name kept.
runner=${RUNNER_NAME:-$(/usr/bin/hostname)}
life_runner=""
host=$(/usr/bin/hostname 2> /dev/null) || host=""
if [ -n "$host" ] && [[ $runner == "$host"-* ]] && [[ ${runner#"$host"-} =~ ^[0-9a-z]+$ ]]; then
  life_runner=$runner
  runner=$host
fi

line=$(/usr/bin/jq -cn \
  --arg type "job_$kind" \
  --arg ts "$(/usr/bin/date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \
  --arg runner "$runner" \
  --arg lifeRunner "$life_runner" \
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
   + {actor: $actor, sha: $sha, ref: $ref, event: $event}
   + (if $lifeRunner == "" then {} else {lifeRunner: $lifeRunner} end)' 2> /dev/null) || line=""
# One write of one line: appends from concurrent hooks never interleave.
[ -n "$line" ] && printf '%s\n' "$line" >> "$spool" 2> /dev/null
exit 0
