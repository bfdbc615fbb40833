#!/usr/bin/env bash
# STUB of the GitHub Actions runner's just-in-time mode (LXC ephemeral test),
# following actions/runner at 258d6c8:
# - the config comes as --jitconfig or ACTIONS_RUNNER_INPUT_JITCONFIG, which is
#   then removed from the environment (src/Runner.Listener/CommandSettings.cs);
# - it is base64 of a JSON object {file name: base64 content}, each written
#   into the runner's root (.runner, .credentials, .credentials_rsaparams:
#   src/Runner.Listener/Runner.cs, "Saved ... bytes to");
# - a JIT runner is ephemeral (.runner "ephemeral": true): it runs ONE job and
#   exits 0 (Runner.cs: runOnce = command.RunOnce || settings.Ephemeral).
# The "broker" is the test's fake GitHub, over the Unix socket .runner names
# (stubSocket): POST /_broker/sessions (the credentials; 409 when a session of
# this runner exists, 401 once the runner is gone), GET .../job (204: none
# yet), POST /_broker/jobs/<id>/complete. The job is a bash script, run as
# this user in _work with RUNNER_TRACKING_ID set as the Worker sets it; its
# stdout goes back with the completion.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jit=""
while [ "$#" -gt 0 ]; do
  case $1 in
    --jitconfig) jit=$2; shift 2 ;;
    *) shift ;;
  esac
done
jit=${jit:-${ACTIONS_RUNNER_INPUT_JITCONFIG:-}}
unset ACTIONS_RUNNER_INPUT_JITCONFIG
[ -n "$jit" ] || { echo "Runner is not configured." >&2; exit 1; }
json=$(printf '%s' "$jit" | base64 -d)
for name in $(jq -r 'keys[]' <<< "$json"); do
  case $name in .runner | .credentials | .credentials_rsaparams) ;; *) echo "unexpected file $name in jitconfig" >&2; exit 1 ;; esac
  jq -r --arg k "$name" '.[$k]' <<< "$json" | base64 -d > "$root/$name"
done
socket=$(jq -r .stubSocket "$root/.runner")
name=$(jq -r .agentName "$root/.runner")
auth="Authorization: Bearer $(jq -r .data.clientId "$root/.credentials"):$(jq -r .d "$root/.credentials_rsaparams")"
broker() { curl -sS --unix-socket "$socket" -H "$auth" -o /dev/stdout -w '\n%{http_code}' "$@" "http://github.invalid/_broker${path}"; }
diag=$root/_diag
mkdir -p "$diag"
log() { printf '%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" >> "$diag/Runner_jit.log"; }

path=/sessions
out=$(broker -X POST) || { log "session: no broker"; exit 1; }
code=${out##*$'\n'}
[ "$code" = 201 ] || { log "session refused: $code ${out%$'\n'*}"; exit 1; }
session=$(jq -r .sessionId <<< "${out%$'\n'*}")
log "listening as $name (session $session)"

while :; do
  path=/sessions/$session/job
  out=$(broker) || { sleep 0.2; continue; }
  code=${out##*$'\n'}
  [ "$code" = 204 ] && continue
  [ "$code" = 200 ] || { log "job poll: $code"; exit 1; }
  break
done
job=${out%$'\n'*}
id=$(jq -r .id <<< "$job")
work=$root/_work/$(jq -r .repo <<< "$job" | tr / _)
mkdir -p "$work"
log "running job $id"
export GITHUB_REPOSITORY GITHUB_RUN_ID GITHUB_JOB RUNNER_NAME=$name RUNNER_TRACKING_ID
GITHUB_REPOSITORY=$(jq -r .repo <<< "$job")
GITHUB_RUN_ID=$id
GITHUB_JOB=$(jq -r .job <<< "$job")
RUNNER_TRACKING_ID=github_$(cat /proc/sys/kernel/random/uuid)
hook() { if [ -n "${1:-}" ] && [ -x "$1" ]; then "$1" || true; fi; }
hook "${ACTIONS_RUNNER_HOOK_JOB_STARTED:-}"
result=succeeded
output=$(cd "$work" && jq -r .script <<< "$job" | bash 2>&1) || result=failed
hook "${ACTIONS_RUNNER_HOOK_JOB_COMPLETED:-}"
path=/jobs/$id/complete
jq -n --arg result "$result" --arg output "$output" '{result: $result, output: $output}' |
  broker -X POST -H 'Content-Type: application/json' --data-binary @- > /dev/null || true
log "job $id $result"
exit 0
