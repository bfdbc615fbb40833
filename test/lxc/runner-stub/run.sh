#!/usr/bin/env bash
# STUB of the GitHub Actions runner's run.sh (LXC end-to-end test).
exec "$(dirname "$0")/bin/Runner.Listener" run "$@"
