/**
 * What the egress gateway's container is provisioned with: the files under
 * infra/gateway/files and the parameters file gateway.env (data only; the
 * scripts check every value's shape again before squid reads it).
 */
import { join } from "node:path";
import { MAX_RUNNERS, type InfraConfig } from "../config";
import { formatIpv4, parseIpv4 } from "../ipv4";
import { envFile, RUNNER_FILES, type ProvisionFile } from "../provisioning";

export const GATEWAY_FILES = join(__dirname, "files");

/**
 * Who may use the gateway: the runners' ten reserved addresses (scaling the
 * fleet never re-provisions the gateway), or with DHCP, whose addresses are
 * unknown, the LAN (the runners' host firewall still sends them nowhere else).
 */
export function runnerSources(c: InfraConfig): string[] {
  const first = c.runners.instances[0]?.ip;
  if (first === undefined) return [c.network.cidr];
  return Array.from({ length: MAX_RUNNERS }, (_, i) => `${formatIpv4(parseIpv4(first)! + i)}/32`);
}

/** The parameters provision-gateway.sh and gateway-firewall.sh read (gateway.env). */
export function gatewayParams(c: InfraConfig): Record<string, string> {
  return {
    // Its own LAN address only: never every interface by accident.
    GATEWAY_ADDRESS: c.gateway.ip,
    GATEWAY_PORT: String(c.gateway.port),
    RUNNER_SOURCES: runnerSources(c).join(" "),
    ADMIN_CIDR: c.network.adminCidr,
    DNS_SERVERS: c.network.dnsServers.join(" "),
    LAN_CIDR: c.network.cidr,
    EGRESS_DOMAINS: c.egress.domains.join(" "),
  };
}

/** The files copied into the gateway's container, by name in the bundle. */
export function gatewayFiles(params: Record<string, string>): Record<string, ProvisionFile> {
  const own = ["provision-gateway.sh", "gateway-firewall.sh", "squid.conf", "cco-gateway.service", "cco-gateway-firewall.service", "logrotate-cco-gateway"];
  return {
    ...Object.fromEntries(own.map((f) => [f, { path: join(GATEWAY_FILES, f) }])),
    "lib.sh": { path: join(RUNNER_FILES, "lib.sh") },
    "sshd-cco.conf": { path: join(RUNNER_FILES, "config", "sshd-cco.conf") },
    "gateway.env": { text: envFile(params) },
  };
}
