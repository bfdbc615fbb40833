#!/usr/bin/env bash
# STUB of the GitHub Actions runner's run.sh (LXC end-to-end test): our code,
# with the behaviour of actions/runner src/Misc/layoutroot/run.sh at v2.329.0
# (and v2.333.0+ for exit code 7):
# - copies run-helper.sh.template to run-helper.sh and runs it, again while it
#   exits 2 (retryable, or after a self-update);
# - exits 7 when it does and ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1, else 0;
# - with RUNNER_MANUALLY_TRAP_SIG set: job control on, the helper in the
#   background, SIGINT/SIGTERM sent on as SIGINT to the helper's process group
#   (the listener and its Worker), then waits for it and exits with the
#   interrupted wait's status (128 + signal).
DIR=$(cd "$(dirname "$0")" && pwd)
# again CODE: true when the helper is to run again (2); exits for 7 when asked; false to stop.
again() {
  if [ "$1" -eq 2 ]; then
    echo "Restarting runner..."
  elif [ "${ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE:-}" = 1 ] && [ "$1" -eq 7 ]; then
    echo "Exiting runner..."
    exit "$1"
  else
    echo "Exiting runner..."
    return 1
  fi
}

run() {
  while :; do
    cp -f "$DIR"/run-helper.sh.template "$DIR"/run-helper.sh
    "$DIR"/run-helper.sh "$@"
    again $? || exit 0
  done
}

runWithManualTrap() {
  set -m
  trap 'kill -INT -$PID' INT TERM
  while :; do
    cp -f "$DIR"/run-helper.sh.template "$DIR"/run-helper.sh
    "$DIR"/run-helper.sh "$@" &
    PID=$!
    wait $PID
    returnCode=$?
    if ! again "$returnCode"; then
      trap - INT TERM
      wait $PID
      exit "$returnCode"
    fi
  done
}

if [ -z "${RUNNER_MANUALLY_TRAP_SIG:-}" ]; then
  run "$@"
else
  runWithManualTrap "$@"
fi
