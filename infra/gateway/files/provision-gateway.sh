#!/usr/bin/env bash
# Provisions the egress gateway's container (Debian 12, as root). Idempotent:
# a second run changes nothing and restarts nothing.
# Beside this script: gateway.env (parameters), squid.conf, gateway-firewall.sh,
# cco-gateway.service, cco-gateway-firewall.service, logrotate-cco-gateway,
# egress-summary.sh, egress-decisions.awk, egress-forwarder.sh and its
# cco-egress-forwarder.service/.timer, sshd-cco.conf and lib.sh.
# On stdin (never in a file or on a command line):
#   INGEST_TOKEN   the gateway's own stats credential, for the forwarder
set -euo pipefail
set -f # parameters are word lists, never patterns
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../runners/files/lib.sh
. "$HERE/lib.sh"
load_params "$HERE/gateway.env"
require GATEWAY_ADDRESS GATEWAY_PORT RUNNER_SOURCES ADMIN_CIDR DNS_SERVERS LAN_CIDR EGRESS_DOMAINS \
  STATS_URL STATS_HOST STATS_PORT STATS_RUNNER
INGEST_TOKEN=""
read_secrets
require INGEST_TOKEN

# The values go into squid's configuration: accept only their plain shapes.
check_words() {
  local name=$1 pattern=$2 word
  for word in ${!name}; do
    [[ $word =~ $pattern ]] || die "bad $name item: $word"
  done
}
IPV4='^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
CIDR='^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$'
check_words GATEWAY_ADDRESS "$IPV4"
check_words GATEWAY_PORT '^[0-9]{2,5}$'
check_words RUNNER_SOURCES "$CIDR"
check_words ADMIN_CIDR "$CIDR"
check_words LAN_CIDR "$CIDR"
check_words DNS_SERVERS "$IPV4"
check_words EGRESS_DOMAINS '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$'
check_words STATS_HOST "$IPV4"
check_words STATS_PORT '^[0-9]{2,5}$'
check_words RUNNER_ADDRESSES '^[0-9.]+=[A-Za-z0-9][A-Za-z0-9._-]*$'

# Debian starts a freshly installed squid with its own configuration: never here.
if ! dpkg-query -W -f='${Status}' squid-openssl 2> /dev/null | grep -q "install ok installed"; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
ensure_packages squid-openssl openssh-server iptables openssl logrotate ca-certificates curl
rm -f /usr/sbin/policy-rc.d
if [ "$(systemctl is-enabled squid.service 2> /dev/null)" != masked ]; then
  systemctl stop squid.service 2> /dev/null || true
  systemctl mask --quiet squid.service
  log "masked squid.service (cco-gateway.service runs squid)"
fi

ensure_dir /etc/cco-gateway 755 root:root
ensure_dir /opt/cco-gateway 755 root:root
ensure_dir /var/log/cco-gateway 750 proxy:proxy

# The firewall first: nothing listens before it is in place.
fw_changed=0
install_file "$HERE/lib.sh" /opt/cco-gateway/lib.sh 644 root:root
fw_changed=$((fw_changed | CHANGED))
install_file "$HERE/gateway-firewall.sh" /opt/cco-gateway/gateway-firewall.sh 755 root:root
fw_changed=$((fw_changed | CHANGED))
install_file "$HERE/gateway.env" /etc/cco-gateway/gateway.env 644 root:root
fw_changed=$((fw_changed | CHANGED))
install_file "$HERE/cco-gateway-firewall.service" /etc/systemd/system/cco-gateway-firewall.service 644 root:root
fw_changed=$((fw_changed | CHANGED))

# squid's side: the static configuration, and what the parameters make of it.
site_conf() {
  echo "# Written by provision-gateway.sh from gateway.env"
  echo "http_port $GATEWAY_ADDRESS:$GATEWAY_PORT ssl-bump tls-cert=/etc/cco-gateway/bump.pem generate-host-certificates=off"
  echo "acl runners src $RUNNER_SOURCES"
  # The LAN is never a destination, whatever a name resolves to.
  echo "acl private_dst dst $LAN_CIDR"
  echo "dns_nameservers $DNS_SERVERS"
}
# Each allowed domain as squid's ".domain" (itself and its subdomains); a
# domain under another listed one is dropped (squid warns about overlaps).
allowed_domains() {
  local d other covered
  for d in $EGRESS_DOMAINS; do
    covered=0
    for other in $EGRESS_DOMAINS; do
      if [ "$other" != "$d" ] && [[ $d == *".$other" ]]; then covered=1; fi
    done
    [ "$covered" = 1 ] || echo ".$d"
  done | sort -u
}
squid_changed=0
install_file "$HERE/squid.conf" /etc/cco-gateway/squid.conf 644 root:root
squid_changed=$((squid_changed | CHANGED))
install_text /etc/cco-gateway/site.conf 644 root:root < <(site_conf)
squid_changed=$((squid_changed | CHANGED))
install_text /etc/cco-gateway/allowed-domains 644 root:root < <(allowed_domains)
squid_changed=$((squid_changed | CHANGED))
install_file "$HERE/cco-gateway.service" /etc/systemd/system/cco-gateway.service 644 root:root
squid_changed=$((squid_changed | CHANGED))
install_file "$HERE/logrotate-cco-gateway" /etc/logrotate.d/cco-gateway 644 root:root
install_file "$HERE/egress-decisions.awk" /opt/cco-gateway/egress-decisions.awk 644 root:root
install_file "$HERE/egress-summary.sh" /usr/local/sbin/cco-egress-summary 755 root:root

# The decisions to the stats service, every minute, as a user of its own
# (cco-egress-forwarder.service); the token is root's, handed to it by systemd.
fwd_changed=0
printf '%s\n' "$INGEST_TOKEN" | install_text /etc/cco-gateway/ingest-token 600 root:root
install_file "$HERE/egress-forwarder.sh" /opt/cco-gateway/egress-forwarder.sh 755 root:root
install_file "$HERE/cco-egress-forwarder.service" /etc/systemd/system/cco-egress-forwarder.service 644 root:root
fwd_changed=$((fwd_changed | CHANGED))
install_file "$HERE/cco-egress-forwarder.timer" /etc/systemd/system/cco-egress-forwarder.timer 644 root:root
fwd_changed=$((fwd_changed | CHANGED))

# squid insists on a certificate for a port that may peek at TLS; it signs
# nothing (generate-host-certificates=off) and no rule ever bumps.
if [ ! -s /etc/cco-gateway/bump.pem ]; then
  key=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=cco egress gateway (peek only, never bumps)" -keyout "$key/key.pem" -out "$key/cert.pem" 2> /dev/null
  cat "$key/key.pem" "$key/cert.pem" | install_text /etc/cco-gateway/bump.pem 640 root:proxy
  rm -rf "$key"
  squid_changed=1
fi

install_file "$HERE/sshd-cco.conf" /etc/ssh/sshd_config.d/50-cco.conf 644 root:root
if [ "$CHANGED" = 1 ]; then sshd -t && systemctl reload ssh; fi

if [ "$fw_changed" = 1 ] || [ "$squid_changed" = 1 ] || [ "$fwd_changed" = 1 ]; then systemctl daemon-reload; fi
ensure_unit cco-gateway-firewall.service "$fw_changed"
# A changed allowlist restarts squid: open tunnels of a removed name end now.
ensure_unit cco-gateway.service "$squid_changed"
ensure_unit cco-egress-forwarder.timer "$fwd_changed"
