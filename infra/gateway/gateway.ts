/**
 * The egress gateway as a component: its own small unprivileged container
 * running squid as an explicit proxy that admits allowed names only
 * (infra/gateway/files/squid.conf, docs/egress-gateway.md), with its own
 * firewall inside and its Proxmox host firewall outside, and a post-deploy
 * check that squid listens on its port.
 */
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { GatewayConfig, NetworkConfig, RunnerInstance } from "../config";
import { firewallOptions, firewallRules, type FirewallNetwork } from "../firewall";
import { ProvisionedContainer, serviceContainer } from "../proxmox/container";
import { GATEWAY_STATS_NAME } from "../../service/aggregate/egress";
import { RunnerCredential, type CredentialTarget } from "../stats/service";
import { GATEWAY_ENV_FILE, gatewayFiles, gatewayParams, runnerAddresses } from "./params";

export interface EgressGatewayArgs {
  /** The gateway's container: vmId, node, address, proxy port, size. */
  gateway: GatewayConfig;
  /** The LAN: block, prefix, gateway, resolvers, admin block (the gateway is always static). */
  network: Pick<NetworkConfig, "cidr" | "prefix" | "gateway" | "dnsServers" | "adminCidr">;
  /** The allowed domains (each with its subdomains). */
  domains: string[];
  /** The runners (their addresses name each connection's runner in the decisions sent to the stats service). */
  instances: RunnerInstance[];
  /** The stats service: where the decisions go, and where the gateway's own credential is registered. */
  stats: { url: string; ip: string; port: number; credentialTarget: CredentialTarget };
  /** Datastore of the root disk and the bridge the container joins. */
  proxmox: { datastore: string; bridge: string };
  /** What its Proxmox firewall is made of (its `gateway.clients` may use the proxy port). */
  firewall: FirewallNetwork;
  /** The LXC template's file id on the gateway's node. */
  templateFileId: pulumi.Input<string>;
  /** Provisioning over SSH: user, public key (installed at create), private key (secret). */
  ssh: { user: string; publicKey: string; privateKey: pulumi.Output<string> };
}

export class EgressGateway extends pulumi.ComponentResource {
  readonly container: proxmoxve.ContainerLegacy;
  /** http://<address>:<port>, what runners set as http_proxy and https_proxy. */
  readonly proxyUrl: string;

  constructor(name: string, args: EgressGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:egress:EgressGateway", name, {}, opts);
    const { gateway: g, network: net } = args;
    this.proxyUrl = `http://${g.ip}:${g.port}`;
    const clients = args.firewall.gateway?.clients;
    if (!clients)
      throw new Error("EgressGateway: the firewall network has no gateway (its clients are the runners' addresses)");

    // Its own stats credential: the service takes egress figures from this name only (service/aggregate/egress.ts).
    const credential = new RunnerCredential(
      `${name}-ingest`,
      { runner: GATEWAY_STATS_NAME, target: args.stats.credentialTarget },
      { parent: this },
    );
    const box = new ProvisionedContainer(
      name,
      {
        ...serviceContainer(name, { description: "egress gateway", tag: "egress" }, g, args),
        firewall: { rules: firewallRules(args.firewall, "gateway"), options: firewallOptions() },
        files: gatewayFiles(),
        env: {
          file: GATEWAY_ENV_FILE,
          values: gatewayParams({
            gateway: g,
            network: net,
            domains: args.domains,
            clients,
            runners: runnerAddresses(args.instances),
            stats: { url: args.stats.url, ip: args.stats.ip, port: args.stats.port, runner: GATEWAY_STATS_NAME },
          }),
        },
        stdin: () => pulumi.interpolate`INGEST_TOKEN=${credential.token}\n`,
        script: "provision-gateway.sh",
        // No job runs here to drain first: an in-place reboot is fine.
        replaceInsteadOfReboot: false,
      },
      { parent: this },
    );
    this.container = box.container;

    // The deployment fails unless squid is up and listening within a minute.
    new command.remote.Command(
      `${name}-ready`,
      {
        connection: box.connection,
        create:
          `for i in $(seq 1 60); do systemctl is-active --quiet cco-gateway && ss -Hltn 'sport = :${g.port}' | grep -q . && exit 0; sleep 1; done; ` +
          "echo 'egress gateway is not listening after 60 s' >&2; journalctl -u cco-gateway --no-pager -n 50 >&2; exit 1",
        triggers: [box.filesHash],
      },
      { parent: this, dependsOn: [box.provision], replaceWith: [box.provision] },
    );
    this.registerOutputs({ proxyUrl: this.proxyUrl });
  }
}
