/**
 * The stats service as a component: its own small unprivileged container,
 * Node.js LTS (pinned, checksum-checked), the service bundled to one file,
 * its hardened systemd unit, a generated shared ingest token (an
 * operator's: no runner holds it; each runner gets its own, see
 * `RunnerCredential`), and a post-deploy probe of /healthz.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { NetworkConfig, StatsConfig } from "../config";
import { firewallOptions, firewallRules, type FirewallNetwork } from "../firewall";
import { ProvisionedContainer, serviceContainer } from "../proxmox/container";
import { SHARED_FILES, STATS_FILES, type ProvisionFile } from "../provisioning";
import { PROJECT_ROOT } from "../stackfile";
import { bundleStatsService } from "./bundle";
import { STATS_NODE_FLAGS } from "./runtime";

/** Where the service keeps its events and snapshots inside the container. */
export const STATS_DATA_DIR = "/var/lib/cco-stats";
/** One file per runner, the hash of its ingest token (stats-credential.sh writes them; the service re-reads). */
export const CREDENTIALS_DIR = "/etc/cco-stats/credentials.d";
/** Where provision-stats.sh installs stats-credential.sh. */
export const CREDENTIAL_TOOL = "/usr/local/sbin/cco-stats-credential";

/** Where the build writes the bundle (git-ignored). */
export const BUNDLE_PATH = join(PROJECT_ROOT, ".build", "stats-service.js");

export interface StatsServiceArgs {
  /** The service's container (vmId, node, address, port, size) and its Node.js release. */
  stats: StatsConfig;
  /** The LAN: prefix, gateway, resolvers (its address mode is the runners'; the service is always static). */
  network: Pick<NetworkConfig, "mode" | "prefix" | "gateway" | "dnsServers">;
  /** Datastore of the root disk and the bridge the container joins. */
  proxmox: { datastore: string; bridge: string };
  /** What its Proxmox firewall is made of. */
  firewall: FirewallNetwork;
  /** The LXC template's file id on the service's node. */
  templateFileId: pulumi.Input<string>;
  /** Provisioning over SSH: user, public key (installed at create), private key (secret). */
  ssh: { user: string; publicKey: string; privateKey: pulumi.Output<string> };
}

/** The parameters provision-stats.sh and the unit read (stats.env). */
export function statsParams(s: StatsConfig): Record<string, string> {
  return {
    NODE_VERSION: s.nodeVersion,
    NODE_SHA256: s.nodeSha256,
    NODE_URL: s.nodeTarballUrl,
    NODE_FLAGS: STATS_NODE_FLAGS.join(" "),
    // Its own LAN address: reachable by the runners, never every interface by accident.
    STATS_HOST: s.ip,
    STATS_PORT: String(s.port),
    STATS_DATA_DIR,
    // The runners holding a credential there are the declared ones: a scale-down shows theirs as removed.
    STATS_CREDENTIALS_FILE: CREDENTIALS_DIR,
  };
}

/** Everything copied into the stats container but its stats.env. */
export function statsFiles(bundle: string): Record<string, ProvisionFile> {
  return {
    "provision-stats.sh": { path: join(STATS_FILES, "provision-stats.sh") },
    "cco-stats.service": { path: join(STATS_FILES, "cco-stats.service") },
    "lib.sh": { path: SHARED_FILES.lib },
    "sshd-cco.conf": { path: SHARED_FILES.sshd },
    "stats-service.js": { path: bundle },
    "stats-credential.sh": { path: join(STATS_FILES, "stats-credential.sh") },
  };
}

export class StatsService extends pulumi.ComponentResource {
  readonly container: proxmoxve.ContainerLegacy;
  /** http://<address>:<port> */
  readonly url: string;
  /** The shared token (STATS_INGEST_TOKEN): an operator's, for any runner; no runner holds it. */
  readonly ingestToken: pulumi.Output<string>;
  /** Where runners register their credential: the service's container, once provisioned. */
  readonly credentialTarget: CredentialTarget;

  constructor(name: string, args: StatsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:stats:StatsService", name, {}, opts);
    const { stats: s } = args;
    this.url = `http://${s.ip}:${s.port}`;

    this.ingestToken = new random.RandomPassword(
      `${name}-ingest-token`,
      { length: 48, special: false },
      { parent: this },
    ).result;

    const box = new ProvisionedContainer(
      name,
      {
        ...serviceContainer(name, { description: "stats service", tag: "stats" }, s, args),
        firewall: { rules: firewallRules(args.firewall, "stats"), options: firewallOptions() },
        files: statsFiles(bundleStatsService(BUNDLE_PATH).path),
        env: { file: "stats.env", values: statsParams(s) },
        script: "provision-stats.sh",
        stdin: () => pulumi.interpolate`INGEST_TOKEN=${this.ingestToken}\n`,
        // A reboot costs a few seconds of a service nobody waits on; a
        // replacement costs the data unless it is on statsDataVolume.
        replaceInsteadOfReboot: false,
        ...(s.dataVolume ? { dataVolume: { volume: s.dataVolume, path: STATS_DATA_DIR } } : {}),
      },
      { parent: this },
    );
    this.container = box.container;
    this.credentialTarget = { connection: box.connection, container: box.container, provision: box.provision };

    // The deployment fails unless the service answers healthy within a minute.
    new command.remote.Command(
      `${name}-healthz`,
      {
        connection: box.connection,
        create:
          `for i in $(seq 1 60); do curl -fsS --max-time 2 http://${s.ip}:${s.port}/healthz && exit 0; sleep 1; done; ` +
          "echo 'stats service is not healthy after 60 s' >&2; journalctl -u cco-stats --no-pager -n 50 >&2; exit 1",
        triggers: [box.filesHash],
      },
      { parent: this, dependsOn: [box.provision], replaceWith: [box.provision] },
    );
    this.registerOutputs({ url: this.url });
  }
}

/** What a runner needs to register its credential with the service. */
export interface CredentialTarget {
  connection: ProvisionedContainer["connection"];
  container: proxmoxve.ContainerLegacy;
  provision: command.remote.Command;
}

export interface RunnerCredentialArgs {
  /** The runner's name: the only `runner` its events may carry. */
  runner: string;
  target: CredentialTarget;
}

/**
 * One runner's ingest token, and its hash registered with the stats service
 * (added with the runner, removed with it: a scale-down revokes it). The
 * service refuses (403) an event signed with it that names another runner.
 */
export class RunnerCredential extends pulumi.ComponentResource {
  /** The token (secret): the runner's forwarder sends it. */
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: RunnerCredentialArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:stats:RunnerCredential", name, {}, opts);
    this.token = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent: this }).result;
    const hash = this.token.apply((t) => `sha256:${createHash("sha256").update(t).digest("hex")}\n`);
    new command.remote.Command(
      `${name}-registration`,
      {
        connection: args.target.connection,
        create: `${CREDENTIAL_TOOL} add ${args.runner}`,
        delete: `${CREDENTIAL_TOOL} remove ${args.runner}`,
        stdin: hash,
      },
      // A new stats container starts without credentials: register again with it.
      { parent: this, dependsOn: [args.target.provision], replaceWith: [args.target.container] },
    );
    this.registerOutputs({});
  }
}
