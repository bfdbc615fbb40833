#!/usr/bin/env bash
# The gateway's decisions, counted per runner, name and verdict, in
# Prometheus' text format (for a node_exporter textfile or a person):
#   egress-summary.sh [ACCESS_LOG...]   (default /var/log/cco-gateway/access.log)
# What counts as one decision is egress-decisions.awk's (installed beside it).
set -euo pipefail
[ "$#" -gt 0 ] || set -- /var/log/cco-gateway/access.log
decisions=${CCO_DECISIONS_AWK:-/opt/cco-gateway/egress-decisions.awk}
echo "# HELP cco_gateway_decisions_total Connections the egress gateway allowed or refused, by runner address, name and verdict."
echo "# TYPE cco_gateway_decisions_total counter"
awk -f "$decisions" "$@" 2> /dev/null | awk -F '\t' '
  { n[$1 "\t" $2 "\t" $3]++ }
  END {
    for (k in n) {
      split(k, p, "\t")
      printf "cco_gateway_decisions_total{runner=\"%s\",name=\"%s\",verdict=\"%s\"} %d\n", p[1], p[2], p[3], n[k]
    }
  }
' | sort
