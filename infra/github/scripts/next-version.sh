#!/bin/sh
# Prints the next release tag: vYYYY.MM.DD.N, where N is 1 for the first release
# of a (UTC) day and counts up from the highest N already tagged that day.
# Tags that do not have exactly this shape are ignored.
#
#   next-version.sh [YYYY.MM.DD]    (default: today, UTC)
#
# Reads the tags of the git repository in the working directory: fetch them
# first (actions/checkout with fetch-depth: 0 does).
set -eu

day=${1:-$(date -u +%Y.%m.%d)}
case $day in
  [0-9][0-9][0-9][0-9].[0-1][0-9].[0-3][0-9]) ;;
  *) echo "next-version.sh: day must look like 2026.11.26, got '$day'" >&2; exit 2 ;;
esac

highest=0
for tag in $(git tag --list "v$day.*"); do
  n=${tag#"v$day."}
  case $n in
    '' | 0* | *[!0-9]*) continue ;; # v2026.11.26.1-rc, .x, .01: not a tag this script makes
  esac
  if [ "$n" -gt "$highest" ]; then highest=$n; fi
done
echo "v$day.$((highest + 1))"
