#!/usr/bin/env bash
# The egress allowlist of a runner container, applied at every boot by
# cco-egress.service before the network, dnsmasq and the runner start.
# Parameters come from /etc/cco/runner.env; this script writes no code.
#
# - dnsmasq on 127.0.0.1 is the only resolver; it forwards only names of the
#   allowed domains (and their subdomains) upstream and answers every other
#   name itself (NXDOMAIN), so no query carries data to a server outside the
#   allowlist; it logs every query (the names a job looked up, and refused);
# - an answer with a private address (DNS rebinding: an allowed name pointed at
#   the LAN) becomes NXDOMAIN and never enters the set;
# - each address it resolves for an allowed name goes to the ipset cco-allow
#   (and to the domain's own set, cco-d-<hash>, so that removing a domain
#   removes exactly its addresses and ends their open connections);
# - set entries expire: dnsmasq caches and hands out an answer for at most
#   EGRESS_TTL_MAX_S (short TTLs raised to EGRESS_TTL_MIN_S), and an entry
#   lives twice that from the last answer that named it, so a moved name's old
#   address closes within 2 x EGRESS_TTL_MAX_S; a full set fails closed, and
#   cco-egress-check.timer says so in the journal;
# - OUTPUT policy DROP: loopback (but the runner user reaches no service of
#   root's there, the resolver aside), replies, DNS from dnsmasq's user to the
#   upstream resolvers, the stats service, the log collector (for systemd's
#   dynamic users: journal-upload), TCP EGRESS_EXTRA_PORTS to the extra CIDRs,
#   TCP 80/443 to addresses in cco-allow except private ones; the rest is
#   logged (rate limited) and dropped;
# - INPUT policy DROP but loopback, replies, ICMP and SSH from the admin CIDR;
# - IPv6 is closed (dnsmasq also drops AAAA answers, so clients use IPv4).
# Behind the egress gateway (EGRESS_PROXY=http://ADDRESS:PORT, egressMode
# gateway) names are enforced there, and this wall narrows to it: TCP to the
# gateway's port replaces both DNS upstream and 80/443 to the set (the host
# firewall drops those anyway), and dnsmasq forwards nothing (every name is
# NXDOMAIN here: clients hand names to the proxy, which resolves them itself).
# The sets stay (empty), so a switch back to direct mode needs no new rules.
# Applied with iptables-restore: one atomic swap, never a half-open state.
set -euo pipefail
set -f # parameters are word lists, never patterns
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
load_params "${CCO_PARAMS:-/etc/cco/runner.env}"
require EGRESS_DOMAINS DNS_SERVERS STATS_HOST STATS_PORT ADMIN_CIDR

# Bounds, whole seconds and entries (defaults for production; the LXC test shortens them).
ttl_min=${EGRESS_TTL_MIN_S:-30}
ttl_max=${EGRESS_TTL_MAX_S:-300}
set_max=${EGRESS_SET_MAX:-262144}
extra_ports=${EGRESS_EXTRA_PORTS:-80 443}
for v in "$ttl_min" "$ttl_max" "$set_max" $extra_ports; do [[ $v =~ ^[0-9]+$ ]] || die "not a whole number: $v"; done
if ! { [ "$ttl_min" -le "$ttl_max" ] && [ "$ttl_max" -ge 1 ] && [ "$ttl_max" -le 3600 ]; }; then
  die "need 0 <= EGRESS_TTL_MIN_S <= EGRESS_TTL_MAX_S <= 3600 (got $ttl_min, $ttl_max)"
fi
gateway_ip="" gateway_port=""
if [ -n "${EGRESS_PROXY:-}" ]; then
  [[ $EGRESS_PROXY =~ ^http://([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):([0-9]+)$ ]] || die "bad EGRESS_PROXY: $EGRESS_PROXY (http://IPv4:port)"
  gateway_ip=${BASH_REMATCH[1]} gateway_port=${BASH_REMATCH[2]}
fi
set_timeout=$((2 * ttl_max))
# A domain's own set only says which addresses were its (to close them when
# it is removed): it remembers them for a day, longer than an entry lives.
domain_timeout=$((set_timeout > 86400 ? set_timeout : 86400))
# Never reached through a name, whatever it resolves to: RFC 1918, shared
# address space, loopback, link-local, "this network", multicast and reserved.
private_ranges="0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.168.0.0/16 224.0.0.0/4 240.0.0.0/4"

# domain_set DOMAIN: the name of the domain's own set (a set name has at most 31 characters).
domain_set() { printf 'cco-d-%s' "$(printf '%s' "$1" | sha256sum | cut -c1-12)"; }
# set_members SET: its addresses, one a line.
set_members() { ipset list "$1" 2> /dev/null | sed -n '/^Members:/,$p' | tail -n +2 | awk '{print $1}'; }
# ensure_set SET TIMEOUT: creates it, or re-creates it when its timeout or size differ.
# cco-allow is referenced by a rule and cannot be destroyed: a new one is swapped in.
ensure_set() {
  local set=$1 timeout=$2 header
  header=$(ipset list -t "$set" 2> /dev/null) || { ipset create "$set" hash:ip family inet timeout "$timeout" maxelem "$set_max"; return 0; }
  if [[ $header != *"maxelem $set_max "* || $header != *"timeout $timeout "* ]]; then
    ipset create "$set.new" hash:ip family inet timeout "$timeout" maxelem "$set_max"
    ipset swap "$set.new" "$set"
    ipset destroy "$set.new"
    log "re-created ipset $set (timeout $timeout s, at most $set_max entries)"
  fi
}
ensure_set cco-allow "$set_timeout"
for domain in $EGRESS_DOMAINS; do ensure_set "$(domain_set "$domain")" "$domain_timeout"; done

# dnsmasq: the allowlist as data (domains), rebuilt here from the parameters.
dnsmasq_conf() {
  echo "# Written by /opt/cco/egress.sh from /etc/cco/runner.env"
  echo "listen-address=127.0.0.1"
  echo "bind-interfaces"
  echo "no-resolv"
  echo "no-hosts"
  echo "filter-AAAA"
  echo "cache-size=1000"
  echo "log-queries"
  echo "min-cache-ttl=$ttl_min"
  echo "max-cache-ttl=$ttl_max"
  echo "max-ttl=$ttl_max"
  # Rebinding: not dnsmasq's stop-dns-rebind, whose list also holds the
  # TEST-NET ranges the LXC test's internet is made of; the same ranges else.
  for range in $private_ranges; do echo "bogus-nxdomain=$range"; done
  if [ -z "$gateway_ip" ]; then
    for domain in $EGRESS_DOMAINS; do
      for server in $DNS_SERVERS; do echo "server=/$domain/$server"; done
    done
  fi
  # Any other name (behind the gateway: every name): answered here with NXDOMAIN, never forwarded.
  echo "address=/#/"
  if [ -z "$gateway_ip" ]; then
    for domain in $EGRESS_DOMAINS; do echo "ipset=/$domain/cco-allow,$(domain_set "$domain")"; done
  fi
}
old_conf=$(cat /etc/dnsmasq.d/cco.conf 2> /dev/null || true)
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
  # The runner user reaches the resolver on loopback, and its own servers
  # (unprivileged ports), never a service of root's such as sshd.
  echo "-A OUTPUT -o lo -m owner --uid-owner runner -p udp -d 127.0.0.1 --dport 53 -j ACCEPT"
  echo "-A OUTPUT -o lo -m owner --uid-owner runner -p tcp -d 127.0.0.1 --dport 53 -j ACCEPT"
  echo "-A OUTPUT -o lo -m owner --uid-owner runner -p tcp --dport 1:1023 -j REJECT --reject-with tcp-reset"
  echo "-A OUTPUT -o lo -m owner --uid-owner runner -p udp --dport 1:1023 -j REJECT"
  echo "-A OUTPUT -o lo -j ACCEPT"
  echo "-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
  if [ -n "$gateway_ip" ]; then
    echo "-A OUTPUT -p tcp -d $gateway_ip --dport $gateway_port -j ACCEPT"
  else
    for server in $DNS_SERVERS; do
      echo "-A OUTPUT -p udp --dport 53 -d $server -m owner --uid-owner dnsmasq -j ACCEPT"
      echo "-A OUTPUT -p tcp --dport 53 -d $server -m owner --uid-owner dnsmasq -j ACCEPT"
    done
  fi
  echo "-A OUTPUT -p tcp -d $STATS_HOST --dport $STATS_PORT -j ACCEPT"
  if [ -n "${LOG_COLLECTOR:-}" ]; then
    # systemd-journal-upload runs as a dynamic user (uids 61184-65519); jobs may not write there.
    echo "-A OUTPUT -p tcp -d ${LOG_COLLECTOR%:*} --dport ${LOG_COLLECTOR##*:} -m owner --uid-owner 61184-65519 -j ACCEPT"
  fi
  for cidr in ${EGRESS_EXTRA_CIDRS:-}; do
    echo "-A OUTPUT -p tcp -d $cidr -m multiport --dports $(echo "$extra_ports" | tr ' ' ',') -j ACCEPT"
  done
  if [ "${NETWORK_MODE:-static}" = dhcp ]; then
    echo "-A OUTPUT -p udp --sport 68 --dport 67 -j ACCEPT"
  fi
  for range in $private_ranges; do echo "-A OUTPUT -d $range -j DROP"; done
  [ -n "$gateway_ip" ] || echo "-A OUTPUT -p tcp -m multiport --dports 80,443 -m set --match-set cco-allow dst -j ACCEPT"
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
-A OUTPUT -o lo -m owner --uid-owner runner -p tcp --dport 1:1023 -j REJECT --reject-with tcp-reset
-A OUTPUT -o lo -m owner --uid-owner runner -p udp --dport 1:1023 -j REJECT
-A OUTPUT -o lo -j ACCEPT
COMMIT
RULES

if [ "$dnsmasq_changed" = 1 ]; then
  # The allowlist changed: addresses of a removed domain must stop being
  # reachable now, not at the next boot, and so must their open connections
  # (conntrack would let an established one go on). The removed domains' own
  # sets say which addresses were theirs; an address another allowed domain
  # also resolved to stays. (An allowlist written by an older egress.sh has no
  # such sets: then every address goes, and dnsmasq fills the set again.)
  new_sets=$(for domain in $EGRESS_DOMAINS; do domain_set "$domain"; echo; done | sort -u)
  old_sets=$(grep '^ipset=' <<< "$old_conf" | grep -o 'cco-d-[0-9a-f]*' | sort -u || true)
  if grep -q '^ipset=' <<< "$old_conf" && [ -z "$old_sets" ]; then
    stale=$(set_members cco-allow)
    ipset flush cco-allow
  else
    kept=$(for set in $new_sets; do set_members "$set"; done | sort -u)
    stale=$(for set in $(comm -23 <(echo "$old_sets") <(echo "$new_sets")); do set_members "$set"; done | sort -u | comm -23 - <(echo "$kept"))
    for address in $stale; do ipset -exist del cco-allow "$address"; done
  fi
  for address in $stale; do conntrack -D -d "$address" > /dev/null 2>&1 || true; done
  for set in $(comm -23 <(echo "$old_sets") <(echo "$new_sets")); do ipset destroy "$set" 2> /dev/null || true; done
  [ -z "$stale" ] || log "closed $(echo "$stale" | wc -w) addresses of removed domains, and their connections"
  # dnsmasq re-reads its configuration only at a restart (and starts with an empty cache).
  if systemctl is-active --quiet dnsmasq; then systemctl restart dnsmasq; fi
fi
if [ -n "$gateway_ip" ]; then
  log "egress through the gateway $gateway_ip:$gateway_port only ($(echo "$EGRESS_DOMAINS" | wc -w) domains enforced there)"
else
  log "egress allowlist applied: $(echo "$EGRESS_DOMAINS" | wc -w) domains"
fi
