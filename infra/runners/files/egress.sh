#!/usr/bin/env bash
# The egress allowlist of a runner container, applied at every boot by
# cco-egress.service before the network, dnsmasq and the runner start.
# Parameters come from /etc/cco/runner.env; this script writes no code.
#
# - dnsmasq on 127.0.0.1 is the only resolver; it forwards only names of the
#   allowed domains (and their subdomains) upstream and answers every other
#   name itself (NXDOMAIN), so no query carries data to a server outside the
#   allowlist; each address it resolves for an allowed name goes to the ipset
#   cco-allow;
# - OUTPUT policy DROP: loopback, replies, DNS from dnsmasq's user to the
#   upstream resolvers, TCP 80/443 to addresses in cco-allow, the stats service
#   and the extra CIDRs are allowed; the rest is logged (rate limited) and dropped;
# - INPUT policy DROP but loopback, replies, ICMP and SSH from the admin CIDR;
# - IPv6 is closed (dnsmasq also drops AAAA answers, so clients use IPv4).
# Applied with iptables-restore: one atomic swap, never a half-open state.
set -euo pipefail
set -f # parameters are word lists, never patterns
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
load_params "${CCO_PARAMS:-/etc/cco/runner.env}"
require EGRESS_DOMAINS DNS_SERVERS STATS_HOST STATS_PORT ADMIN_CIDR

ipset create -exist cco-allow hash:ip family inet

# dnsmasq: the allowlist as data (domains), rebuilt here from the parameters.
dnsmasq_conf() {
  echo "# Written by /opt/cco/egress.sh from /etc/cco/runner.env"
  echo "listen-address=127.0.0.1"
  echo "bind-interfaces"
  echo "no-resolv"
  echo "no-hosts"
  echo "filter-AAAA"
  echo "cache-size=1000"
  for domain in $EGRESS_DOMAINS; do
    for server in $DNS_SERVERS; do echo "server=/$domain/$server"; done
  done
  # Any other name: answered here with NXDOMAIN, never forwarded.
  echo "address=/#/"
  # shellcheck disable=SC2086 # one word per domain
  printf 'ipset=/%scco-allow\n' "$(printf '%s/' $EGRESS_DOMAINS)"
}
# Not through a pipe: install_text must set CHANGED in this shell, not in a subshell.
install_text /etc/dnsmasq.d/cco.conf 644 root:root < <(dnsmasq_conf)
dnsmasq_changed=$CHANGED

# The container resolves through dnsmasq only; Proxmox must not rewrite this,
# nor (with DHCP) dhclient at every lease: its hook keeps resolv.conf as is.
touch /etc/.pve-ignore.resolv.conf
dhclient_hook=/etc/dhcp/dhclient-enter-hooks.d/cco-keep-resolv
if [ "${NETWORK_MODE:-static}" = dhcp ]; then
  mkdir -p "$(dirname "$dhclient_hook")"
  printf '# cco: dnsmasq on 127.0.0.1 is the only resolver (egress.sh)\nmake_resolv_conf() { :; }\n' |
    install_text "$dhclient_hook" 644 root:root
else
  rm -f "$dhclient_hook"
fi
if [ "$(cat /etc/resolv.conf 2> /dev/null)" != "nameserver 127.0.0.1" ]; then
  rm -f /etc/resolv.conf
  echo "nameserver 127.0.0.1" > /etc/resolv.conf
fi

rules=$(mktemp)
{
  echo "*filter"
  echo ":INPUT DROP [0:0]"
  echo ":FORWARD DROP [0:0]"
  echo ":OUTPUT DROP [0:0]"
  echo "-A INPUT -i lo -j ACCEPT"
  echo "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
  echo "-A INPUT -p icmp -j ACCEPT"
  echo "-A INPUT -p tcp --dport 22 -s $ADMIN_CIDR -j ACCEPT"
  echo "-A OUTPUT -o lo -j ACCEPT"
  echo "-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
  for server in $DNS_SERVERS; do
    echo "-A OUTPUT -p udp --dport 53 -d $server -m owner --uid-owner dnsmasq -j ACCEPT"
    echo "-A OUTPUT -p tcp --dport 53 -d $server -m owner --uid-owner dnsmasq -j ACCEPT"
  done
  echo "-A OUTPUT -p tcp -d $STATS_HOST --dport $STATS_PORT -j ACCEPT"
  for cidr in ${EGRESS_EXTRA_CIDRS:-}; do echo "-A OUTPUT -d $cidr -j ACCEPT"; done
  echo "-A OUTPUT -p tcp -m multiport --dports 80,443 -m set --match-set cco-allow dst -j ACCEPT"
  if [ "${NETWORK_MODE:-static}" = dhcp ]; then
    echo "-A OUTPUT -p udp --sport 68 --dport 67 -j ACCEPT"
  fi
  echo "-A OUTPUT -m limit --limit 6/min --limit-burst 10 -j LOG --log-prefix \"cco-egress-drop: \""
  echo "COMMIT"
} > "$rules"
iptables-restore < "$rules"
rm -f "$rules"

ip6tables-restore << 'RULES'
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
-A INPUT -i lo -j ACCEPT
-A OUTPUT -o lo -j ACCEPT
COMMIT
RULES

if [ "$dnsmasq_changed" = 1 ]; then
  # The allowlist changed: addresses of a removed domain must stop being
  # reachable now, not at the next boot. dnsmasq (restarted: it re-reads its
  # configuration only then, and starts with an empty cache) fills the set
  # again as allowed names are resolved.
  ipset flush cco-allow
  if systemctl is-active --quiet dnsmasq; then systemctl restart dnsmasq; fi
fi
log "egress allowlist applied: $(echo "$EGRESS_DOMAINS" | wc -w) domains"
