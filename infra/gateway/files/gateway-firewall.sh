#!/usr/bin/env bash
# The gateway container's own firewall, applied at every boot by
# cco-gateway-firewall.service before the network and squid come up.
# Parameters come from /etc/cco-gateway/gateway.env; this script writes no code.
#
# - INPUT policy DROP: loopback, replies, ICMP, the proxy port from the
#   runners' blocks only, SSH from the admin block only;
# - OUTPUT policy DROP: loopback, replies, DNS to the configured resolvers,
#   the stats service's port (the forwarder's heartbeats), and TCP 80/443 to public addresses (the LAN and every private range are
#   dropped even if squid were tricked into dialling one);
# - IPv6 closed, rejected (so squid falls back to IPv4 at once).
# Applied with iptables-restore: one atomic swap, never a half-open state.
set -euo pipefail
set -f # parameters are word lists, never patterns
# shellcheck source=../../runners/files/lib.sh
. "$(dirname "$0")/lib.sh"
load_params "${CCO_PARAMS:-/etc/cco-gateway/gateway.env}"
require GATEWAY_PORT RUNNER_SOURCES ADMIN_CIDR DNS_SERVERS LAN_CIDR STATS_HOST STATS_PORT

PRIVATE="0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.168.0.0/16 224.0.0.0/3"

# The filter table with every chain's policy DROP.
closed_table() {
  local chain
  echo "*filter"
  for chain in INPUT FORWARD OUTPUT; do echo ":$chain DROP [0:0]"; done
}

rules() {
  closed_table
  echo "-A INPUT -i lo -j ACCEPT"
  echo "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
  echo "-A INPUT -m conntrack --ctstate INVALID -j DROP"
  echo "-A INPUT -p icmp -j ACCEPT"
  local src dns dst
  for src in $RUNNER_SOURCES; do
    echo "-A INPUT -p tcp -s $src --dport $GATEWAY_PORT -j ACCEPT"
  done
  echo "-A INPUT -p tcp -s $ADMIN_CIDR --dport 22 -j ACCEPT"
  echo "-A OUTPUT -o lo -j ACCEPT"
  echo "-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
  echo "-A OUTPUT -p icmp -j ACCEPT"
  for dns in $DNS_SERVERS; do
    echo "-A OUTPUT -p udp -d $dns --dport 53 -j ACCEPT"
    echo "-A OUTPUT -p tcp -d $dns --dport 53 -j ACCEPT"
  done
  # The one LAN destination: the stats service (egress-forwarder.sh), before the LAN is dropped.
  echo "-A OUTPUT -p tcp -d $STATS_HOST --dport $STATS_PORT -j ACCEPT"
  for dst in $LAN_CIDR $PRIVATE; do
    echo "-A OUTPUT -d $dst -j DROP"
  done
  echo "-A OUTPUT -p tcp -m multiport --dports 80,443 -j ACCEPT"
  echo "COMMIT"
}

rules6() {
  closed_table
  echo "-A INPUT -i lo -j ACCEPT"
  echo "-A OUTPUT -o lo -j ACCEPT"
  echo "-A OUTPUT -j REJECT --reject-with icmp6-adm-prohibited"
  echo "COMMIT"
}

# Idempotent by construction: the whole table is replaced each time.
rules | iptables-restore
rules6 | ip6tables-restore
log "gateway firewall applied (proxy port $GATEWAY_PORT from $RUNNER_SOURCES)"
