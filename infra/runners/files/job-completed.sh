#!/usr/bin/env bash
# ACTIONS_RUNNER_HOOK_JOB_COMPLETED: the runner runs hooks without arguments.
exec /opt/cco/job-hook.sh completed
