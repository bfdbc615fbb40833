/**
 * What the egress gateway's container is provisioned with: the files under
 * infra/gateway/files and the parameters file gateway.env (data only; the
 * scripts check every value's shape again before squid reads it).
 */
import { join } from "node:path";
import { MAX_RUNNERS, runnerName, type GatewayConfig, type NetworkConfig, type RunnerInstance } from "../config";
import { formatIpv4, parseIpv4 } from "../ipv4";
import { SHARED_FILES, type ProvisionFile } from "../provisioning";

export const GATEWAY_FILES = join(__dirname, "files");
/** The parameters file, beside the scripts. */
export const GATEWAY_ENV_FILE = "gateway.env";

/**
 * Who may use the gateway: the runners' ten reserved addresses (scaling the
 * fleet never re-provisions the gateway); the LAN if no runner has an address.
 */
export function runnerSources(instances: RunnerInstance[], lanCidr: string): string[] {
  const first = instances[0]?.ip;
  if (first === undefined) return [lanCidr];
  return Array.from({ length: MAX_RUNNERS }, (_, i) => `${formatIpv4(parseIpv4(first)! + i)}/32`);
}

/**
 * Which runner holds each reserved address, as `address=runner` (the
 * forwarder names each connection's client by it; the runners' addresses
 * follow their index, and a scale-up never re-provisions the gateway). None
 * under DHCP: then every connection's runner is `unknown`.
 */
export function runnerAddresses(instances: RunnerInstance[]): string[] {
  const first = instances[0]?.ip;
  if (first === undefined) return [];
  const base = parseIpv4(first)! - (instances[0]!.index - 1);
  return Array.from({ length: MAX_RUNNERS }, (_, i) => `${formatIpv4(base + i)}=${runnerName(i + 1)}`);
}

export interface GatewayParamsInput {
  gateway: Pick<GatewayConfig, "ip" | "port">;
  network: Pick<NetworkConfig, "cidr" | "adminCidr" | "dnsServers">;
  /** The allowlist: each domain with its subdomains. */
  domains: string[];
  /** runnerSources(). */
  clients: string[];
  /** runnerAddresses(). */
  runners: string[];
  /** Where the forwarder sends the decisions, and the name its credential may post as. */
  stats: { url: string; ip: string; port: number; runner: string };
}

/** The parameters provision-gateway.sh and gateway-firewall.sh read (gateway.env). */
export function gatewayParams(p: GatewayParamsInput): Record<string, string> {
  return {
    // Its own LAN address only: never every interface by accident.
    GATEWAY_ADDRESS: p.gateway.ip,
    GATEWAY_PORT: String(p.gateway.port),
    RUNNER_SOURCES: p.clients.join(" "),
    ADMIN_CIDR: p.network.adminCidr,
    DNS_SERVERS: p.network.dnsServers.join(" "),
    LAN_CIDR: p.network.cidr,
    EGRESS_DOMAINS: p.domains.join(" "),
    RUNNER_ADDRESSES: p.runners.join(" "),
    STATS_URL: p.stats.url,
    STATS_HOST: p.stats.ip,
    STATS_PORT: String(p.stats.port),
    STATS_RUNNER: p.stats.runner,
  };
}

/** Everything copied into the gateway's container but its gateway.env, by name in the bundle. */
export function gatewayFiles(): Record<string, ProvisionFile> {
  const own = [
    "provision-gateway.sh",
    "gateway-firewall.sh",
    "squid.conf",
    "cco-gateway.service",
    "cco-gateway-firewall.service",
    "logrotate-cco-gateway",
    "egress-summary.sh",
    "egress-decisions.awk",
    "egress-forwarder.sh",
    "cco-egress-forwarder.service",
    "cco-egress-forwarder.timer",
  ];
  return {
    ...Object.fromEntries(own.map((f) => [f, { path: join(GATEWAY_FILES, f) }])),
    "lib.sh": { path: SHARED_FILES.lib },
    "sshd-cco.conf": { path: SHARED_FILES.sshd },
  };
}
