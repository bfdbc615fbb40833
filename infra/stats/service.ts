/**
 * The stats service as a component: its own small unprivileged container,
 * Node.js LTS (pinned, checksum-checked), the service bundled to one file,
 * its hardened systemd unit, a generated ingest token shared with the
 * runners' forwarders, and a post-deploy probe of /healthz.
 */
import { join } from "node:path";
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { InfraConfig } from "../config";
import { containerFirewall } from "../firewall";
import { connection, envFile, provisionBundle, provisionCommand, RUNNER_FILES, STATS_FILES } from "../provisioning";
import { PROJECT_ROOT } from "../stackfile";
import { bundleStatsService } from "./bundle";
import { STATS_NODE_FLAGS } from "./runtime";

/** Where the build writes the bundle (git-ignored). */
export const BUNDLE_PATH = join(PROJECT_ROOT, ".build", "stats-service.js");

export interface StatsServiceArgs {
  config: InfraConfig;
  /** The LXC template on the service's node. */
  template: proxmoxve.download.File;
  /** Private half of the provisioning SSH key (secret). */
  sshPrivateKey: pulumi.Output<string>;
}

/** The parameters provision-stats.sh and the unit read (stats.env). */
export function statsParams(c: InfraConfig): Record<string, string> {
  return {
    NODE_VERSION: c.stats.nodeVersion,
    NODE_SHA256: c.stats.nodeSha256,
    NODE_URL: c.stats.nodeTarballUrl,
    NODE_FLAGS: STATS_NODE_FLAGS.join(" "),
    // Its own LAN address: reachable by the runners, never every interface by accident.
    STATS_HOST: c.stats.ip,
    STATS_PORT: String(c.stats.port),
    STATS_DATA_DIR: "/var/lib/cco-stats",
  };
}

export class StatsService extends pulumi.ComponentResource {
  readonly container: proxmoxve.ContainerLegacy;
  /** http://<address>:<port> */
  readonly url: string;
  readonly ingestToken: pulumi.Output<string>;

  constructor(name: string, args: StatsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:stats:StatsService", name, {}, opts);
    const { config: c } = args;
    this.url = `http://${c.stats.ip}:${c.stats.port}`;

    this.ingestToken = new random.RandomPassword(`${name}-ingest-token`, { length: 48, special: false }, { parent: this }).result;

    this.container = new proxmoxve.ContainerLegacy(
      name,
      {
        nodeName: c.stats.node,
        vmId: c.stats.vmId,
        unprivileged: true,
        description: `cco stats service of ${pulumi.getProject()}/${pulumi.getStack()}. Managed by Pulumi.`,
        tags: ["cco", "stats", pulumi.getStack().toLowerCase()],
        startOnBoot: true,
        started: true,
        cpu: { cores: c.stats.cores, architecture: "amd64" },
        memory: { dedicated: c.stats.memoryMb, swap: 0 },
        disk: { datastoreId: c.proxmox.datastore, size: c.stats.diskGb },
        // systemd's mount sandboxing (ProtectSystem=strict) needs nesting under
        // Proxmox's AppArmor profile; this container runs no untrusted code.
        features: { nesting: true, keyctl: false },
        operatingSystem: { templateFileId: args.template.id, type: "debian" },
        networkInterfaces: [{ name: "eth0", bridge: c.proxmox.bridge, firewall: true }],
        initialization: {
          hostname: name,
          ipConfigs: [{ ipv4: { address: `${c.stats.ip}/${c.network.prefix}`, gateway: c.network.gateway } }],
          dns: { servers: c.network.dnsServers },
          userAccount: { keys: [c.ssh.publicKey] },
        },
      },
      // Its vmId and address are fixed: a replacement must free them first.
      { parent: this, deleteBeforeReplace: true },
    );
    const firewall = containerFirewall(name, { config: c, role: "stats", container: this.container, nodeName: c.stats.node, staticIp: true }, this);
    const conn = connection(c.stats.ip, c.ssh.user, args.sshPrivateKey);

    const bundled = bundleStatsService(BUNDLE_PATH);
    const bundle = provisionBundle({
      "provision-stats.sh": { path: join(STATS_FILES, "provision-stats.sh") },
      "cco-stats.service": { path: join(STATS_FILES, "cco-stats.service") },
      "lib.sh": { path: join(RUNNER_FILES, "lib.sh") },
      "sshd-cco.conf": { path: join(RUNNER_FILES, "config", "sshd-cco.conf") },
      "stats-service.js": { path: bundled.path },
      "stats.env": { text: envFile(statsParams(c)) },
    });
    const copy = new command.remote.CopyToRemote(
      `${name}-files`,
      { connection: conn, source: bundle.archive, remotePath: bundle.remoteParent },
      { parent: this, dependsOn: [this.container], replaceWith: [this.container] },
    );
    const provision = new command.remote.Command(
      `${name}-provision`,
      {
        connection: conn,
        create: provisionCommand(bundle, "provision-stats.sh"),
        stdin: pulumi.secret(pulumi.interpolate`INGEST_TOKEN=${this.ingestToken}\n`),
        triggers: [bundle.hash],
      },
      { parent: this, dependsOn: [copy, firewall], replaceWith: [this.container] },
    );
    // The deployment fails unless the service answers healthy within a minute.
    new command.remote.Command(
      `${name}-healthz`,
      {
        connection: conn,
        create:
          `for i in $(seq 1 60); do curl -fsS --max-time 2 http://${c.stats.ip}:${c.stats.port}/healthz && exit 0; sleep 1; done; ` +
          "echo 'stats service is not healthy after 60 s' >&2; journalctl -u cco-stats --no-pager -n 50 >&2; exit 1",
        triggers: [bundle.hash],
      },
      { parent: this, dependsOn: [provision], replaceWith: [provision] },
    );
    this.registerOutputs({ url: this.url });
  }
}
