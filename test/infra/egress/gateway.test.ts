import { expect } from "chai";
import { parseConfig } from "../../../infra/config";
import { gatewayParams, runnerSources } from "../../../infra/gateway/params";
import { ArchiveValue, AssetValue } from "../../../infra/plan/recorder";
import { runProgram, withNodeHosts } from "../../helpers/program";

const T = {
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  copy: "command:remote:CopyToRemote",
  remote: "command:remote:Command",
  rules: "proxmoxve:firewall/rulesLegacy:RulesLegacy",
};

describe("infra: the egress gateway component", () => {
  it("is its own unprivileged container under cco:egress:EgressGateway, provisioned with its files, firewalled, probed", async () => {
    const { recorder, outputs } = await runProgram();
    const c = recorder.byName(T.container, "cco-gateway");
    expect(c.inputs).to.include({ unprivileged: true, vmId: 211, startOnBoot: true, nodeName: "pve" });
    expect(c.parent).to.equal("cco-gateway");
    expect(recorder.byName("cco:proxmox:ProvisionedContainer", "cco-gateway").parent).to.equal("cco-gateway");
    expect(c.options.deleteBeforeReplace).to.equal(true);
    const copy = recorder.byName(T.copy, "cco-gateway-files");
    const assets = (copy.inputs.source as ArchiveValue).assets;
    expect(Object.keys(assets).sort()).to.deep.equal([
      "cco-egress-forwarder.service",
      "cco-egress-forwarder.timer",
      "cco-gateway-firewall.service",
      "cco-gateway.service",
      "egress-decisions.awk",
      "egress-forwarder.sh",
      "egress-summary.sh",
      "gateway-firewall.sh",
      "gateway.env",
      "lib.sh",
      "logrotate-cco-gateway",
      "provision-gateway.sh",
      "squid.conf",
      "sshd-cco.conf",
    ]);
    const env = (assets["gateway.env"] as AssetValue).text!;
    expect(env)
      .to.include("GATEWAY_ADDRESS=192.168.1.211\n")
      .and.include("GATEWAY_PORT=3128\n")
      .and.include("LAN_CIDR=192.168.1.0/24\n");
    expect(env).to.match(/^EGRESS_DOMAINS=github\.com api\.github\.com /m);
    // The forwarder's parameters: the runners' reserved addresses by name, the stats service, its own name.
    const c1 = parseConfig(withNodeHosts({}));
    expect(env)
      .to.include(`RUNNER_ADDRESSES=${c1.runners.instances[0]!.ip}=runner-01 `)
      .and.include(`STATS_URL=http://${c1.stats.ip}:${c1.stats.port}\n`)
      .and.include("STATS_RUNNER=cco-gateway\n");
    // Its own stats credential, registered with the stats service; the token goes on stdin, never in a file.
    const cred = recorder.byName("cco:stats:RunnerCredential", "cco-gateway-ingest");
    expect(cred.parent).to.equal("cco-gateway");
    expect(recorder.byName(T.remote, "cco-gateway-ingest-registration").inputs.create).to.match(/ add cco-gateway$/);
    expect(env).to.not.include("INGEST_TOKEN");
    const provision = recorder.byName(T.remote, "cco-gateway-provision");
    expect(provision.inputs.create).to.match(/^bash \/root\/cco-provision-[0-9a-f]{16}\/provision-gateway\.sh && /);
    expect(recorder.byName(T.remote, "cco-gateway-ready").inputs.create).to.include("sport = :3128");
    const rules = recorder.byName(T.rules, "cco-gateway-firewall-rules").inputs.rules as Array<{
      comment: string;
      dport?: string;
      source?: string;
    }>;
    const c0 = parseConfig(withNodeHosts({}));
    expect(rules.find((r) => r.dport === "3128")?.source).to.equal(
      runnerSources(c0.runners.instances, c0.network.cidr).join(","),
    );
    expect(outputs.egressProxyUrl).to.equal("http://192.168.1.211:3128");
  });

  it("lets the runners' ten reserved addresses use it", () => {
    const sources = (extra: Record<string, string>) => {
      const c = parseConfig(withNodeHosts(extra));
      return runnerSources(c.runners.instances, c.network.cidr);
    };
    const ten = sources({ runnerIpStart: "192.168.1.100" });
    expect(ten).to.have.length(10);
    expect(ten[0]).to.equal("192.168.1.100/32");
    expect(ten[9]).to.equal("192.168.1.109/32");
    // Scaling the fleet leaves the gateway's parameters (and so the gateway) as they are.
    expect(sources({ runnerCount: "7" })).to.deep.equal(sources({ runnerCount: "4" }));
  });

  it("writes its parameters as data: addresses, port, resolvers, LAN, allowlist", () => {
    const p = gatewayParams({
      gateway: { ip: "192.168.1.211", port: 3128 },
      network: { cidr: "192.168.1.0/24", adminCidr: "192.168.1.0/24", dnsServers: ["1.1.1.1", "9.9.9.9"] },
      domains: ["github.com", "ghcr.io"],
      clients: ["192.168.1.200/32", "192.168.1.201/32"],
      runners: ["192.168.1.200=runner-01", "192.168.1.201=runner-02"],
      stats: { url: "http://192.168.1.210:8080", ip: "192.168.1.210", port: 8080, runner: "cco-gateway" },
    });
    expect(p).to.deep.equal({
      GATEWAY_ADDRESS: "192.168.1.211",
      GATEWAY_PORT: "3128",
      RUNNER_SOURCES: "192.168.1.200/32 192.168.1.201/32",
      ADMIN_CIDR: "192.168.1.0/24",
      DNS_SERVERS: "1.1.1.1 9.9.9.9",
      LAN_CIDR: "192.168.1.0/24",
      EGRESS_DOMAINS: "github.com ghcr.io",
      RUNNER_ADDRESSES: "192.168.1.200=runner-01 192.168.1.201=runner-02",
      STATS_URL: "http://192.168.1.210:8080",
      STATS_HOST: "192.168.1.210",
      STATS_PORT: "8080",
      STATS_RUNNER: "cco-gateway",
    });
  });
});

describe("infra: runners and the egress gateway (egressMode)", () => {
  const runnerEnv = (recorder: Awaited<ReturnType<typeof runProgram>>["recorder"]) =>
    ((recorder.byName(T.copy, "runner-01-files").inputs.source as ArchiveValue).assets["runner.env"] as AssetValue)
      .text!;

  it("gateway (the default): every runner gets the proxy, reaches only it, and is provisioned after it", async () => {
    const { recorder } = await runProgram({ egressExtraCidrs: '["10.20.0.0/16"]' });
    const env = runnerEnv(recorder);
    expect(env).to.include("EGRESS_PROXY=http://192.168.1.211:3128\n");
    expect(env).to.include("EGRESS_NO_PROXY=localhost,127.0.0.1,::1,192.168.1.210,10.20.0.0/16\n");
    const rules = recorder.byName(T.rules, "runner-01-firewall-rules").inputs.rules as Array<{
      type: string;
      action: string;
      dport?: string;
      dest?: string;
    }>;
    const out = rules
      .filter((r) => r.type === "out" && r.action === "ACCEPT")
      .map((r) => `${r.dest ?? "any"}:${r.dport}`);
    expect(out).to.deep.equal(["192.168.1.210:8080", "192.168.1.211:3128", "10.20.0.0/16:80,443"]);
    const fleet = recorder.byName("cco:runners:RunnerFleet", "fleet");
    expect(fleet.options.dependencies).to.include(recorder.byName("cco:egress:EgressGateway", "cco-gateway").urn);
  });

  it("direct: no gateway, no proxy, and the runners keep DNS and the public web ports at the host firewall", async () => {
    const { recorder, outputs } = await runProgram({ egressMode: "direct" });
    expect(recorder.resources.filter((r) => r.name.startsWith("cco-gateway"))).to.deep.equal([]);
    expect(outputs.egressProxyUrl).to.equal("");
    const env = runnerEnv(recorder);
    expect(env).to.include("EGRESS_PROXY=\n").and.include("EGRESS_NO_PROXY=\n");
    const rules = recorder.byName(T.rules, "runner-01-firewall-rules").inputs.rules as Array<{
      type: string;
      action: string;
      dport?: string;
      dest?: string;
    }>;
    const out = rules
      .filter((r) => r.type === "out" && r.action === "ACCEPT")
      .map((r) => `${r.dest ?? "any"}:${r.dport}`);
    expect(out).to.deep.equal(["1.1.1.1,9.9.9.9:53", "1.1.1.1,9.9.9.9:53", "192.168.1.210:8080", "any:80,443"]);
  });
});
