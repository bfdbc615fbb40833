#!/bin/bash
# ExecStartPre of actions-runner.service, as the runner user: writes the
# runner's .env from the unit's own environment before every start.
# Runner.Listener loads .env at every start and its values win over the unit's
# Environment= (actions/runner v2.329.0, src/Runner.Listener/Program.cs
# LoadAndSetEnv): a job that blanked the hooks there and restarted the
# listener would otherwise run the next jobs without them.
set -euo pipefail
dir=${RUNNER_DIR:-/home/runner/actions-runner}
tmp=$(mktemp "$dir/.env.XXXXXX")
{
  printf 'LANG=%s\n' "${LANG:-C.UTF-8}"
  printf 'ACTIONS_RUNNER_HOOK_JOB_STARTED=%s\n' "${ACTIONS_RUNNER_HOOK_JOB_STARTED:?}"
  printf 'ACTIONS_RUNNER_HOOK_JOB_COMPLETED=%s\n' "${ACTIONS_RUNNER_HOOK_JOB_COMPLETED:?}"
  printf 'ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=%s\n' "${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-1}"
  # The egress gateway (the unit's EnvironmentFile /etc/cco/proxy.env), so that
  # a job that blanks them in .env has them back at the next start.
  for v in http_proxy https_proxy no_proxy; do
    [ -z "${!v:-}" ] || printf '%s=%s\n' "$v" "${!v}"
  done
} > "$tmp"
chmod 640 "$tmp"
mv -f "$tmp" "$dir/.env"
