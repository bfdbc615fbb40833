#!/usr/bin/env bash
# STUB of the GitHub Actions runner's config.sh, packed into the LXC end-to-end
# test's runner tarball (same layout as the real one). It registers nothing: it
# writes .runner as the real one does (agentName, agentId) and keeps the
# arguments it got, without the token, for the test to check.
set -euo pipefail
cd "$(dirname "$0")"
# The real config.sh refuses to run as root.
[ "$(id -u)" != 0 ] || { echo "Must not run with sudo" >&2; exit 1; }
name="" url="" token=""
args=()
while [ "$#" -gt 0 ]; do
  case $1 in
    --name) name=$2; args+=("$1" "$2"); shift 2 ;;
    --url) url=$2; args+=("$1" "$2"); shift 2 ;;
    --token) token=$2; args+=("$1" "[token]"); shift 2 ;;
    --labels | --work | --runnergroup) args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -z "$name" ] || [ -z "$url" ] || [ -z "$token" ]; then echo "config.sh: --name, --url and --token are required" >&2; exit 1; fi
jq -n --arg name "$name" --arg url "$url" \
  '{agentId: 4242, agentName: $name, poolId: 1, poolName: "Default", gitHubUrl: $url, workFolder: "_work"}' > .runner
printf '%s\n' "${args[@]}" > .stub-config-args
echo "configured $name"
