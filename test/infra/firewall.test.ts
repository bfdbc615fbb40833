import { expect } from "chai";
import { BlockList, isIPv6 } from "node:net";
import { parseConfig, type InfraConfig } from "../../infra/config";
import {
  firewallNetwork,
  firewallOptions,
  firewallRules,
  renderPveFirewall,
  type FirewallRule,
} from "../../infra/firewall";
import { withNodeHosts } from "../helpers/program";

const config = (extra: Record<string, string> = {}): InfraConfig => parseConfig(withNodeHosts(extra));

interface Packet {
  type: "in" | "out";
  proto: "tcp" | "udp";
  /** The far end: destination of "out", source of "in". */
  peer: string;
  port: number;
}

/** Proxmox's semantics for a new connection: the first matching rule decides, else the policy (DROP). */
function verdict(rules: FirewallRule[], p: Packet): string {
  // node's BlockList matches an address against a block; a rule of one family never matches the other.
  const inList = (list: string | undefined, ip: string) =>
    list === undefined ||
    list.split(",").some((item) => {
      const family = isIPv6(item.split("/")[0]!) ? "ipv6" : "ipv4";
      if (family !== (isIPv6(ip) ? "ipv6" : "ipv4")) return false; // (BlockList would match IPv4 against ::ffff:0:0/96)
      const block = new BlockList();
      if (item.includes("/")) block.addSubnet(item.split("/")[0]!, Number(item.split("/")[1]), family);
      else block.addAddress(item, family);
      return block.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
    });
  const portIn = (list: string | undefined) => list === undefined || list.split(",").map(Number).includes(p.port);
  const rule = rules.find(
    (r) =>
      r.type === p.type &&
      (r.proto === undefined || r.proto === p.proto) &&
      inList(p.type === "out" ? r.dest : r.source, p.peer) &&
      portIn(r.dport),
  );
  return rule?.action ?? "DROP";
}

describe("infra: the Proxmox firewall of each container", () => {
  const c = config({ egressExtraCidrs: '["10.20.0.0/16"]' });
  const runner = firewallRules(firewallNetwork(c), "runner");
  const stats = firewallRules(firewallNetwork(c), "stats");
  const withPorts = firewallRules(
    firewallNetwork(config({ egressExtraCidrs: '["10.20.0.0/16"]', egressExtraCidrPorts: '["443","5000"]' })),
    "runner",
  );
  const withCollector = firewallRules(firewallNetwork(config({ logCollector: "192.168.1.211:19532" })), "runner");
  const gateway = firewallRules(firewallNetwork(c), "gateway");
  // egressMode direct: no gateway; the runner resolves and connects itself (the old wall).
  const direct = firewallRules(firewallNetwork(config({ egressMode: "direct" })), "runner");

  const cases: [string, FirewallRule[], Packet, string][] = [
    [
      "runner: DNS to a configured resolver (the gateway resolves)",
      runner,
      { type: "out", proto: "udp", peer: "1.1.1.1", port: 53 },
      "DROP",
    ],
    [
      "runner: DNS over TCP to a configured resolver",
      runner,
      { type: "out", proto: "tcp", peer: "9.9.9.9", port: 53 },
      "DROP",
    ],
    ["runner: DNS to any other server", runner, { type: "out", proto: "udp", peer: "8.8.8.8", port: 53 }, "DROP"],
    [
      "runner: HTTPS to a public address (only through the gateway)",
      runner,
      { type: "out", proto: "tcp", peer: "140.82.112.3", port: 443 },
      "DROP",
    ],
    ["runner: HTTP to a public address", runner, { type: "out", proto: "tcp", peer: "140.82.112.3", port: 80 }, "DROP"],
    [
      "runner: the egress gateway's port",
      runner,
      { type: "out", proto: "tcp", peer: "192.168.1.211", port: 3128 },
      "ACCEPT",
    ],
    [
      "runner: the gateway on another port",
      runner,
      { type: "out", proto: "tcp", peer: "192.168.1.211", port: 22 },
      "DROP",
    ],
    [
      "direct: DNS to a configured resolver",
      direct,
      { type: "out", proto: "udp", peer: "1.1.1.1", port: 53 },
      "ACCEPT",
    ],
    ["direct: DNS to any other server", direct, { type: "out", proto: "udp", peer: "8.8.8.8", port: 53 }, "DROP"],
    [
      "direct: HTTPS to a public address",
      direct,
      { type: "out", proto: "tcp", peer: "140.82.112.3", port: 443 },
      "ACCEPT",
    ],
    [
      "direct: HTTP to a public address",
      direct,
      { type: "out", proto: "tcp", peer: "140.82.112.3", port: 80 },
      "ACCEPT",
    ],
    ["direct: HTTPS on the LAN", direct, { type: "out", proto: "tcp", peer: "192.168.1.10", port: 443 }, "DROP"],
    ["direct: the stats service", direct, { type: "out", proto: "tcp", peer: "192.168.1.210", port: 8080 }, "ACCEPT"],
    [
      "direct: no gateway port (there is none)",
      direct,
      { type: "out", proto: "tcp", peer: "192.168.1.211", port: 3128 },
      "DROP",
    ],
    [
      "direct: HTTPS to a public IPv6 address (the runner closes IPv6 inside)",
      direct,
      { type: "out", proto: "tcp", peer: "2606:50c0:8000::153", port: 443 },
      "ACCEPT",
    ],
    [
      "direct: HTTPS to an IPv6 unique local address",
      direct,
      { type: "out", proto: "tcp", peer: "fd00::1", port: 443 },
      "DROP",
    ],
    [
      "gateway: the proxy port from a runner",
      gateway,
      { type: "in", proto: "tcp", peer: "192.168.1.203", port: 3128 },
      "ACCEPT",
    ],
    [
      "gateway: the proxy port from elsewhere on the LAN",
      gateway,
      { type: "in", proto: "tcp", peer: "192.168.1.50", port: 3128 },
      "DROP",
    ],
    [
      "gateway: HTTPS to a public address",
      gateway,
      { type: "out", proto: "tcp", peer: "140.82.112.3", port: 443 },
      "ACCEPT",
    ],
    [
      "gateway: DNS to a configured resolver",
      gateway,
      { type: "out", proto: "udp", peer: "1.1.1.1", port: 53 },
      "ACCEPT",
    ],
    ["gateway: DNS to any other server", gateway, { type: "out", proto: "udp", peer: "8.8.8.8", port: 53 }, "DROP"],
    [
      "gateway: no way into the LAN (rebinding stops here too)",
      gateway,
      { type: "out", proto: "tcp", peer: "192.168.1.10", port: 443 },
      "DROP",
    ],
    [
      "gateway: the stats service (its forwarder's heartbeats)",
      gateway,
      { type: "out", proto: "tcp", peer: "192.168.1.210", port: 8080 },
      "ACCEPT",
    ],
    [
      "gateway: the stats host on another port",
      gateway,
      { type: "out", proto: "tcp", peer: "192.168.1.210", port: 22 },
      "DROP",
    ],
    [
      "gateway: the cloud metadata address",
      gateway,
      { type: "out", proto: "tcp", peer: "169.254.169.254", port: 80 },
      "DROP",
    ],
    ["runner: SSH to a public address", runner, { type: "out", proto: "tcp", peer: "140.82.112.3", port: 22 }, "DROP"],
    ["runner: UDP 443 (QUIC) out", runner, { type: "out", proto: "udp", peer: "140.82.112.3", port: 443 }, "DROP"],
    ["runner: the stats service", runner, { type: "out", proto: "tcp", peer: "192.168.1.210", port: 8080 }, "ACCEPT"],
    [
      "runner: the stats host on another port",
      runner,
      { type: "out", proto: "tcp", peer: "192.168.1.210", port: 22 },
      "DROP",
    ],
    ["runner: the Proxmox API", runner, { type: "out", proto: "tcp", peer: "192.168.1.10", port: 8006 }, "DROP"],
    ["runner: HTTPS on the LAN", runner, { type: "out", proto: "tcp", peer: "192.168.1.10", port: 443 }, "DROP"],
    ["runner: another private range", runner, { type: "out", proto: "tcp", peer: "172.16.5.5", port: 443 }, "DROP"],
    [
      "runner: the cloud metadata address",
      runner,
      { type: "out", proto: "tcp", peer: "169.254.169.254", port: 80 },
      "DROP",
    ],
    [
      "runner: a configured extra block on 443",
      runner,
      { type: "out", proto: "tcp", peer: "10.20.3.4", port: 443 },
      "ACCEPT",
    ],
    [
      "runner: a configured extra block on another port (egressExtraCidrPorts not set)",
      runner,
      { type: "out", proto: "tcp", peer: "10.20.3.4", port: 5000 },
      "DROP",
    ],
    [
      "runner: a configured extra block on a port egressExtraCidrPorts opens",
      withPorts,
      { type: "out", proto: "tcp", peer: "10.20.3.4", port: 5000 },
      "ACCEPT",
    ],
    [
      "runner: (that port opened to the extra blocks only)",
      withPorts,
      { type: "out", proto: "tcp", peer: "140.82.112.3", port: 5000 },
      "DROP",
    ],
    [
      "runner: HTTPS to a public IPv6 address (only through the gateway)",
      runner,
      { type: "out", proto: "tcp", peer: "2606:50c0:8000::153", port: 443 },
      "DROP",
    ],
    [
      "gateway: HTTPS to a public IPv6 address",
      gateway,
      { type: "out", proto: "tcp", peer: "2606:50c0:8000::153", port: 443 },
      "ACCEPT",
    ],
    [
      "gateway: HTTPS to an IPv6 unique local address",
      gateway,
      { type: "out", proto: "tcp", peer: "fd12:3456::1", port: 443 },
      "DROP",
    ],
    [
      "runner: HTTPS to an IPv6 unique local address",
      runner,
      { type: "out", proto: "tcp", peer: "fd12:3456::1", port: 443 },
      "DROP",
    ],
    [
      "runner: HTTPS to an IPv6 link-local address",
      runner,
      { type: "out", proto: "tcp", peer: "fe80::1", port: 443 },
      "DROP",
    ],
    ["runner: HTTP to IPv6 loopback", runner, { type: "out", proto: "tcp", peer: "::1", port: 80 }, "DROP"],
    [
      "runner: HTTPS to a LAN address through NAT64",
      runner,
      { type: "out", proto: "tcp", peer: "64:ff9b::c0a8:10a", port: 443 },
      "DROP",
    ],
    [
      "runner: HTTPS to an IPv4-mapped LAN address",
      runner,
      { type: "out", proto: "tcp", peer: "::ffff:c0a8:10a", port: 443 },
      "DROP",
    ],
    [
      "runner: the log collector",
      withCollector,
      { type: "out", proto: "tcp", peer: "192.168.1.211", port: 19532 },
      "ACCEPT",
    ],
    [
      "runner: no log collector configured: its port closed",
      runner,
      { type: "out", proto: "tcp", peer: "192.168.1.211", port: 19532 },
      "DROP",
    ],
    [
      "runner: SSH in from the admin block",
      runner,
      { type: "in", proto: "tcp", peer: "192.168.1.50", port: 22 },
      "ACCEPT",
    ],
    ["runner: SSH in from elsewhere", runner, { type: "in", proto: "tcp", peer: "203.0.113.9", port: 22 }, "DROP"],
    ["runner: anything else in", runner, { type: "in", proto: "tcp", peer: "192.168.1.50", port: 8080 }, "DROP"],
    [
      "stats: readers and runners on the LAN",
      stats,
      { type: "in", proto: "tcp", peer: "192.168.1.201", port: 8080 },
      "ACCEPT",
    ],
    [
      "stats: the port from outside the LAN",
      stats,
      { type: "in", proto: "tcp", peer: "203.0.113.9", port: 8080 },
      "DROP",
    ],
    [
      "stats: HTTPS out (Node and packages when provisioned)",
      stats,
      { type: "out", proto: "tcp", peer: "104.20.22.46", port: 443 },
      "ACCEPT",
    ],
    ["stats: no way into the LAN", stats, { type: "out", proto: "tcp", peer: "192.168.1.200", port: 22 }, "DROP"],
    [
      "stats: no extra blocks (they are for runners)",
      stats,
      { type: "out", proto: "tcp", peer: "10.20.3.4", port: 5000 },
      "DROP",
    ],
  ];
  for (const [what, rules, packet, expected] of cases) {
    it(`${what}: ${expected}`, () => expect(verdict(rules, packet)).to.equal(expected));
  }

  it("logs what the private-range rule drops, and says why on every rule", () => {
    const drop = runner.find((r) => r.action === "DROP")!;
    expect(drop.log).to.equal("info");
    expect(runner.every((r) => r.comment.length > 10)).to.equal(true);
  });

  it("switches the firewall on with DROP both ways, pins the static address, allows no DHCP", () => {
    expect(firewallOptions()).to.include({
      enabled: true,
      inputPolicy: "DROP",
      outputPolicy: "DROP",
      ipfilter: true,
      dhcp: false,
      ndp: false,
      radv: false,
    });
  });

  it("renders the settings as Proxmox's <vmid>.fw file", () => {
    const text = renderPveFirewall(firewallOptions(), runner);
    expect(text).to.match(/^\[OPTIONS\]\nenable: 1\npolicy_in: DROP\npolicy_out: DROP\n/);
    expect(text).to.include("IN ACCEPT -source 192.168.1.0/24 -p tcp -dport 22 # SSH from the admin block only");
    expect(text).to.include("OUT ACCEPT -dest 192.168.1.211 -p tcp -dport 3128 # the egress gateway");
  });
});
