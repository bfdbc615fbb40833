#!/usr/bin/env bash
# Says when the egress set is full, run by cco-egress-check.timer. A full set
# fails closed (dnsmasq cannot add the address of a name it resolves, and
# iptables drops it, silently): this makes it visible, as an error in the
# journal (shipped off the container with the rest), a failed unit, and a
# counter of the checks that found it full in /var/lib/cco/egress-set-full.
# Entries expire (egress.sh), so the set empties again by itself.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
counter=${CCO_STATE:-/var/lib/cco}/egress-set-full

header=$(ipset list -t cco-allow) || die "no ipset cco-allow"
entries=$(awk '/^Number of entries:/ {print $4}' <<< "$header")
max=$(grep -o 'maxelem [0-9]*' <<< "$header" | cut -d' ' -f2)
[[ $entries =~ ^[0-9]+$ && $max =~ ^[0-9]+$ ]] || die "cannot read the size of ipset cco-allow"
if [ "$entries" -ge "$max" ]; then
  full=$(($(cat "$counter" 2> /dev/null || echo 0) + 1))
  echo "$full" > "$counter"
  # <3>: priority err in the journal.
  printf '<3>cco-egress: ipset cco-allow is full (%s of %s entries): allowed names resolved now are dropped until entries expire (found full %s times)\n' \
    "$entries" "$max" "$full"
  exit 1
fi
