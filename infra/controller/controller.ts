/**
 * Ephemeral runners on one Proxmox node: the controller (controller/) that
 * gives each runner container one job per life, installed and updated by the
 * program over SSH to the node (root: pct is root's), and the clean snapshot
 * of each runner container it rolls back to.
 *
 * Order on the node, for each runner container (docs/ephemeral.md):
 *   reset (cco-node.sh reset, before the container is created or changed)
 *   -> the container, its files, its provisioning (inside it, as for any runner)
 *   -> snapshot (cco-node.sh take: storage checked, old snapshot replaced)
 *   -> the controller (provision-controller.sh: installed, started again).
 * The reset and the snapshot stop the controller first, so it never rolls a
 * container back while it is provisioned, nor to a snapshot being replaced;
 * the controller's deployment depends on every snapshot and is triggered by
 * them, so it starts again once they are all taken.
 *
 * Credentials: the GitHub token that makes JIT configs (fine-grained,
 * Administration of this repository) and the controller's own stats
 * credential go to the node on stdin and are kept there (root 0600); no
 * runner container receives either.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  connection,
  envFile,
  provisionBundle,
  provisionCommand,
  SHARED_FILES,
  type ProvisionFile,
} from "../provisioning";
import { PROJECT_ROOT } from "../stackfile";
import { RunnerCredential, type CredentialTarget } from "../stats/service";
import { bundleController } from "./bundle";
import { controllerStatsName } from "./names";

export const CONTROLLER_FILES = join(__dirname, "files");
/** Where the build writes the controller's bundle (git-ignored). */
export const CONTROLLER_BUNDLE_PATH = join(PROJECT_ROOT, ".build", "cco-controller.js");
/** The clean snapshot every life starts from. */
export const CLEAN_SNAPSHOT = "cco-clean";
/** The node-side script of the reset and the snapshot: run with its text on stdin. */
export const NODE_SCRIPT = join(CONTROLLER_FILES, "cco-node.sh");

/** A runner container the controller drives. */
export interface ControllerRunner {
  /** runner-01: the base of each life's runner name, and a label of it. */
  name: string;
  vmId: number;
}

/** How the program reaches a node: its SSH address, as root, with the provisioning key. */
export interface NodeConnection {
  /** Proxmox node name. */
  node: string;
  /** Its SSH address. */
  host: string;
  /** root (pct is root's) and the private key (secret). */
  ssh: { user: string; privateKey: pulumi.Output<string> };
}

export interface NodeControllerArgs extends NodeConnection {
  /** The runner containers on this node. */
  runners: ControllerRunner[];
  /** owner/name of the repository the runners serve. */
  repository: pulumi.Input<string>;
  /** GitHub's REST API (api.github.com, GHES's /api/v3). */
  githubApiUrl: string;
  /** Labels of every life's runner (self-hosted first); the slot's name is added per runner. */
  labels: string[];
  /** Fine-grained token, this repository's Administration (secret): JIT configs, runner removal. */
  githubToken: pulumi.Output<string>;
  /** Node.js release the controller runs on (the stats service's pin). */
  nodejs: { version: string; sha256: string; tarballUrl: string };
  /** The stats service: where heartbeats go, and where the controller's own credential is registered. */
  stats: { url: string; credentialTarget: CredentialTarget };
  /** The runners' clean snapshots: the controller starts (again) once they are taken. */
  snapshots: command.remote.Command[];
}

/** /etc/cco-controller/controller.json (controller/config.ts reads and validates it). */
export function controllerConfig(
  args: Pick<NodeControllerArgs, "node" | "runners" | "githubApiUrl" | "labels"> & { statsUrl: string },
  repository: string,
): Record<string, unknown> {
  return {
    repo: repository,
    apiUrl: args.githubApiUrl,
    labels: args.labels,
    runnerGroupId: 1,
    snapshot: CLEAN_SNAPSHOT,
    runners: args.runners.map((r) => ({ vmid: r.vmId, name: r.name })),
    statsUrl: args.statsUrl,
    statsRunner: controllerStatsName(args.node),
  };
}

/**
 * What the program copies to the node beside provision-controller.sh (the
 * test of the script in a container installs these very files).
 */
export function controllerFiles(
  args: Parameters<typeof controllerConfig>[0] & Pick<NodeControllerArgs, "nodejs">,
  repository: string,
  bundlePath = CONTROLLER_BUNDLE_PATH,
): Record<string, ProvisionFile> {
  return {
    "provision-controller.sh": { path: join(CONTROLLER_FILES, "provision-controller.sh") },
    "cco-controller.service": { path: join(CONTROLLER_FILES, "cco-controller.service") },
    "lib.sh": { path: SHARED_FILES.lib },
    "controller.js": { path: bundleController(bundlePath).path },
    "controller.json": { text: `${JSON.stringify(controllerConfig(args, repository), null, 2)}\n` },
    "controller.env": {
      text: envFile({
        NODE_VERSION: args.nodejs.version,
        NODE_SHA256: args.nodejs.sha256,
        NODE_URL: args.nodejs.tarballUrl,
      }),
    },
  };
}

/** The SSH connection to a node. */
export function nodeConnection(n: NodeConnection): command.types.input.remote.ConnectionArgs {
  return connection(n.host, n.ssh.user, n.ssh.privateKey);
}

/**
 * A step of cco-node.sh on the node (the script on stdin, its parameters as
 * arguments): `reset` before a runner container is created or changed,
 * `take` after it is provisioned.
 */
export function nodeStep(action: "reset" | "take", vmId: number, waitS?: number): { create: string; stdin: string } {
  const args = [action, String(vmId), CLEAN_SNAPSHOT, ...(waitS === undefined ? [] : [String(waitS)])];
  // The trailing comment names the script for a reader of the plan (it arrives on stdin).
  return { create: `bash -s -- ${args.join(" ")} # cco-node.sh ${action}`, stdin: readFileSync(NODE_SCRIPT, "utf8") };
}

export class NodeController extends pulumi.ComponentResource {
  /** The install step: its stdout is what provision-controller.sh printed. */
  readonly install: command.remote.Command;

  constructor(name: string, args: NodeControllerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:controller:NodeController", name, {}, opts);
    const conn = nodeConnection(args);
    // Its own stats credential: its heartbeats may name only it.
    const credential = new RunnerCredential(
      `${name}-ingest`,
      { runner: controllerStatsName(args.node), target: args.stats.credentialTarget },
      { parent: this },
    );
    const bundle = pulumi
      .output(args.repository)
      .apply((repository) => provisionBundle(controllerFiles({ ...args, statsUrl: args.stats.url }, repository)));
    const copy = new command.remote.CopyToRemote(
      `${name}-files`,
      { connection: conn, source: bundle.apply((b) => b.archive), remotePath: bundle.apply((b) => b.remoteParent) },
      { parent: this },
    );
    // Updated in place (update = create) when the files or a snapshot change:
    // a replacement would run the old step's uninstall after the new install.
    const run = bundle.apply((b) => provisionCommand(b, "provision-controller.sh"));
    this.install = new command.remote.Command(
      `${name}-install`,
      {
        connection: conn,
        create: run,
        update: run,
        delete: "bash /opt/cco-controller/provision-controller.sh uninstall",
        stdin: pulumi.secret(pulumi.interpolate`GITHUB_TOKEN=${args.githubToken}\nINGEST_TOKEN=${credential.token}\n`),
        triggers: [bundle.apply((b) => b.hash), ...args.snapshots.map((s) => s.stdout)],
      },
      { parent: this, dependsOn: [copy, ...args.snapshots] },
    );
    this.registerOutputs({ node: args.node, runners: args.runners.map((r) => r.name) });
  }
}
