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
 * scale-down, replacement and destroy. Before it, a remote command's delete
 * runs drain.sh on the container: it waits for the running job (bounded) and
 * stops the listener, so that the runner takes no new job whatever labels the
 * workflows ask for (removing its custom labels does not stop a workflow that
 * asks only for self-hosted). Containers are replaced delete-first
 * (deleteBeforeReplace): their vmIds and addresses are fixed.
 */
import { join } from "node:path";
import type * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { EgressConfig, NetworkConfig, RunnerInstance, RunnersConfig } from "../config";
import { firewallOptions, firewallRules, type FirewallNetwork } from "../firewall";
import { ProvisionedContainer } from "../proxmox/container";
import type { LxcTemplates } from "../proxmox/templates";
import { RUNNER_FILES, SHARED_FILES, type ProvisionFile } from "../provisioning";
import {
  NodeController,
  nodeConnection,
  nodeStep,
  type NodeConnection,
  type NodeControllerArgs,
} from "../controller/controller";
import { RunnerCredential, type CredentialTarget } from "../stats/service";

/** github.com: its API is github-runner.ts's default. */
const GITHUB_COM = "https://github.com";

/** Relative to the project (local commands run there): state holds no path of the operator's checkout. */
export const RUNNER_SCRIPT = "infra/runners/github-runner.ts";
/** How long deregistration waits for a busy runner's job before it gives up (and keeps the container). */
export const DEREGISTER_TIMEOUT_S = 600;

/** Proxmox tag of a container that may use nesting and keyctl (Docker in jobs). */
export const DOCKER_TAG = "docker-in-jobs";

/** The files provision.sh needs (beside those in SHARED_FILES), by the name it finds them under. */
export const RUNNER_FILE_NAMES = [
  "provision.sh",
  "egress.sh",
  "egress-check.sh",
  "job-hook.sh",
  "job-started.sh",
  "job-completed.sh",
  "forwarder.sh",
  "runner-env.sh",
  "drain.sh",
  "units/actions-runner.service",
  "units/cco-egress.service",
  "units/cco-egress-check.service",
  "units/cco-egress-check.timer",
  "units/cco-forwarder.service",
  "units/cco-forwarder.timer",
  "config/journald-cco.conf",
  "ephemeral/install.sh",
  "ephemeral/jit-handoff.sh",
  "ephemeral/jit-runner.sh",
  "ephemeral/cco-jit.path",
  "ephemeral/actions-runner-ephemeral.conf",
] as const;

/** Everything copied into a runner but its runner.env. */
export function runnerFiles(): Record<string, ProvisionFile> {
  return {
    ...Object.fromEntries(RUNNER_FILE_NAMES.map((f): [string, ProvisionFile] => [f, { path: join(RUNNER_FILES, f) }])),
    "lib.sh": { path: SHARED_FILES.lib },
    "config/sshd-cco.conf": { path: SHARED_FILES.sshd },
  };
}

/** What every runner of the fleet shares: its size and software, where it lives, what it may reach. */
export interface RunnerSpec {
  /** Sizes, the Actions runner's version and checksum, labels, Docker in jobs. */
  runners: Omit<RunnersConfig, "count" | "instances">;
  /** Datastore of the root disks and the bridge the containers join. */
  proxmox: { datastore: string; bridge: string };
  /** The LAN: address mode, prefix, gateway, resolvers, the admin block. */
  network: NetworkConfig;
  /** The domains and blocks runners may reach. */
  egress: EgressConfig;
  /** What the runners' Proxmox firewall is made of. */
  firewall: FirewallNetwork;
  /** Provisioning over SSH: user, public key (installed at create), private key (secret). */
  ssh: { user: string; publicKey: string; privateKey: pulumi.Output<string> };
  /** owner/name of the repository the runners serve. */
  repository: pulumi.Input<string>;
  /** The operator's GitHub token (secret): mints registration tokens and removes runners. */
  githubToken: pulumi.Output<string>;
  /** The stats service: its URL, address and port, and where each runner registers its own ingest credential. */
  stats: { url: string; ip: string; port: number; credentialTarget: CredentialTarget };
  /** Ephemeral mode: each node's SSH address (the reset and snapshot run there). */
  nodeHosts: Record<string, string>;
  /** The egress gateway the runners' traffic goes through; none with egressMode direct. */
  gateway?: { ip: string; port: number };
}

/**
 * The proxy settings of a runner behind the gateway (EGRESS_PROXY and
 * EGRESS_NO_PROXY in runner.env; provision.sh hands them to the runner, its
 * jobs, apt and its own downloads as http_proxy, https_proxy and no_proxy).
 * no_proxy: loopback, the stats service and the extra blocks, which are
 * reached directly (curl matches addresses and, since 7.86, blocks; the
 * Actions runner itself skips addresses in no_proxy, but it talks only to
 * GitHub: actions/runner v2.329.0 src/Runner.Sdk/RunnerWebProxy.cs).
 * Without a gateway both are empty.
 */
export function proxyParams(
  gateway: RunnerSpec["gateway"],
  statsIp: string,
  extraCidrs: string[],
): { EGRESS_PROXY: string; EGRESS_NO_PROXY: string } {
  if (!gateway) return { EGRESS_PROXY: "", EGRESS_NO_PROXY: "" };
  return {
    EGRESS_PROXY: `http://${gateway.ip}:${gateway.port}`,
    EGRESS_NO_PROXY: [...new Set(["localhost", "127.0.0.1", "::1", statsIp, ...extraCidrs])].join(","),
  };
}

export interface RunnerFleetArgs extends RunnerSpec {
  /** runner-01 ... runner-NN: name, vmId, node and address of each. */
  instances: RunnerInstance[];
  /** The LXC template, on every node a runner is placed on. */
  templates: LxcTemplates;
  /** Ephemeral mode: the controller's GitHub token (secret) and the Node.js release it runs on. */
  controller?: Pick<NodeControllerArgs, "githubToken" | "nodejs">;
}

export interface RunnerArgs extends RunnerSpec {
  instance: RunnerInstance;
  /** The LXC template's file id on the runner's node. */
  templateFileId: pulumi.Input<string>;
}

/** The parameters provision.sh reads (runner.env). */
export function runnerParams(
  args: Pick<RunnerSpec, "runners" | "network" | "egress" | "stats" | "gateway"> & {
    ssh: Pick<RunnerSpec["ssh"], "user">;
    instance: RunnerInstance;
  },
  repository: string,
): Record<string, string> {
  const { runners: r, instance } = args;
  return {
    RUNNER_NAME: instance.name,
    RUNNER_MODE: r.mode,
    // self-hosted first, then the configured labels, then the runner's own name
    // (the health workflow targets each runner by it).
    RUNNER_LABELS: [...r.labels, instance.name].join(","),
    RUNNER_VERSION: r.version,
    RUNNER_SHA256: r.sha256,
    RUNNER_URL: r.tarballUrl,
    RUNNER_AUTO_UPDATE: String(r.autoUpdate),
    DOCKER_IN_JOBS: String(r.dockerInJobs),
    GITHUB_URL: `${r.githubUrl}/${repository}`,
    STATS_URL: args.stats.url,
    STATS_HOST: args.stats.ip,
    STATS_PORT: String(args.stats.port),
    EGRESS_DOMAINS: args.egress.domains.join(" "),
    EGRESS_EXTRA_CIDRS: args.egress.extraCidrs.join(" "),
    EGRESS_EXTRA_PORTS: args.egress.extraCidrPorts.join(" "),
    LOG_COLLECTOR: args.egress.logCollector,
    ...proxyParams(args.gateway, args.stats.ip, args.egress.extraCidrs),
    // sshd lets in this user only (AllowUsers): not the runner, whose key a job could plant.
    ADMIN_USER: args.ssh.user,
    DNS_SERVERS: args.network.dnsServers.join(" "),
    ADMIN_CIDR: args.network.adminCidr,
    NETWORK_MODE: args.network.mode,
  };
}

export class Runner extends pulumi.ComponentResource {
  readonly container: proxmoxve.ContainerLegacy;
  readonly name: string;
  readonly instance: RunnerInstance;
  /** Ephemeral mode: the step that takes its clean snapshot. */
  snapshot: command.remote.Command | undefined;

  constructor(name: string, args: RunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:runners:Runner", name, {}, opts);
    const { runners: r, network: net, instance } = args;
    this.name = instance.name;
    this.instance = instance;
    const docker = r.dockerInJobs;
    const ephemeral = r.mode === "ephemeral";
    const host = args.nodeHosts[instance.node];
    if (ephemeral && host === undefined) throw new Error(`${instance.name}: no SSH address for node ${instance.node}`);
    const nodeAt: NodeConnection | undefined = ephemeral
      ? { node: instance.node, host: host!, ssh: args.ssh }
      : undefined;
    // What a rollback would bring back of the container's config: a change retakes the snapshot.
    const containerDigest = JSON.stringify({
      cores: r.cores,
      memoryMb: r.memoryMb,
      swapMb: r.swapMb,
      diskGb: r.diskGb,
      docker,
    });

    const github = {
      GITHUB_TOKEN: args.githubToken,
      GITHUB_REPOSITORY: args.repository,
      RUNNER_NAME: instance.name,
      // The API of the GitHub the runner registers with. github.com's is
      // github-runner.ts's own default, so GITHUB_API_URL from the operator's
      // environment (a test's fake GitHub) still applies there.
      ...(r.githubUrl === GITHUB_COM ? {} : { GITHUB_API_URL: r.githubApiUrl }),
    };
    // Its own ingest token: the stats service takes from it only this runner's events.
    const credential = new RunnerCredential(
      `${instance.name}-ingest`,
      { runner: instance.name, target: args.stats.credentialTarget },
      { parent: this },
    );
    const box = new ProvisionedContainer(
      instance.name,
      {
        node: instance.node,
        vmId: instance.vmId,
        hostname: instance.name,
        description: `GitHub Actions runner ${instance.name} of ${pulumi.getProject()}/${pulumi.getStack()}. Managed by Pulumi: changes here are overwritten.`,
        // The docker-in-jobs tag declares the features below on purpose: the
        // policy pack (infra/policy) refuses nesting or keyctl without it.
        tags: ["cco", "runner", pulumi.getStack().toLowerCase(), ...(docker ? [DOCKER_TAG] : [])],
        cores: r.cores,
        memoryMb: r.memoryMb,
        swapMb: r.swapMb,
        diskGb: r.diskGb,
        datastore: args.proxmox.datastore,
        // Docker inside jobs needs nesting and keyctl; nothing else gets them.
        features: { nesting: docker, keyctl: docker },
        templateFileId: args.templateFileId,
        network: {
          bridge: args.proxmox.bridge,
          ipv4: { ip: instance.ip, prefix: net.prefix, gateway: net.gateway },
          dnsServers: net.dnsServers,
        },
        sshPublicKey: args.ssh.publicKey,
        ssh: { user: args.ssh.user, privateKey: args.ssh.privateKey },
        firewall: {
          rules: firewallRules(args.firewall, "runner"),
          options: firewallOptions(),
        },
        // A change Proxmox would apply by rebooting every runner at once
        // (killing running jobs) replaces each instead: deregistered first.
        replaceInsteadOfReboot: true,
        files: runnerFiles(),
        env: {
          file: "runner.env",
          values: pulumi.output(args.repository).apply((repository) => runnerParams(args, repository)),
        },
        script: "provision.sh",
        stdin: (container) =>
          ephemeral
            ? // No registration token: the controller registers a JIT runner per life.
              pulumi.interpolate`INGEST_TOKEN=${credential.token}\n`
            : pulumi.interpolate`REGISTRATION_TOKEN=${this.mintRegistrationToken(container, github)}\nINGEST_TOKEN=${credential.token}\n`,
        ...(ephemeral
          ? {
              before: (filesHash: pulumi.Output<string>) =>
                this.nodeStep("reset", nodeAt!, [filesHash, containerDigest]),
            }
          : {}),
      },
      { parent: this },
    );
    this.container = box.container;

    if (ephemeral) {
      this.snapshot = this.nodeStep(
        "take",
        nodeAt!,
        [box.filesHash, containerDigest, this.container.id],
        [box.provision],
      );
      this.retire(github, [this.container, this.snapshot]);
    } else {
      this.persistentRemoval(box, github);
    }
    this.registerOutputs({ name: instance.name });
  }

  /** A fresh registration token exactly when this container is new (see the top of this file). */
  private mintRegistrationToken(
    container: proxmoxve.ContainerLegacy,
    github: Record<string, pulumi.Input<string>>,
  ): pulumi.Output<string> {
    const mint = new command.local.Command(
      `${this.name}-registration-token`,
      { create: `node --import tsx ${RUNNER_SCRIPT} mint`, environment: github, logging: "stderr" },
      { parent: this, replaceWith: [container], additionalSecretOutputs: ["stdout"] },
    );
    return mint.stdout;
  }

  /** cco-node.sh on the runner's node: the reset before the container changes, the snapshot after. */
  private nodeStep(
    action: "reset" | "take",
    at: NodeConnection,
    triggers: pulumi.Input<unknown>[],
    after: pulumi.Resource[] = [],
  ): command.remote.Command {
    const step = nodeStep(action, this.instance.vmId, action === "reset" ? DEREGISTER_TIMEOUT_S : undefined);
    return new command.remote.Command(
      `${this.name}-${action === "reset" ? "reset" : "snapshot"}`,
      { connection: nodeConnection(at), create: step.create, stdin: step.stdin, triggers },
      { parent: this, dependsOn: after, customTimeouts: { create: `${DEREGISTER_TIMEOUT_S + 120}s` } },
    );
  }

  /**
   * Deleted before the container (it depends on it), after the controller let
   * the slot go: removes every runner of this slot's lives that GitHub still
   * has, waiting while one runs its job.
   */
  private retire(github: Record<string, pulumi.Input<string>>, after: pulumi.Resource[]): void {
    new command.local.Command(
      `${this.name}-retire`,
      {
        delete: `node --import tsx ${RUNNER_SCRIPT} retire-lives`,
        triggers: [this.container.id],
        environment: { ...github, DEREGISTER_TIMEOUT_S: String(DEREGISTER_TIMEOUT_S) },
      },
      {
        parent: this,
        dependsOn: after,
        replaceWith: [this.container],
        customTimeouts: { delete: `${DEREGISTER_TIMEOUT_S + 120}s` },
      },
    );
  }

  /** Persistent mode: drained, then deregistered, before the container goes. */
  private persistentRemoval(box: ProvisionedContainer, github: Record<string, pulumi.Input<string>>): void {
    const instance = this.instance;
    // Deleted before the container: the runner leaves GitHub first. In a
    // delete-first replacement of the container the engine deletes ahead the
    // dependents that an input from the container would replace (here the
    // container's id in `triggers`, replaceOnChanges in pulumi-command v1.2.1's
    // schema), in reverse dependency order: this step (it depends on the
    // provision step, which depends on the firewall) goes before the firewall
    // (pulumi/pulumi v3.248.0 step_generator.go calculateDependentReplacements).
    // replaceWith alone would not order it: the resources replaced with
    // another are collected from maps (findResourcesReplacedWith), in no order.
    const deregistration = new command.local.Command(
      `${instance.name}-deregistration`,
      {
        delete: `node --import tsx ${RUNNER_SCRIPT} deregister`,
        triggers: [this.container.id],
        environment: {
          ...github,
          RUNNER_ID: box.provision.stdout.apply((out) => /^runner-id=(\d+)$/m.exec(out ?? "")?.[1] ?? ""),
          DEREGISTER_TIMEOUT_S: String(DEREGISTER_TIMEOUT_S),
        },
      },
      {
        parent: this,
        dependsOn: [this.container, box.provision],
        // Replaced with the container, so the old runner leaves GitHub before its container goes.
        replaceWith: [this.container],
        customTimeouts: { delete: `${DEREGISTER_TIMEOUT_S + 120}s` },
      },
    );
    // Deleted before the deregistration (it depends on it): the listener stops
    // once its job is done, then GitHub forgets the runner. drain.sh exits 75
    // when the job outlives its wait; the delete then fails, the runner keeps
    // running and the container stays. Created after provisioning: it only
    // resumes a listener an earlier, abandoned scale-down left stopped.
    new command.remote.Command(
      `${instance.name}-drain`,
      {
        connection: box.connection,
        create: "/opt/cco/drain.sh resume",
        delete: `RUNNER_DRAIN_S=${DEREGISTER_TIMEOUT_S} /opt/cco/drain.sh`,
        triggers: [this.container.id],
      },
      {
        parent: this,
        dependsOn: [box.provision, deregistration],
        replaceWith: [this.container],
        customTimeouts: { delete: `${DEREGISTER_TIMEOUT_S + 120}s` },
      },
    );
  }
}

export class RunnerFleet extends pulumi.ComponentResource {
  readonly runners: Runner[];
  /** Ephemeral mode: the controller of each node that has runners. */
  readonly controllers: NodeController[];

  constructor(name: string, args: RunnerFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:runners:RunnerFleet", name, {}, opts);
    const { instances, templates, controller, ...spec } = args;
    this.runners = instances.map(
      (instance) =>
        new Runner(
          instance.name,
          { ...spec, instance, templateFileId: templates.fileId(instance.node) },
          { parent: this },
        ),
    );
    this.controllers = [];
    if (spec.runners.mode === "ephemeral") {
      if (!controller) throw new Error("ephemeral runners need the controller's token and Node.js release");
      for (const node of [...new Set(instances.map((i) => i.node))]) {
        const here = this.runners.filter((r) => r.instance.node === node);
        this.controllers.push(
          new NodeController(
            `cco-controller-${node}`,
            {
              node,
              host: spec.nodeHosts[node]!,
              ssh: spec.ssh,
              runners: here.map((r) => ({ name: r.name, vmId: r.instance.vmId })),
              repository: spec.repository,
              githubApiUrl: spec.runners.githubApiUrl,
              labels: spec.runners.labels,
              githubToken: controller.githubToken,
              nodejs: controller.nodejs,
              stats: { url: spec.stats.url, credentialTarget: spec.stats.credentialTarget },
              snapshots: here.map((r) => r.snapshot!),
            },
            { parent: this },
          ),
        );
      }
    }
    this.registerOutputs({ runners: this.runners.map((r) => r.name) });
  }
}
