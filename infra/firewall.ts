/**
 * The Proxmox firewall of each container: the wall a root inside the
 * container cannot lift (the rules live on the host, in the container's
 * firewall config, and are applied on the host's bridge).
 *
 * The host cannot see names. With the egress gateway (egressMode gateway,
 * the default) a runner may reach only the gateway's port (which admits
 * allowed names only, docs/egress-gateway.md), the stats service, the log
 * collector and configured extra blocks: no DNS, no web port. Without it
 * (egressMode direct) a runner may also reach DNS on the configured resolvers
 * and web ports (80/443) on public addresses, and its names are filtered only
 * inside (infra/runners/files/egress.sh). The gateway and the stats service
 * reach DNS and public web ports; the LAN, the Proxmox hosts and every other private range closed;
 * SSH in only from the admin block. Policies are DROP both ways and dropped
 * packets are logged (Proxmox rate-limits firewall logs).
 *
 * Prerequisite on the host: the datacenter firewall must be enabled
 * (Datacenter > Firewall > Options), or Proxmox ignores these rules. The
 * program does not switch it on, since that changes the firewall of the
 * whole cluster (README, Security).
 */
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import type { InfraConfig } from "./config";
import { runnerSources } from "./gateway/params";

/** RFC 1918, shared address space, link-local and loopback: never reached except as allowed above them. */
export const PRIVATE_RANGES = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "127.0.0.0/8",
];

/**
 * The same for IPv6 (a rule holds one family): unique local, link-local,
 * loopback, IPv4-mapped, NAT64 (which reaches IPv4 ranges above) and documentation.
 */
export const PRIVATE_RANGES_V6 = ["fc00::/7", "fe80::/10", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "2001:db8::/32"];

/** One rule as the provider takes it (`firewall.RulesLegacyRule`), with plain values. */
export interface FirewallRule {
  type: "in" | "out";
  action: "ACCEPT" | "DROP";
  proto?: "tcp" | "udp";
  source?: string;
  dest?: string;
  dport?: string;
  log?: string;
  comment: string;
}

/** Which container the rules are for: the runners reach only the gateway and the stats service, which are also reached. */
export type FirewallRole = "runner" | "stats" | "gateway";

/** What the rules are made of: the LAN, its resolvers and admin block, the stats service. */
export interface FirewallNetwork {
  /** The containers' LAN: closed, like every private range, except as allowed. */
  lanCidr: string;
  /** Where SSH comes from. */
  adminCidr: string;
  /** The only resolvers DNS may go to. */
  dnsServers: string[];
  /** The stats service: runners send to it, LAN readers reach it. */
  stats: { ip: string; port: number };
  /** Blocks runners may reach (egressExtraCidrs), on the TCP ports extraCidrPorts. */
  extraCidrs: string[];
  extraCidrPorts: number[];
  /** Where runners ship their journal (logCollector), if anywhere. */
  logCollector?: { ip: string; port: number };
  /** The egress gateway, the runners' only way out; `clients` are the runners' addresses (runnerSources). None: egressMode direct. */
  gateway?: { ip: string; port: number; clients: string[] };
}

/** The config's part that the firewall rules are made of. */
export function firewallNetwork(
  c: Pick<InfraConfig, "network" | "stats" | "egress" | "gateway" | "runners">,
): FirewallNetwork {
  return {
    lanCidr: c.network.cidr,
    adminCidr: c.network.adminCidr,
    dnsServers: c.network.dnsServers,
    stats: { ip: c.stats.ip, port: c.stats.port },
    extraCidrs: c.egress.extraCidrs,
    extraCidrPorts: c.egress.extraCidrPorts,
    logCollector: c.egress.logCollector
      ? { ip: c.egress.logCollector.split(":")[0]!, port: Number(c.egress.logCollector.split(":")[1]) }
      : undefined,
    gateway: c.gateway && {
      ip: c.gateway.ip,
      port: c.gateway.port,
      clients: runnerSources(c.runners.instances, c.network.cidr),
    },
  };
}

/**
 * The container's rules, first match wins (Proxmox evaluates them in order;
 * replies to allowed connections pass by connection tracking).
 */
export function firewallRules(n: FirewallNetwork, role: FirewallRole): FirewallRule[] {
  const resolvers = n.dnsServers.join(",");
  const rules: FirewallRule[] = [
    {
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "22",
      source: n.adminCidr,
      comment: "SSH from the admin block only",
    },
  ];
  if (role === "stats") {
    const clients = [...new Set([n.lanCidr, n.adminCidr])].join(",");
    rules.push({
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: String(n.stats.port),
      source: clients,
      comment: "stats service: runners and readers on the LAN",
    });
  }
  if (role === "gateway") {
    if (!n.gateway) throw new Error("firewallRules: role gateway without a gateway (egressMode direct declares none)");
    rules.push({
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: String(n.gateway.port),
      source: n.gateway.clients.join(","),
      comment: "egress gateway: the runners' proxy port",
    });
  }
  // Behind the gateway a runner resolves nothing itself: the gateway resolves the names it admits.
  const viaGateway = role === "runner" && n.gateway !== undefined;
  if (!viaGateway) {
    rules.push(
      {
        type: "out",
        action: "ACCEPT",
        proto: "udp",
        dport: "53",
        dest: resolvers,
        comment: "DNS to the configured resolvers only",
      },
      {
        type: "out",
        action: "ACCEPT",
        proto: "tcp",
        dport: "53",
        dest: resolvers,
        comment: "DNS over TCP to the configured resolvers only",
      },
    );
  }
  if (role === "runner" || role === "gateway") {
    rules.push({
      type: "out",
      action: "ACCEPT",
      proto: "tcp",
      dport: String(n.stats.port),
      dest: n.stats.ip,
      comment:
        role === "runner"
          ? "events and heartbeats to the stats service"
          : "the gateway's decisions (heartbeats) to the stats service",
    });
  }
  if (role === "runner") {
    if (n.logCollector) {
      rules.push({
        type: "out",
        action: "ACCEPT",
        proto: "tcp",
        dport: String(n.logCollector.port),
        dest: n.logCollector.ip,
        comment: "the journal to the log collector (logCollector)",
      });
    }
    if (n.gateway) {
      rules.push({
        type: "out",
        action: "ACCEPT",
        proto: "tcp",
        dport: String(n.gateway.port),
        dest: n.gateway.ip,
        comment: "the egress gateway: the runner's only way out (names are enforced there)",
      });
    }
    if (n.extraCidrs.length > 0) {
      rules.push({
        type: "out",
        action: "ACCEPT",
        proto: "tcp",
        dport: n.extraCidrPorts.join(","),
        dest: n.extraCidrs.join(","),
        comment: "configured extra blocks, on egressExtraCidrPorts only",
      });
    }
  }
  const closed = [...new Set([n.lanCidr, ...PRIVATE_RANGES])].join(",");
  rules.push(
    {
      type: "out",
      action: "DROP",
      dest: closed,
      log: "info",
      comment: "the LAN, the Proxmox hosts and private ranges stay closed",
    },
    {
      type: "out",
      action: "DROP",
      dest: PRIVATE_RANGES_V6.join(","),
      log: "info",
      comment: "IPv6 private, link-local, loopback and NAT64 ranges stay closed",
    },
  );
  if (!viaGateway) {
    rules.push({
      type: "out",
      action: "ACCEPT",
      proto: "tcp",
      dport: "80,443",
      comment:
        role === "runner"
          ? "web ports to public addresses (egressMode direct: names are filtered inside only)"
          : "web ports to public addresses",
    });
  }
  return rules;
}

/** The firewall options a container gets, without the container's id and node. */
export type FirewallOptions = Omit<proxmoxve.firewall.OptionsLegacyArgs, "nodeName" | "containerId">;

/**
 * The container's firewall options: on, DROP both ways, logged; no DHCP
 * (every container has a static address, which Proxmox pins it to: no
 * spoofing), no IPv6 autoconfiguration.
 */
export function firewallOptions(): FirewallOptions {
  return {
    enabled: true,
    inputPolicy: "DROP",
    outputPolicy: "DROP",
    logLevelIn: "info",
    logLevelOut: "info",
    dhcp: false,
    ipfilter: true,
    macfilter: true,
    ndp: false,
    radv: false,
  };
}

/**
 * The same settings as Proxmox writes them to /etc/pve/firewall/<vmid>.fw,
 * for reading in the offline plan's artifacts.
 */
export function renderPveFirewall(options: Record<string, unknown>, rules: FirewallRule[]): string {
  const flag = (v: unknown) => (v ? 1 : 0);
  const lines = [
    "[OPTIONS]",
    `enable: ${flag(options.enabled)}`,
    `policy_in: ${String(options.inputPolicy)}`,
    `policy_out: ${String(options.outputPolicy)}`,
    `log_level_in: ${String(options.logLevelIn)}`,
    `log_level_out: ${String(options.logLevelOut)}`,
    `dhcp: ${flag(options.dhcp)}`,
    `ipfilter: ${flag(options.ipfilter)}`,
    `macfilter: ${flag(options.macfilter)}`,
    `ndp: ${flag(options.ndp)}`,
    `radv: ${flag(options.radv)}`,
    "",
    "[RULES]",
    ...rules.map((r) =>
      [
        r.type.toUpperCase(),
        r.action,
        r.source && `-source ${r.source}`,
        r.dest && `-dest ${r.dest}`,
        r.proto && `-p ${r.proto}`,
        r.dport && `-dport ${r.dport}`,
        r.log && `-log ${r.log}`,
        `# ${r.comment}`,
      ]
        .filter(Boolean)
        .join(" "),
    ),
  ];
  return `${lines.join("\n")}\n`;
}
