#!/usr/bin/env bash
# The runner's one life (actions-runner.service in ephemeral mode, as runner):
# takes the just-in-time config its unit moved into /run/cco-jit (this unit's
# own runtime directory, 0700 runner), removes it, and runs the runner once
# with it in the environment: the runner reads ACTIONS_RUNNER_INPUT_JITCONFIG
# as its --jitconfig argument and removes it from its environment
# (actions/runner src/Runner.Listener/CommandSettings.cs: "Store and remove any
# args passed via environment variables"), so it is on no command line. A JIT
# runner takes one job and exits (src/Runner.Listener/Runner.cs: --jitconfig
# writes .runner and the credentials, then runs); the unit then powers the
# container off (SuccessAction/FailureAction) and the host resets it.
set -euo pipefail
file=/run/cco-jit/config
[ -s "$file" ] || { echo "no runner config in $file" >&2; exit 1; }
ACTIONS_RUNNER_INPUT_JITCONFIG=$(cat "$file")
rm -f "$file"
export ACTIONS_RUNNER_INPUT_JITCONFIG
exec ./run.sh
