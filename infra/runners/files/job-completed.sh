#!/bin/bash
# ACTIONS_RUNNER_HOOK_JOB_COMPLETED: the runner runs hooks without arguments.
# By absolute path: the PATH a hook gets starts with the job's GITHUB_PATH.
exec /bin/bash /opt/cco/job-hook.sh completed
