/**
 * The runner fleet: runner-01 ... runner-NN, each an unprivileged Proxmox LXC
 * container provisioned over SSH, registered with GitHub on create and
 * removed from GitHub before its container is deleted.
 *
 * Registration tokens. A token is valid for an hour, and asking GitHub for
 * one (the getActionsRegistrationToken invoke) returns a new one on every run.
 * Fed to a command, such a value changes its inputs on every `pulumi up`; the
 * only way to hide that is ignoreChanges, and Pulumi then keeps the stored
 * value even when the command is replaced with its container: a container
 * replaced a day later would try an expired token. So the token is minted by
 * a local command whose only create runs when its container is created or
 * replaced (replaceWith), and whose inputs never change otherwise: a second
 * `pulumi up` shows no changes, and every new container gets a fresh token.
 *
 * Deregistration. A local command depends on the container and the
 * registration and is replaced with the container, so Pulumi runs its delete
 * (github-runner.ts deregister) before it deletes the container: on
 * scale-down, replacement and destroy. Containers are replaced delete-first
 * (deleteBeforeReplace): their vmIds and addresses are fixed.
 */
import { join } from "node:path";
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { InfraConfig, RunnerInstance } from "../config";
import { containerFirewall } from "../firewall";
import { connection, envFile, provisionBundle, provisionCommand, RUNNER_FILES, type ProvisionFile } from "../provisioning";

/** Relative to the project (local commands run there): state holds no path of the operator's checkout. */
export const RUNNER_SCRIPT = "infra/runners/github-runner.ts";
/** How long deregistration waits for a busy runner's job before it gives up (and keeps the container). */
export const DEREGISTER_TIMEOUT_S = 600;

/** Proxmox tag of a container that may use nesting and keyctl (Docker in jobs). */
export const DOCKER_TAG = "docker-in-jobs";

/** The files provision.sh needs, by the name it finds them under. */
export const RUNNER_FILE_NAMES = [
  "provision.sh",
  "lib.sh",
  "egress.sh",
  "job-hook.sh",
  "job-started.sh",
  "job-completed.sh",
  "forwarder.sh",
  "units/actions-runner.service",
  "units/cco-egress.service",
  "units/cco-forwarder.service",
  "units/cco-forwarder.timer",
  "config/sshd-cco.conf",
  "config/journald-cco.conf",
] as const;

export interface RunnerFleetArgs {
  /** The validated stack config: sizes, placement, network, egress, SSH. */
  config: InfraConfig;
  /** owner/name of the repository the runners serve. */
  repository: pulumi.Input<string>;
  /** The operator's GitHub token (secret): mints registration tokens and removes runners. */
  githubToken: pulumi.Output<string>;
  /** Private half of the provisioning SSH key (secret). */
  sshPrivateKey: pulumi.Output<string>;
  /** The stats service's URL (its address and port are in config), and its ingest token (secret). */
  statsUrl: string;
  ingestToken: pulumi.Output<string>;
}

export interface RunnerArgs extends RunnerFleetArgs {
  instance: RunnerInstance;
  /** The LXC template on the runner's node. */
  template: proxmoxve.download.File;
}

/** The parameters provision.sh reads (runner.env). */
export function runnerParams(args: Omit<RunnerArgs, "template">, repository: string): Record<string, string> {
  const { config: c, instance } = args;
  return {
    RUNNER_NAME: instance.name,
    // self-hosted first, then the configured labels, then the runner's own name
    // (the health workflow targets each runner by it).
    RUNNER_LABELS: [...c.runners.labels, instance.name].join(","),
    RUNNER_VERSION: c.runners.version,
    RUNNER_SHA256: c.runners.sha256,
    RUNNER_URL: c.runners.tarballUrl,
    RUNNER_AUTO_UPDATE: String(c.runners.autoUpdate),
    DOCKER_IN_JOBS: String(c.runners.dockerInJobs),
    GITHUB_URL: `https://github.com/${repository}`,
    STATS_URL: args.statsUrl,
    STATS_HOST: c.stats.ip,
    STATS_PORT: String(c.stats.port),
    EGRESS_DOMAINS: c.egress.domains.join(" "),
    EGRESS_EXTRA_CIDRS: c.egress.extraCidrs.join(" "),
    DNS_SERVERS: c.network.dnsServers.join(" "),
    ADMIN_CIDR: c.network.adminCidr,
    NETWORK_MODE: c.network.mode,
  };
}

export class Runner extends pulumi.ComponentResource {
  readonly container: proxmoxve.ContainerLegacy;
  readonly name: string;

  constructor(name: string, args: RunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:runners:Runner", name, {}, opts);
    const { config: c, instance } = args;
    this.name = instance.name;
    const docker = c.runners.dockerInJobs;

    this.container = new proxmoxve.ContainerLegacy(
      instance.name,
      {
        nodeName: instance.node,
        vmId: instance.vmId,
        unprivileged: true,
        description: `GitHub Actions runner ${instance.name} of ${pulumi.getProject()}/${pulumi.getStack()}. Managed by Pulumi: changes here are overwritten.`,
        // The docker-in-jobs tag declares the features below on purpose: the
        // policy pack (infra/policy) refuses nesting or keyctl without it.
        tags: ["cco", "runner", pulumi.getStack().toLowerCase(), ...(docker ? [DOCKER_TAG] : [])],
        startOnBoot: true,
        started: true,
        cpu: { cores: c.runners.cores, architecture: "amd64" },
        memory: { dedicated: c.runners.memoryMb, swap: c.runners.swapMb },
        disk: { datastoreId: c.proxmox.datastore, size: c.runners.diskGb },
        // Docker inside jobs needs nesting and keyctl; nothing else gets them.
        features: { nesting: docker, keyctl: docker },
        operatingSystem: { templateFileId: args.template.id, type: "debian" },
        networkInterfaces: [{ name: "eth0", bridge: c.proxmox.bridge, firewall: true }],
        initialization: {
          hostname: instance.name,
          ipConfigs: [
            {
              ipv4:
                instance.ip !== undefined
                  ? { address: `${instance.ip}/${c.network.prefix}`, gateway: c.network.gateway }
                  : { address: "dhcp" },
            },
          ],
          dns: { servers: c.network.dnsServers },
          userAccount: { keys: [c.ssh.publicKey] },
        },
        ...(instance.ip === undefined ? { waitForIp: { ipv4: true } } : {}),
      },
      // Its vmId (and address) are fixed: a replacement must free them first.
      { parent: this, deleteBeforeReplace: true },
    );
    // The host-side wall is up before the runner is provisioned and registered.
    const firewall = containerFirewall(
      instance.name,
      { config: c, role: "runner", container: this.container, nodeName: instance.node, staticIp: instance.ip !== undefined },
      this,
    );
    const host = instance.ip ?? this.container.ipv4.apply((m) => m["eth0"] ?? Object.values(m)[0]!);
    const conn = connection(host, c.ssh.user, args.sshPrivateKey);

    const github = {
      GITHUB_TOKEN: args.githubToken,
      GITHUB_REPOSITORY: args.repository,
      RUNNER_NAME: instance.name,
    };
    // A fresh registration token exactly when this container is new (see the top of this file).
    const mint = new command.local.Command(
      `${instance.name}-registration-token`,
      {
        create: `node --import tsx ${RUNNER_SCRIPT} mint`,
        environment: github,
        logging: "stderr",
      },
      { parent: this, replaceWith: [this.container], additionalSecretOutputs: ["stdout"] },
    );

    const bundle = pulumi.output(args.repository).apply((repository) =>
      provisionBundle({
        ...Object.fromEntries(RUNNER_FILE_NAMES.map((f): [string, ProvisionFile] => [f, { path: join(RUNNER_FILES, f) }])),
        "runner.env": { text: envFile(runnerParams(args, repository)) },
      }),
    );
    const copy = new command.remote.CopyToRemote(
      `${instance.name}-files`,
      { connection: conn, source: bundle.apply((b) => b.archive), remotePath: bundle.apply((b) => b.remoteParent) },
      { parent: this, dependsOn: [this.container], replaceWith: [this.container] },
    );
    const register = new command.remote.Command(
      `${instance.name}-provision`,
      {
        connection: conn,
        create: bundle.apply((b) => provisionCommand(b, "provision.sh")),
        stdin: pulumi.secret(pulumi.interpolate`REGISTRATION_TOKEN=${mint.stdout}\nINGEST_TOKEN=${args.ingestToken}\n`),
        triggers: [bundle.apply((b) => b.hash)],
      },
      { parent: this, dependsOn: [copy, firewall], replaceWith: [this.container] },
    );

    // Deleted before the container: the runner leaves GitHub first. The
    // container's id as an input (not only dependsOn/replaceWith) is what makes
    // a delete-first replacement of the container delete this step first too:
    // the engine deletes ahead only the dependents whose inputs use the container.
    new command.local.Command(
      `${instance.name}-deregistration`,
      {
        delete: `node --import tsx ${RUNNER_SCRIPT} deregister`,
        triggers: [this.container.id],
        environment: {
          ...github,
          RUNNER_ID: register.stdout.apply((out) => /^runner-id=(\d+)$/m.exec(out ?? "")?.[1] ?? ""),
          DEREGISTER_TIMEOUT_S: String(DEREGISTER_TIMEOUT_S),
        },
      },
      {
        parent: this,
        dependsOn: [this.container, register],
        // Replaced with the container, so the old runner leaves GitHub before its container goes.
        replaceWith: [this.container],
        customTimeouts: { delete: `${DEREGISTER_TIMEOUT_S + 120}s` },
      },
    );
    this.registerOutputs({ name: instance.name });
  }
}

/**
 * The LXC template, downloaded by Proxmox onto every configured node (so
 * scaling onto a node never waits). Its file is named per stack: stacks
 * sharing a host would otherwise take the same file from each other, and
 * destroying one would delete the template the other creates containers from.
 */
export function lxcTemplates(c: InfraConfig): Record<string, proxmoxve.download.File> {
  const fileName = `cco-${pulumi.getStack().toLowerCase()}-${c.proxmox.templateUrl.split("/").pop()!}`;
  return Object.fromEntries(
    c.proxmox.nodes.map((node) => [
      node,
      new proxmoxve.download.File(`lxc-template-${node}`, {
        nodeName: node,
        datastoreId: c.proxmox.templateDatastore,
        contentType: "vztmpl",
        url: c.proxmox.templateUrl,
        fileName,
        checksum: c.proxmox.templateChecksum,
        checksumAlgorithm: "sha512",
        overwrite: false,
        overwriteUnmanaged: true,
      }),
    ]),
  );
}

export class RunnerFleet extends pulumi.ComponentResource {
  readonly runners: Runner[];

  constructor(
    name: string,
    args: RunnerFleetArgs & { templates: Record<string, proxmoxve.download.File> },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("cco:runners:RunnerFleet", name, {}, opts);
    this.runners = args.config.runners.instances.map(
      (instance) => new Runner(instance.name, { ...args, instance, template: args.templates[instance.node]! }, { parent: this }),
    );
    this.registerOutputs({ runners: this.runners.map((r) => r.name) });
  }
}
