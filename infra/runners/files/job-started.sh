#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_STARTED: the runner runs hooks without arguments.
exec /opt/cco/job-hook.sh started
