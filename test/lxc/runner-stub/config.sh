#!/usr/bin/env bash
# STUB of the GitHub Actions runner's config.sh, packed into the LXC end-to-end
# test's runner tarball (same layout as the real one). It registers nothing: it
# writes .runner as the real one does (agentName, agentId) and keeps the
# arguments it got for the test to check. The registration token comes as the
# real runner also takes it: ACTIONS_RUNNER_INPUT_TOKEN in the environment
# (CommandSettings reads ACTIONS_RUNNER_INPUT_<ARG>); this stub refuses it on
# the command line, where every user could read it in /proc.
set -euo pipefail
cd "$(dirname "$0")"
# The real config.sh refuses to run as root.
[ "$(id -u)" != 0 ] || { echo "Must not run with sudo" >&2; exit 1; }
printf '%s\n' "$@" > .stub-config-args
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
echo "configured $name"
