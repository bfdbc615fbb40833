#!/usr/bin/env bash
# The gateway's decisions, counted per runner, name and verdict, in
# Prometheus' text format (for a node_exporter textfile or a person):
#   egress-summary.sh [ACCESS_LOG...]   (default /var/log/cco-gateway/access.log)
# One connection counts once: squid's NONE_NONE line of a peeked handshake that
# went on to a tunnel is not a decision of its own.
set -euo pipefail
[ "$#" -gt 0 ] || set -- /var/log/cco-gateway/access.log
echo "# HELP cco_gateway_decisions_total Connections the egress gateway allowed or refused, by runner address, name and verdict."
echo "# TYPE cco_gateway_decisions_total counter"
awk '
  {
    delete f
    for (i = 2; i <= NF; i++) { k = substr($i, 1, index($i, "=") - 1); f[k] = substr($i, index($i, "=") + 1) }
    if (f["verdict"] == "-" || f["verdict"] == "") next
    if (f["verdict"] == "allowed:tls" && f["squid"] != "TCP_TUNNEL") next
    # Names and addresses only: anything else is not printed as a label.
    if (f["name"] !~ /^[A-Za-z0-9.:-]+$/ || f["client"] !~ /^[0-9a-f.:]+$/) next
    n[f["client"] "\t" f["name"] "\t" f["verdict"]]++
  }
  END {
    for (k in n) {
      split(k, p, "\t")
      printf "cco_gateway_decisions_total{runner=\"%s\",name=\"%s\",verdict=\"%s\"} %d\n", p[1], p[2], p[3], n[k]
    }
  }
' "$@" | sort
