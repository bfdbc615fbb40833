/**
 * A container Pulumi provisions over SSH: the unprivileged Proxmox LXC
 * container, its Proxmox firewall, the copy of its files and the command
 * that runs its provisioning script. The runners and the stats service are
 * made of it (and so is any later kind of container).
 *
 * The replacement rules, written once here:
 * - the container is replaced delete-first (deleteBeforeReplace): its vmId
 *   and address are fixed, so the old one must free them;
 * - Proxmox deletes a container's firewall with the container, and a new
 *   container starts from nothing: the copy and the provision step are
 *   replaced with the container (replaceWith); the firewall rules and options
 *   are replaced because their containerId comes from the container and is
 *   marked replaceOnChanges. In a delete-first replacement the engine deletes
 *   ahead exactly the dependents whose inputs from the container would
 *   replace them (pulumi/pulumi v3.248.0, pkg/resource/deploy/step_generator.go
 *   calculateDependentReplacements, which applies replaceOnChanges), in
 *   reverse dependency order: whatever depends on the provision step (a
 *   runner's deregistration) goes before the firewall that lets it reach
 *   GitHub. (bpg's container_id is not ForceNew by itself:
 *   proxmoxtf/resource/firewall/selector.go, v0.111.1.)
 * - the firewall is up (rules, then the options that switch it on with DROP
 *   policies, so SSH is never cut between the two) before the provision step;
 * - deleting a container shuts it down first, within the provider's delete
 *   timeout less 5 s, then deletes it (proxmoxtf/resource/container/container.go
 *   containerDelete, v0.111.1; the default of 60 s leaves little room):
 *   CONTAINER_DELETE_TIMEOUT_S gives it room;
 * - with `replaceInsteadOfReboot`, a change the provider applies by rebooting
 *   the container in place (memory and swap, DNS, hostname, network
 *   interfaces and addresses, mount points: containerUpdate sets
 *   rebootRequired for them, container.go v0.111.1) replaces the container
 *   instead, so it goes the way of any replacement (a runner is deregistered
 *   first, waiting for its job).
 *
 * What the script reads: the files (beside it in one directory named by
 * their content hash), an env file of parameters (KEY=value data, never
 * code), and secrets on stdin (never in a file or on a command line).
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { FirewallOptions, FirewallRule } from "../firewall";
import { connection, envFile, provisionBundle, provisionCommand, type ProvisionFile } from "../provisioning";

/** The container's one network interface (eth0). */
export interface ContainerNetwork {
  /** Linux bridge on the node. */
  bridge: string;
  /** Static address, its prefix length and gateway (DHCP was dropped: docs/containers.md). */
  ipv4: { ip: string; prefix: number; gateway: string };
  /** Resolvers written into the container's resolv.conf. */
  dnsServers: string[];
}

export interface ProvisionedContainerArgs {
  /** Proxmox node the container runs on. */
  node: string;
  vmId: number;
  /** The container's hostname. */
  hostname: string;
  description: string;
  /** Proxmox tags (lowercase). */
  tags: string[];
  cores: number;
  memoryMb: number;
  swapMb: number;
  diskGb: number;
  /** Datastore of the root disk. */
  datastore: string;
  /** LXC features; both off unless the workload needs them. */
  features: { nesting: boolean; keyctl: boolean };
  /** The LXC template's file id on `node`. */
  templateFileId: pulumi.Input<string>;
  network: ContainerNetwork;
  /** SSH public key Proxmox installs for root at create. */
  sshPublicKey: string;
  /** How Pulumi logs in to provision: user, and the private key (secret). */
  ssh: { user: string; privateKey: pulumi.Output<string> };
  /** Its Proxmox firewall: rules (first match wins) and options. */
  firewall: { rules: FirewallRule[]; options: FirewallOptions };
  /** Files copied into the container, by their name beside the script. */
  files: Record<string, ProvisionFile>;
  /** Parameters of the script, written beside it as `file` (KEY=value lines). */
  env: { file: string; values: pulumi.Input<Record<string, string>> };
  /** The provisioning script, one of `files`: run as `bash <dir>/<script>`. */
  script: string;
  /**
   * Secrets the script reads on stdin (KEY=value lines), built once the
   * container is declared: e.g. a registration token minted for exactly this
   * container (replaced with it).
   */
  stdin?: (container: proxmoxve.ContainerLegacy) => pulumi.Input<string>;
  /**
   * Replace the container where the provider would reboot it in place
   * (REBOOT_REQUIRED_INPUTS): for a container whose work must be drained
   * first (a runner, deregistered before it goes).
   */
  replaceInsteadOfReboot: boolean;
  /**
   * A step the container (and so its provisioning) waits for, given the hash
   * of the files copied in: an ephemeral runner's reset to its clean snapshot
   * before it is changed (infra/controller/controller.ts).
   */
  before?: (filesHash: pulumi.Output<string>) => pulumi.Resource;
  /**
   * An existing volume mounted at `path`, owned by another vmId: Proxmox
   * frees only the volumes a container owns when it deletes it (pve-container
   * src/PVE/LXC.pm delete_mountpoint_volume: "CT <vmid> isn't the owner"),
   * so what is kept there survives a replacement of the container.
   */
  dataVolume?: { volume: string; path: string };
}

/**
 * The container part of a service's own box (the stats service, the egress
 * gateway): named after the component, tagged with its role, no swap, and
 * nesting (systemd's mount sandboxing of the service's unit needs it under
 * Proxmox's AppArmor profile; such a container runs no job code).
 */
export function serviceContainer(
  name: string,
  role: { description: string; tag: string },
  c: { node: string; vmId: number; ip: string; cores: number; memoryMb: number; diskGb: number },
  on: {
    proxmox: { datastore: string; bridge: string };
    network: { prefix: number; gateway: string; dnsServers: string[] };
    templateFileId: pulumi.Input<string>;
    ssh: { user: string; publicKey: string; privateKey: pulumi.Output<string> };
  },
): ServiceContainerArgs {
  return {
    node: c.node,
    vmId: c.vmId,
    hostname: name,
    description: `cco ${role.description} of ${pulumi.getProject()}/${pulumi.getStack()}. Managed by Pulumi.`,
    tags: ["cco", role.tag, pulumi.getStack().toLowerCase()],
    cores: c.cores,
    memoryMb: c.memoryMb,
    swapMb: 0,
    diskGb: c.diskGb,
    datastore: on.proxmox.datastore,
    features: { nesting: true, keyctl: false },
    templateFileId: on.templateFileId,
    network: {
      bridge: on.proxmox.bridge,
      ipv4: { ip: c.ip, prefix: on.network.prefix, gateway: on.network.gateway },
      dnsServers: on.network.dnsServers,
    },
    sshPublicKey: on.ssh.publicKey,
    ssh: { user: on.ssh.user, privateKey: on.ssh.privateKey },
  };
}

/** What serviceContainer fills in; the caller adds the firewall, files, env, script and replacement rule. */
export type ServiceContainerArgs = Omit<
  ProvisionedContainerArgs,
  "firewall" | "files" | "env" | "script" | "replaceInsteadOfReboot" | "stdin" | "before" | "dataVolume"
>;

/** Seconds the provider may take to shut a container down and delete it (its default: 60). */
export const CONTAINER_DELETE_TIMEOUT_S = 300;

/**
 * The container's inputs whose change the provider applies by rebooting the
 * container (bpg/terraform-provider-proxmox v0.111.1,
 * proxmoxtf/resource/container/container.go containerUpdate: DNS at line
 * 3832, hostname, memory (dedicated and swap) at 3867, mount points at 3936,
 * IP configs and network interfaces at 3963, then a reboot at 4163).
 */
export const REBOOT_REQUIRED_INPUTS = [
  "memory",
  "initialization.dns",
  "initialization.hostname",
  "initialization.ipConfigs",
  "networkInterfaces",
  "mountPoints",
];

export class ProvisionedContainer extends pulumi.ComponentResource {
  readonly container: proxmoxve.ContainerLegacy;
  /** The firewall options: once they exist, the container's firewall is on. */
  readonly firewall: proxmoxve.firewall.OptionsLegacy;
  /** The provision step; its stdout is what the script printed. */
  readonly provision: command.remote.Command;
  /** Hash of everything copied in: a change re-runs the provision step (and whatever else it triggers). */
  readonly filesHash: pulumi.Output<string>;
  /** How to reach the container over SSH (secret: holds the private key). */
  readonly connection: command.types.input.remote.ConnectionArgs;

  constructor(name: string, args: ProvisionedContainerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:proxmox:ProvisionedContainer", name, {}, opts);
    // These resources were children of this component's parent before the
    // component existed: the alias keeps a stack deployed then from
    // replacing them (same name and type, old parent).
    const moved = { parent: this, aliases: opts?.parent ? [{ parent: opts.parent }] : [] };
    const { network: net } = args;
    const bundle = pulumi
      .output(args.env.values)
      .apply((values) => provisionBundle({ ...args.files, [args.env.file]: { text: envFile(values) } }));
    this.filesHash = bundle.apply((b) => b.hash);
    const before = args.before?.(this.filesHash);

    this.container = new proxmoxve.ContainerLegacy(
      name,
      {
        nodeName: args.node,
        vmId: args.vmId,
        unprivileged: true,
        description: args.description,
        tags: args.tags,
        startOnBoot: true,
        started: true,
        cpu: { cores: args.cores, architecture: "amd64" },
        memory: { dedicated: args.memoryMb, swap: args.swapMb },
        disk: { datastoreId: args.datastore, size: args.diskGb },
        features: args.features,
        operatingSystem: { templateFileId: args.templateFileId, type: "debian" },
        networkInterfaces: [{ name: "eth0", bridge: net.bridge, firewall: true }],
        initialization: {
          hostname: args.hostname,
          ipConfigs: [{ ipv4: { address: `${net.ipv4.ip}/${net.ipv4.prefix}`, gateway: net.ipv4.gateway } }],
          dns: { servers: net.dnsServers },
          userAccount: { keys: [args.sshPublicKey] },
        },
        ...(args.dataVolume ? { mountPoints: [{ volume: args.dataVolume.volume, path: args.dataVolume.path }] } : {}),
        timeoutDelete: CONTAINER_DELETE_TIMEOUT_S,
      },
      // Its vmId (and address) are fixed: a replacement must free them first.
      {
        ...moved,
        deleteBeforeReplace: true,
        ...(args.replaceInsteadOfReboot ? { replaceOnChanges: REBOOT_REQUIRED_INPUTS } : {}),
        ...(before ? { dependsOn: [before] } : {}),
      },
    );

    // Proxmox drops a container's firewall with the container: set it again on
    // the new one, deleted (and set again) in dependency order (see the top).
    const firewallOpts = { ...moved, replaceOnChanges: ["containerId", "nodeName"], deleteBeforeReplace: true };
    const rules = new proxmoxve.firewall.RulesLegacy(
      `${name}-firewall-rules`,
      { nodeName: args.node, containerId: this.container.vmId, rules: args.firewall.rules },
      firewallOpts,
    );
    this.firewall = new proxmoxve.firewall.OptionsLegacy(
      `${name}-firewall`,
      { nodeName: args.node, containerId: this.container.vmId, ...args.firewall.options },
      { ...firewallOpts, dependsOn: [rules] },
    );

    this.connection = connection(net.ipv4.ip, args.ssh.user, args.ssh.privateKey);
    const stdin = args.stdin?.(this.container);

    const copy = new command.remote.CopyToRemote(
      `${name}-files`,
      {
        connection: this.connection,
        source: bundle.apply((b) => b.archive),
        remotePath: bundle.apply((b) => b.remoteParent),
      },
      { ...moved, dependsOn: [this.container], replaceWith: [this.container] },
    );
    this.provision = new command.remote.Command(
      `${name}-provision`,
      {
        connection: this.connection,
        create: bundle.apply((b) => provisionCommand(b, args.script)),
        ...(stdin !== undefined ? { stdin: pulumi.secret(stdin) } : {}),
        triggers: [this.filesHash],
      },
      // The host-side wall is up before the container is provisioned.
      { ...moved, dependsOn: [copy, this.firewall], replaceWith: [this.container] },
    );
    this.registerOutputs({ vmId: args.vmId });
  }
}
