#!/usr/bin/env bash
# STUB of the GitHub Actions runner's config.sh, packed into the LXC end-to-end
# test's runner tarball (same layout as the real one). It registers nothing. It
# behaves as actions/runner v2.329.0 does where the tests depend on it:
# - refuses to run as root (config.sh);
# - sources env.sh first, which writes .path ($PATH) and creates .env
#   (src/Misc/layoutroot/env.sh);
# - `remove --local` deletes .credentials and .runner and nothing else
#   (Runner.cs command.RemoveLocalConfig, ConfigurationManager.DeleteLocalRunnerConfig);
# - refuses to configure a configured directory (.runner exists): "Cannot
#   configure the runner because it is already configured", exit 1
#   (ConfigurationManager.ConfigureAsync, Runner.cs: TerminatedError);
# - writes .runner (agentName, agentId) and .credentials when configured;
# - takes the registration token as ACTIONS_RUNNER_INPUT_TOKEN in the
#   environment (CommandSettings reads ACTIONS_RUNNER_INPUT_<ARG>); this stub
#   refuses it on the command line, where every user could read it in /proc.
# It keeps the arguments it got for the test to check.
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" != 0 ] || { echo "Must not run with sudo" >&2; exit 1; }
# env.sh (no set -e there: a failing write is ignored).
(
  set +e
  echo "$PATH" > .path
  [ -f .env ] || touch .env
) 2> /dev/null || true

if [ "${1:-}" = remove ]; then
  printf '%s\n' "$@" > .stub-remove-args
  [ "${2:-}" = --local ] || { echo "config.sh (stub): only remove --local is supported" >&2; exit 1; }
  if [ -f .credentials ]; then rm -f .credentials .credentials_rsaparams; echo "√ Removed .credentials"; else echo "Does not exist. Skipping Removing .credentials"; fi
  if [ -f .runner ]; then rm -f .runner; echo "√ Removed .runner"; else echo "Does not exist. Skipping Removing .runner"; fi
  exit 0
fi

printf '%s\n' "$@" > .stub-config-args
if [ -e .runner ]; then
  echo "Cannot configure the runner because it is already configured. To reconfigure the runner, run 'config.cmd remove' or './config.sh remove' first." >&2
  exit 1
fi
name="" url="" token=${ACTIONS_RUNNER_INPUT_TOKEN:-}
while [ "$#" -gt 0 ]; do
  case $1 in
    --name) name=$2; shift 2 ;;
    --url) url=$2; shift 2 ;;
    --token) echo "config.sh (stub): the token must not be on the command line" >&2; exit 1 ;;
    --labels | --work | --runnergroup) shift 2 ;;
    *) shift ;;
  esac
done
if [ -z "$name" ] || [ -z "$url" ] || [ -z "$token" ]; then
  echo "config.sh: --name, --url and the token (ACTIONS_RUNNER_INPUT_TOKEN) are required" >&2
  exit 1
fi
jq -n --arg name "$name" --arg url "$url" \
  '{agentId: 4242, agentName: $name, poolId: 1, poolName: "Default", gitHubUrl: $url, workFolder: "_work"}' > .runner
echo '{"scheme":"OAuth","data":{"clientId":"stub"}}' > .credentials
echo "configured $name"
