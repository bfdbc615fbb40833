/**
 * The Proxmox firewall of each container: the wall a root inside the
 * container cannot lift (the rules live on the host, in the container's
 * firewall config, and are applied on the host's bridge).
 *
 * Inside a runner, dnsmasq + ipset + iptables allow only the listed domains
 * (infra/runners/files/egress.sh). The host cannot see names, so it enforces
 * the coarse shape around that: DNS only to the configured resolvers, the
 * stats service, configured extra blocks, and web ports (80/443) to public
 * addresses; the LAN, the Proxmox hosts and every other private range closed;
 * SSH in only from the admin block. Policies are DROP both ways and dropped
 * packets are logged (Proxmox rate-limits firewall logs).
 *
 * Prerequisite on the host: the datacenter firewall must be enabled
 * (Datacenter > Firewall > Options), or Proxmox ignores these rules. The
 * program does not switch it on, since that changes the firewall of the
 * whole cluster (README, Security).
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import type * as pulumi from "@pulumi/pulumi";
import type { InfraConfig } from "./config";

/** RFC 1918, shared address space, link-local and loopback: never reached except as allowed above them. */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8"];

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

/** Which container the rules are for: the runners reach out, the stats service is also reached. */
export type FirewallRole = "runner" | "stats";

/**
 * The container's rules, first match wins (Proxmox evaluates them in order;
 * replies to allowed connections pass by connection tracking).
 */
export function firewallRules(c: InfraConfig, role: FirewallRole): FirewallRule[] {
  const resolvers = c.network.dnsServers.join(",");
  const rules: FirewallRule[] = [
    { type: "in", action: "ACCEPT", proto: "tcp", dport: "22", source: c.network.adminCidr, comment: "SSH from the admin block only" },
  ];
  if (role === "stats") {
    const clients = [...new Set([c.network.cidr, c.network.adminCidr])].join(",");
    rules.push({ type: "in", action: "ACCEPT", proto: "tcp", dport: String(c.stats.port), source: clients, comment: "stats service: runners and readers on the LAN" });
  }
  rules.push(
    { type: "out", action: "ACCEPT", proto: "udp", dport: "53", dest: resolvers, comment: "DNS to the configured resolvers only" },
    { type: "out", action: "ACCEPT", proto: "tcp", dport: "53", dest: resolvers, comment: "DNS over TCP to the configured resolvers only" },
  );
  if (role === "runner") {
    rules.push({ type: "out", action: "ACCEPT", proto: "tcp", dport: String(c.stats.port), dest: c.stats.ip, comment: "events and heartbeats to the stats service" });
    if (c.egress.extraCidrs.length > 0) {
      rules.push({ type: "out", action: "ACCEPT", dest: c.egress.extraCidrs.join(","), comment: "configured extra blocks (egressExtraCidrs)" });
    }
  }
  const closed = [...new Set([c.network.cidr, ...PRIVATE_RANGES])].join(",");
  rules.push(
    { type: "out", action: "DROP", dest: closed, log: "info", comment: "the LAN, the Proxmox hosts and private ranges stay closed" },
    { type: "out", action: "ACCEPT", proto: "tcp", dport: "80,443", comment: "web ports to public addresses (names are filtered inside)" },
  );
  return rules;
}

/** The container's firewall options: on, DROP both ways, logged; no IPv6 autoconfiguration. */
export function firewallOptions(c: InfraConfig, staticIp: boolean): Omit<proxmoxve.firewall.OptionsLegacyArgs, "nodeName" | "containerId"> {
  return {
    enabled: true,
    inputPolicy: "DROP",
    outputPolicy: "DROP",
    logLevelIn: "info",
    logLevelOut: "info",
    dhcp: c.network.mode === "dhcp",
    // With a static address Proxmox pins the container to it (no spoofing);
    // under DHCP there is no configured address to pin.
    ipfilter: staticIp,
    macfilter: true,
    ndp: false,
    radv: false,
  };
}

export interface ContainerFirewallArgs {
  config: InfraConfig;
  role: FirewallRole;
  container: proxmoxve.ContainerLegacy;
  nodeName: string;
  staticIp: boolean;
}

/**
 * The rules, then the options that switch the firewall on with DROP
 * policies (in that order, so SSH is never cut between the two).
 */
export function containerFirewall(name: string, args: ContainerFirewallArgs, parent: pulumi.Resource): proxmoxve.firewall.OptionsLegacy {
  const { container } = args;
  const rules = new proxmoxve.firewall.RulesLegacy(
    `${name}-firewall-rules`,
    { nodeName: args.nodeName, containerId: container.vmId, rules: firewallRules(args.config, args.role) },
    // Proxmox drops a container's firewall with the container: set it again on the new one.
    { parent, replaceWith: [container] },
  );
  return new proxmoxve.firewall.OptionsLegacy(
    `${name}-firewall`,
    { nodeName: args.nodeName, containerId: container.vmId, ...firewallOptions(args.config, args.staticIp) },
    { parent, dependsOn: [rules], replaceWith: [container] },
  );
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
