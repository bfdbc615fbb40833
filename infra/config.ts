/**
 * The stack configuration (namespace `cco-infra`), parsed and validated once,
 * before any resource is declared. Every key is declared here once: its type,
 * description and default (Pulumi.yaml repeats them; a test keeps both equal),
 * the rule it must follow, and how that rule reads in an error message.
 *
 * A bad value stops the program with a message that names the key, the value
 * and what is allowed (`ConfigError`); nothing is registered.
 */
import { z } from "zod";
import { formatIpv4, isHostAddress, parseCidr, parseIpv4 } from "./ipv4";

export const NAMESPACE = "cco-infra";

/**
 * GitHub's own Actions storage accounts (job summaries, logs, artifacts,
 * caches). GitHub documents `*.blob.core.windows.net`, which admits every
 * Azure storage account in the world (any job's own included), and dnsmasq
 * cannot match `productionresultssa*` inside a label: so the accounts are
 * named one by one. 0-19 are the ones GitHub's meta API lists under
 * `domains.actions` (https://api.github.com/meta); 30-49 and 100-199 were added
 * on 2026-10-22 (https://github.blog/changelog/2026-10-22-meta-api-endpoints-updated-for-actions-blob-storage).
 * 20-29 are named nowhere, so they are not here. A new account GitHub adds
 * must be added here too (until then uploads to it fail, closed).
 */
export const GITHUB_RESULTS_STORAGE_ACCOUNTS: readonly string[] = [
  [0, 19],
  [30, 49],
  [100, 199],
].flatMap(([from, to]) =>
  Array.from({ length: to! - from! + 1 }, (_, i) => `productionresultssa${from! + i}.blob.core.windows.net`),
);

/**
 * The default egress allowlist: what GitHub documents for self-hosted runners
 * ("Communicating with self-hosted runners",
 * https://docs.github.com/en/actions/concepts/runners/communicating-with-self-hosted-runners,
 * reviewed 2026-12-01), and Debian's update mirrors. Each entry also allows its
 * subdomains. Stacks add what their builds need (egressExtraDomains).
 */
export const GITHUB_RUNNER_DOMAINS: readonly string[] = [
  // Essential operations: the runner's registration, long poll and job messages.
  "github.com",
  "api.github.com",
  // *.actions.githubusercontent.com: the runner service's hosts, and OIDC tokens.
  "actions.githubusercontent.com",
  // Downloading actions (tarballs, and immutable actions' packages).
  "codeload.github.com",
  "pkg.actions.githubusercontent.com",
  // Uploading and downloading job summaries, logs, artifacts and caches.
  "results-receiver.actions.githubusercontent.com",
  ...GITHUB_RESULTS_STORAGE_ACCOUNTS,
  // Runner version updates (and the runner tarball provisioning downloads).
  "objects.githubusercontent.com",
  "objects-origin.githubusercontent.com",
  "github-releases.githubusercontent.com",
  "github-registry-files.githubusercontent.com",
  // Release assets (the runner tarball's redirect target).
  "release-assets.githubusercontent.com",
  // GitHub Packages: *.pkg.github.com (npm, maven, nuget, rubygems), containers, and publishing immutable actions.
  "pkg.github.com",
  "pkg-containers.githubusercontent.com",
  "ghcr.io",
  // Git Large File Storage.
  "github-cloud.githubusercontent.com",
  "github-cloud.s3.amazonaws.com",
  // Not in GitHub's list: raw files that actions and install scripts fetch.
  // It serves anyone's repository content (docs/security.md: what no allowlist stops).
  "raw.githubusercontent.com",
  // Not here: dependabot-actions.githubapp.com, which GitHub lists only for
  // Dependabot jobs on self-hosted runners (this program does not run them).
  // Debian's security and package updates of the containers themselves.
  "deb.debian.org",
  "security.debian.org",
];

type KeyType = "string" | "integer" | "boolean" | "array";

interface KeySpec<T> {
  type: KeyType;
  description: string;
  /** Undefined: the key is required. */
  default: T | undefined;
  /** What is allowed, as error messages say it. */
  allowed: string;
  schema: z.ZodType<T>;
}

function key<T>(
  type: KeyType,
  description: string,
  defaultValue: T | undefined,
  allowed: string,
  schema: z.ZodType<T>,
): KeySpec<T> {
  return { type, description, default: defaultValue, allowed, schema };
}

/** The secrets `pulumi up` needs, all set with `pulumi config set --secret`. */
export const REQUIRED_SECRETS = {
  "github:token": "GitHub token of the repository owner (repo administration, actions and contents)",
  "proxmoxve:apiToken": "Proxmox API token, user@realm!tokenid=uuid",
  "cco-infra:sshPrivateKey": "private half of the provisioning SSH key",
  "cco-infra:controllerGithubToken":
    "fine-grained GitHub token of this repository only, Administration: read and write (ephemeral mode: the controller's, kept on the Proxmox nodes)",
} as const;

/** Secret keys: only ever read as secrets (pulumi config set --secret), never validated as text. */
export const SECRET_KEYS = {
  sshPrivateKey:
    "Private half of the provisioning SSH key (OpenSSH or PEM format; the public half is derived from it); set with --secret",
} as const;

/**
 * Secrets of one mode only, left out of Pulumi.yaml: the CLI refuses a stack
 * that lacks a declared secret (a default does not help: "must be encrypted
 * as it's secret", pulumi v3.248.0), and a persistent stack has no use for
 * these. The CLI takes undeclared keys; the program reads them (requireSecret
 * names a missing one).
 */
export const MODE_SECRET_KEYS = {
  controllerGithubToken:
    "Ephemeral mode: fine-grained GitHub token for this repository only with Administration read and write (makes just-in-time runner configs, removes runners); it lives only on the Proxmox nodes, never in a runner container; set with --secret",
} as const;

/** Keys that are gone, and what to do instead (a stack that still sets one is refused with this). */
const REMOVED_KEYS: Record<string, string> = {
  sshPublicKey:
    "the public key is derived from the secret sshPrivateKey now, so the two cannot disagree; remove it: pulumi config rm cco-infra:sshPublicKey",
};

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** A whole-number key: what its error says is allowed comes from the same bounds as its rule. */
function integer(
  description: string,
  defaultValue: number,
  min: number,
  max: number,
  unit = "",
  note = "",
): KeySpec<number> {
  const allowed = `a whole number ${unit ? `of ${unit} ` : ""}from ${min} to ${max}${note ? ` ${note}` : ""}`;
  return key("integer", description, defaultValue, allowed, int(min, max));
}
const hex = (length: number) => z.string().regex(new RegExp(`^[0-9a-f]{${length}}$`));
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const SEMVER = /^\d+\.\d+\.\d+$/;
const httpsUrl = z.string().regex(/^https:\/\/[^\s]+$/);
const ipv4 = z.string().refine((s) => parseIpv4(s) !== undefined);
const cidr = z.string().refine((s) => parseCidr(s) !== undefined);
const unique = <T>(list: T[]) => new Set(list).size === list.length;
const uniqueStrings = (item: z.ZodType<string>) => z.array(item).refine(unique, "has duplicates");

/**
 * The REST API of a GitHub, from its web URL (one setting for both, so a
 * runner never registers with one GitHub while the scripts call another):
 * api.github.com, api.NAME.ghe.com for GHE.com, HOST/api/v3 for GHE Server.
 */
export function githubApiUrlOf(serverUrl: string): string {
  const url = new URL(serverUrl);
  if (url.host === "github.com") return "https://api.github.com";
  if (url.hostname.endsWith(".ghe.com")) return `https://api.${url.host}`;
  return `${url.origin}/api/v3`;
}

/** Every project key: Pulumi.yaml must declare exactly these. */
export const CONFIG_KEYS = {
  // The GitHub repository
  repoName: key(
    "string",
    "Name of the private GitHub repository",
    "cco",
    "a GitHub repository name (letters, digits, . _ -)",
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/)
      .refine((s) => s !== "." && s !== ".."),
  ),
  repoDescription: key(
    "string",
    "Description of the repository",
    "cco: built, tested and released on our own runners",
    "any text up to 350 characters",
    z.string().max(350),
  ),
  protectionMode: key(
    "string",
    "How main is protected: classic branch protection or a repository ruleset (on a private repository, GitHub offers either only on Pro, Team or Enterprise plans)",
    "classic",
    "classic or ruleset",
    z.enum(["classic", "ruleset"]),
  ),
  requiredApprovals: integer("Approving reviews a pull request needs before it merges into main", 1, 1, 6),
  // Runners
  runnerCount: integer("Number of self-hosted runners (runner-01 ... runner-NN)", 4, 4, 10),
  runnerMode: key(
    "string",
    "ephemeral: one job per container life, a just-in-time runner per job, the container rolled back to a clean snapshot by a controller on the Proxmox node between jobs (needs proxmoxNodeHosts, the secret controllerGithubToken and snapshot-capable storage; docs/ephemeral.md). persistent: each runner registered once, job after job in the same container (warm caches, no isolation between jobs)",
    "ephemeral",
    "ephemeral or persistent",
    z.enum(["ephemeral", "persistent"]),
  ),
  runnerLabels: key(
    "array",
    "Labels of every runner besides self-hosted (always first) and its own name",
    [] as string[],
    "a list of distinct labels of letters, digits, . _ - (up to 64 characters), without self-hosted",
    uniqueStrings(
      z
        .string()
        .regex(LABEL)
        .refine((s) => s.toLowerCase() !== "self-hosted"),
    ),
  ),
  runnerCores: integer("CPU cores of each runner container", 4, 2, 128),
  runnerMemoryMb: integer("Memory of each runner container, in MB", 8192, 2048, 1048576, "MB"),
  runnerSwapMb: integer("Swap of each runner container, in MB", 1024, 0, 65536, "MB"),
  runnerDiskGb: integer("Root disk of each runner container, in GB", 50, 20, 4096, "GB"),
  runnerVersion: key(
    "string",
    "Version of the GitHub Actions runner (set runnerSha256 with it)",
    "2.329.0",
    "a version like 2.329.0",
    z.string().regex(SEMVER),
  ),
  runnerSha256: key(
    "string",
    "SHA-256 of the runner's linux-x64 tarball (from its release notes)",
    "194f1e1e4bd02f80b7e9633fc546084d8d4e19f3928a324d512ea53430102e1d",
    "64 lowercase hex digits",
    hex(64),
  ),
  runnerTarballUrl: key(
    "string",
    "Where the runner tarball is downloaded ({version} is replaced); a mirror works",
    "https://github.com/actions/runner/releases/download/v{version}/actions-runner-linux-x64-{version}.tar.gz",
    "an https URL",
    httpsUrl,
  ),
  githubServerUrl: key(
    "string",
    "The GitHub the runners register with and the scripts call: https://github.com, a GitHub Enterprise Server (https://HOST) or GHE.com (https://NAME.ghe.com); the REST API's URL is derived from it (set github:baseUrl to that API URL too, for the GitHub provider)",
    "https://github.com",
    "https://github.com, https://HOST or https://NAME.ghe.com (no path)",
    z.string().regex(/^https:\/\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/),
  ),
  runnerAutoUpdate: key(
    "boolean",
    "Let the runner update itself (default: the pinned, checksum-verified runnerVersion is only the bootstrap). Off: GitHub stops sending jobs to a runner more than 30 days behind its newest release, so raise runnerVersion and runnerSha256 within 30 days of every runner release",
    true,
    "true or false",
    z.boolean(),
  ),
  dockerInJobs: key(
    "boolean",
    "Allow Docker inside jobs (turns on LXC nesting and keyctl, and the docker group)",
    false,
    "true or false",
    z.boolean(),
  ),
  vmIdStart: integer(
    "vmId of runner-01; runner-NN gets vmIdStart + NN - 1 (ten ids are reserved)",
    200,
    100,
    999_999_990,
  ),
  // Proxmox
  proxmoxNodes: key(
    "array",
    "Proxmox nodes to place containers on",
    ["pve"],
    "a non-empty list of distinct node names (letters, digits, -)",
    uniqueStrings(z.string().regex(NODE_NAME)).refine((l) => l.length > 0, "is empty"),
  ),
  runnerPlacement: key(
    "array",
    "Node of each runner by index (runner-01 first); runners past the list go round-robin over proxmoxNodes",
    [] as string[],
    "a list of up to 10 names from proxmoxNodes",
    z.array(z.string()).max(10),
  ),
  proxmoxDatastore: key(
    "string",
    "Datastore of the containers' root disks (ephemeral runners: a snapshot-capable one, LVM-thin, ZFS, Ceph RBD or btrfs)",
    "local-lvm",
    "a datastore id",
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  ),
  proxmoxNodeHosts: key(
    "array",
    "SSH address of each of proxmoxNodes (same order), where Pulumi installs the ephemeral runners' controller as root with the provisioning key (ephemeral mode only)",
    [] as string[],
    "a list of distinct IPv4 addresses or DNS names, one per entry of proxmoxNodes",
    uniqueStrings(z.string().refine((s) => parseIpv4(s) !== undefined || DNS_NAME.test(s))),
  ),
  proxmoxTemplateDatastore: key(
    "string",
    "Datastore that holds the LXC template (content type vztmpl)",
    "local",
    "a datastore id",
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  ),
  proxmoxTemplateShared: key(
    "boolean",
    "The template datastore is shared by every node (NFS, CephFS...): the template is downloaded once, not once per node",
    false,
    "true or false",
    z.boolean(),
  ),
  proxmoxBridge: key(
    "string",
    "Bridge the containers' network interface joins",
    "vmbr0",
    "a Linux bridge name",
    z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
  ),
  lxcTemplateUrl: key(
    "string",
    "LXC template: Debian 12, the system the hardening tests boot",
    "http://download.proxmox.com/images/system/debian-12-standard_12.7-1_amd64.tar.zst",
    "an http(s) URL of a .tar.zst/.tar.xz/.tar.gz template",
    z.string().regex(/^https?:\/\/\S+\.tar\.(zst|xz|gz)$/),
  ),
  lxcTemplateChecksum: key(
    "string",
    "SHA-512 of the LXC template (Proxmox checks it after download)",
    "39f6d06e082d6a418438483da4f76092ebd0370a91bad30b82ab6d0f442234d63fe27a15569895e34d6d1e5ca50319f62637f7fb96b98dbde4f6103cf05bff6d",
    "128 lowercase hex digits (SHA-512)",
    hex(128),
  ),
  // Network
  networkMode: key(
    "string",
    "static: addresses from runnerIpStart (the only mode: DHCP was dropped, see docs/containers.md)",
    "static",
    "static",
    z.enum(["static", "dhcp"]),
  ),
  networkCidr: key("string", "The containers' LAN", "192.168.1.0/24", "an IPv4 block like 192.168.1.0/24", cidr),
  networkGateway: key(
    "string",
    "Default gateway of the LAN",
    "192.168.1.1",
    "an IPv4 address inside networkCidr",
    ipv4,
  ),
  runnerIpStart: key(
    "string",
    "Address of runner-01; runner-NN gets the NN-th from here (ten are reserved)",
    "192.168.1.200",
    "an IPv4 address such that ten addresses from it fit in networkCidr",
    ipv4,
  ),
  dnsServers: key(
    "array",
    "Upstream resolvers the containers' dnsmasq forwards to (the only DNS they may reach)",
    ["1.1.1.1", "9.9.9.9"],
    "a non-empty list of distinct IPv4 addresses",
    uniqueStrings(ipv4).refine((l) => l.length > 0, "is empty"),
  ),
  adminCidr: key(
    "string",
    "Where SSH into the containers is allowed from (the Proxmox firewall enforces it)",
    "192.168.1.0/24",
    "an IPv4 block; 0.0.0.0/0 (SSH from anywhere) only with adminCidrAnywhere: true",
    cidr,
  ),
  adminCidrAnywhere: key(
    "boolean",
    "Allow adminCidr 0.0.0.0/0: SSH into every container from any address (refused unless this is true)",
    false,
    "true or false",
    z.boolean(),
  ),
  // Egress
  egressMode: key(
    "string",
    "How runners reach the internet: gateway (only through the egress gateway, which admits allowed names; the Proxmox firewall lets a runner out to nothing else) or direct (no gateway: the in-container allowlist of addresses, web ports to any public address at the Proxmox firewall; weaker, docs/egress-gateway.md)",
    "gateway",
    "gateway or direct",
    z.enum(["gateway", "direct"]),
  ),
  egressDomains: key(
    "array",
    "Domains (and their subdomains) runners may reach on 443/80; everything else is dropped",
    [...GITHUB_RUNNER_DOMAINS],
    "a non-empty list of distinct lowercase domain names",
    uniqueStrings(z.string().regex(DNS_NAME)).refine((l) => l.length > 0, "is empty"),
  ),
  egressExtraDomains: key(
    "array",
    "Domains added to egressDomains, e.g. what your builds download from (kept apart so the GitHub list stays the default)",
    [] as string[],
    "a list of distinct lowercase domain names",
    uniqueStrings(z.string().regex(DNS_NAME)),
  ),
  egressExtraCidrs: key(
    "array",
    "Extra IPv4 blocks runners may reach on TCP egressExtraCidrPorts (80 and 443 unless set), e.g. an internal registry",
    [] as string[],
    "a list of distinct IPv4 blocks",
    uniqueStrings(cidr),
  ),
  egressExtraCidrPorts: key(
    "array",
    "TCP ports open to every block of egressExtraCidrs: each port listed here is open to all of them",
    ["80", "443"],
    "a non-empty list of distinct TCP ports (1 to 65535, as strings)",
    uniqueStrings(
      z
        .string()
        .regex(/^[1-9][0-9]{0,4}$/)
        .refine((p) => Number(p) <= 65535),
    ).refine((l) => l.length > 0, "is empty"),
  ),
  logCollector: key(
    "string",
    "Where runners ship their journal (sshd, su, egress and the runner's lines): a systemd-journal-remote's IPv4:port on the LAN; empty: kept only in the container",
    "",
    "empty, or IPv4:port like 192.168.1.211:19532",
    z
      .string()
      .refine(
        (s) =>
          s === "" ||
          (/^[^:]+:[1-9][0-9]{0,4}$/.test(s) &&
            parseIpv4(s.split(":")[0]!) !== undefined &&
            Number(s.split(":")[1]) <= 65535),
      ),
  ),
  // SSH
  sshUser: key(
    "string",
    "User Pulumi provisions the containers as over SSH (root: Proxmox installs the key for root only)",
    "root",
    "root",
    z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/),
  ),
  // The stats service
  statsVmId: integer("vmId of the stats service's container", 210, 100, 999_999_999, "", "outside the runners' ten"),
  statsNode: key(
    "string",
    "Proxmox node of the stats service (empty: the first of proxmoxNodes)",
    "",
    "empty or a name from proxmoxNodes",
    z.string(),
  ),
  statsIp: key(
    "string",
    "Static address of the stats service",
    "192.168.1.210",
    "an IPv4 host address in networkCidr, outside the runners' ten",
    ipv4,
  ),
  statsPort: integer("Port of the stats service", 8080, 1024, 65535),
  statsCores: integer("CPU cores of the stats container", 1, 1, 16),
  statsMemoryMb: integer("Memory of the stats container, in MB", 1024, 512, 65536, "MB"),
  statsDataVolume: key(
    "string",
    "Existing Proxmox volume (storage:name, owned by another vmId) for the stats service's data, so a replacement of its container keeps it (empty: the root disk, lost with the container)",
    "",
    "empty or a volume id like local-lvm:vm-9210-disk-0",
    z.string().regex(/^$|^[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9][A-Za-z0-9._/-]*$/),
  ),
  statsDiskGb: integer("Root disk of the stats container, in GB", 8, 4, 1024, "GB"),
  nodeVersion: key(
    "string",
    "Node.js LTS run by the stats service (set nodeSha256 with it)",
    "22.21.1",
    "a version like 22.21.1 (20 or later)",
    z
      .string()
      .regex(SEMVER)
      .refine((v) => Number(v.split(".")[0]) >= 20),
  ),
  nodeSha256: key(
    "string",
    "SHA-256 of node-v{version}-linux-x64.tar.xz (from nodejs.org SHASUMS256.txt)",
    "680d3f30b24a7ff24b98db5e96f294c0070f8f9078df658da1bce1b9c9873c88",
    "64 lowercase hex digits",
    hex(64),
  ),
  nodeTarballUrl: key(
    "string",
    "Where Node.js is downloaded ({version} is replaced)",
    "https://nodejs.org/dist/v{version}/node-v{version}-linux-x64.tar.xz",
    "an https URL",
    httpsUrl,
  ),
  // The egress gateway (docs/egress-gateway.md)
  gatewayVmId: key(
    "integer",
    "vmId of the egress gateway's container",
    211,
    "a whole number from 100 to 999999999 outside the runners' ten and not statsVmId",
    int(100, 999_999_999),
  ),
  gatewayIp: key(
    "string",
    "Static address of the egress gateway (the runners' only way out)",
    "192.168.1.211",
    "an IPv4 host address in networkCidr, outside the runners' ten, not statsIp",
    ipv4,
  ),
  gatewayPort: key(
    "integer",
    "Proxy port of the egress gateway",
    3128,
    "a whole number from 1024 to 65535, not statsPort",
    int(1024, 65535),
  ),
  gatewayCores: key("integer", "CPU cores of the gateway container", 2, "a whole number from 1 to 16", int(1, 16)),
  gatewayMemoryMb: key(
    "integer",
    "Memory of the gateway container, in MB",
    1024,
    "a whole number of MB from 512 to 65536",
    int(512, 65536),
  ),
  gatewayDiskGb: key(
    "integer",
    "Root disk of the gateway container, in GB",
    8,
    "a whole number of GB from 4 to 1024",
    int(4, 1024),
  ),
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
type Values = { [K in ConfigKey]: (typeof CONFIG_KEYS)[K] extends KeySpec<infer T> ? T : never };

/** The repository's settings (CcoRepository's args). */
export interface RepositoryConfig {
  name: string;
  description: string;
  protectionMode: "classic" | "ruleset";
  requiredApprovals: number;
}

/** What every runner of the fleet shares, and the instances. */
export type RunnerMode = "ephemeral" | "persistent";

export interface RunnersConfig {
  count: number;
  /** ephemeral: a JIT runner per job, the container reset between jobs by the node's controller; persistent: registered once. */
  mode: RunnerMode;
  /** runner-01 ... runner-NN, each with its vmId, node and address. */
  instances: RunnerInstance[];
  /** self-hosted first, then the configured ones. */
  labels: string[];
  cores: number;
  memoryMb: number;
  swapMb: number;
  diskGb: number;
  version: string;
  sha256: string;
  tarballUrl: string;
  /** The GitHub the runners register with (runner URL = githubUrl/owner/name), and its REST API. */
  githubUrl: string;
  githubApiUrl: string;
  autoUpdate: boolean;
  dockerInJobs: boolean;
}

/** Where on Proxmox the containers and the template live. */
export interface ProxmoxConfig {
  nodes: string[];
  /** Datastore of the containers' root disks. */
  datastore: string;
  templateDatastore: string;
  /** The template datastore is one storage seen by every node. */
  templateShared: boolean;
  bridge: string;
  templateUrl: string;
  templateChecksum: string;
  /** SSH address of each node (ephemeral mode; empty in persistent mode). */
  nodeHosts: Record<string, string>;
}

/** The containers' LAN. */
export interface NetworkConfig {
  /** Always static: DHCP mode was dropped (docs/containers.md). */
  mode: "static";
  cidr: string;
  prefix: number;
  gateway: string;
  dnsServers: string[];
  adminCidr: string;
}

/** How runners reach the internet (egressMode). */
export type EgressMode = "gateway" | "direct";

export interface EgressConfig {
  /** gateway: through the egress gateway only; direct: the in-container allowlist only. */
  mode: EgressMode;
  domains: string[];
  extraCidrs: string[];
  /** TCP ports open to the extra blocks. */
  extraCidrPorts: number[];
  /** IPv4:port of the systemd-journal-remote runners ship their journal to; empty: none. */
  logCollector: string;
}

export interface SshConfig {
  user: string;
}

/** A service's own container (the stats service, the egress gateway): where it runs, its address and port, its size. */
export interface ServiceContainerConfig {
  vmId: number;
  node: string;
  ip: string;
  port: number;
  cores: number;
  memoryMb: number;
  diskGb: number;
}

export interface StatsConfig extends ServiceContainerConfig {
  /** An existing volume for the service's data, or "" (the root disk). */
  dataVolume: string;
  nodeVersion: string;
  nodeSha256: string;
  nodeTarballUrl: string;
}

/** The egress gateway: on the stats service's node. */
export type GatewayConfig = ServiceContainerConfig;

/**
 * The validated configuration, in sections: infra/program.ts hands each
 * component the sections (or the fields) it needs, never the whole.
 */
export interface InfraConfig {
  repository: RepositoryConfig;
  runners: RunnersConfig;
  proxmox: ProxmoxConfig;
  network: NetworkConfig;
  egress: EgressConfig;
  ssh: SshConfig;
  stats: StatsConfig;
  /** The egress gateway; undefined when egressMode is direct (none is deployed). */
  gateway: GatewayConfig | undefined;
}

export interface RunnerInstance {
  /** runner-01 */
  name: string;
  index: number;
  vmId: number;
  node: string;
  /** Its static address. */
  ip: string;
}

/** Ten vmIds and addresses are reserved for runners, so scaling up never collides. */
export const MAX_RUNNERS = 10;

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    problem?: string,
  ) {
    super(
      `Invalid config ${NAMESPACE}:${key} = ${JSON.stringify(value)}${problem ? ` (${problem})` : ""}. Allowed: ${allowed}.`,
    );
    this.name = "ConfigError";
  }
}

function fail(k: ConfigKey, value: unknown, problem?: string): never {
  throw new ConfigError(k, value, CONFIG_KEYS[k].allowed, problem);
}

/** A raw value (a string, as Pulumi hands config over) as the key's type. */
function decode(k: ConfigKey, raw: string): unknown {
  const type = CONFIG_KEYS[k].type;
  if (type === "string") return raw;
  if (type === "integer") return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : fail(k, raw, "not a whole number");
  if (type === "boolean") {
    if (raw === "true" || raw === "false") return raw === "true";
    return fail(k, raw, "not true or false");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail(k, raw, "not a list");
  }
  return Array.isArray(parsed) ? parsed : fail(k, parsed, "not a list");
}

function readValues(raw: Record<string, string | undefined>): Values {
  for (const [k, instead] of Object.entries(REMOVED_KEYS)) {
    if (raw[k] !== undefined) throw new ConfigError(k, raw[k], "nothing: the key was removed", instead);
  }
  const unknown = Object.keys(raw).filter(
    (k) => !(k in CONFIG_KEYS) && !(k in SECRET_KEYS) && !(k in MODE_SECRET_KEYS) && raw[k] !== undefined,
  );
  if (unknown.length > 0) {
    const k = unknown[0]!;
    throw new ConfigError(
      k,
      raw[k],
      `one of the keys declared in Pulumi.yaml (${Object.keys(CONFIG_KEYS).join(", ")})`,
      "unknown key",
    );
  }
  const values: Record<string, unknown> = {};
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const given = raw[k];
    if (given === undefined && CONFIG_KEYS[k].default === undefined) fail(k, undefined, "required");
    const value = given === undefined ? CONFIG_KEYS[k].default : decode(k, given);
    const parsed = (CONFIG_KEYS[k].schema as z.ZodType).safeParse(value);
    if (!parsed.success) {
      // The allowed text says what the rule is; only a list item's position or
      // a rule of our own ("has duplicates") adds to it.
      const issue = parsed.error.issues[0];
      const where =
        issue && issue.path.length > 0
          ? `item ${Number(issue.path[0]) + 1} is invalid`
          : issue?.code === "custom" && issue.message !== "Invalid input"
            ? issue.message
            : undefined;
      fail(k, value, where);
    }
    values[k] = parsed.data;
  }
  return values as Values;
}

/**
 * The release a pinned artifact comes from must be pinned with its checksum:
 * another version with the default checksum is refused. Judged by the values,
 * not by which keys are set: the Pulumi CLI copies every project default from
 * Pulumi.yaml into the stack's config before the program runs, so the
 * checksum always looks "set" there (issue 11, finding 3).
 */
function requirePair(
  v: Values,
  version: "runnerVersion" | "nodeVersion",
  checksum: "runnerSha256" | "nodeSha256",
): void {
  if (v[version] !== CONFIG_KEYS[version].default && v[checksum] === CONFIG_KEYS[checksum].default) {
    fail(
      checksum,
      v[checksum],
      `that is the checksum of ${CONFIG_KEYS[version].default}, but ${NAMESPACE}:${version} is ${v[version]}: set the checksum of ${v[version]}`,
    );
  }
}

/** An address the schema has already checked. */
function address(value: string): number {
  return parseIpv4(value)!;
}

/**
 * Parses and validates every key. `raw` maps key (without namespace) to the
 * string Pulumi holds; a missing key takes its default. Throws ConfigError.
 */
export function parseConfig(raw: Record<string, string | undefined>): InfraConfig {
  const v = readValues(raw);
  requirePair(v, "runnerVersion", "runnerSha256");
  requirePair(v, "nodeVersion", "nodeSha256");
  // bpg v0.111.1 proxmoxtf/resource/container/container.go (containerRead):
  // WaitForContainerNetworkInterfaces with 10*time.Second, and on error only a
  // warning and an empty ipv4 map; so a DHCP container may have no address.
  if (v.networkMode === "dhcp") {
    fail(
      "networkMode",
      v.networkMode,
      "DHCP mode was dropped: the provider reads a DHCP address once, with a 10 s limit, and provisioning then has no host; give the runners static addresses (runnerIpStart)",
    );
  }
  if (parseCidr(v.adminCidr)!.prefix === 0 && !v.adminCidrAnywhere) {
    fail(
      "adminCidr",
      v.adminCidr,
      "that lets any address try SSH into every container; narrow it, or set adminCidrAnywhere: true to mean it",
    );
  }
  if (v.sshUser !== "root") {
    fail("sshUser", v.sshUser, "Proxmox installs the SSH key for root only, and provisioning writes under /root");
  }

  // Ephemeral runners: the controller goes onto every node over SSH.
  if (v.runnerMode === "ephemeral" && v.proxmoxNodeHosts.length !== v.proxmoxNodes.length) {
    fail(
      "proxmoxNodeHosts",
      v.proxmoxNodeHosts,
      `runnerMode ephemeral installs a controller on each Proxmox node over SSH: give one address per node of proxmoxNodes ${JSON.stringify(v.proxmoxNodes)}, in the same order`,
    );
  }

  // Placement: every named node exists.
  v.runnerPlacement.forEach((node, i) => {
    if (!v.proxmoxNodes.includes(node)) {
      fail(
        "runnerPlacement",
        v.runnerPlacement,
        `item ${i + 1} "${node}" is not in proxmoxNodes ${JSON.stringify(v.proxmoxNodes)}`,
      );
    }
  });
  const statsNode = v.statsNode === "" ? v.proxmoxNodes[0]! : v.statsNode;
  if (!v.proxmoxNodes.includes(statsNode))
    fail("statsNode", v.statsNode, `not in proxmoxNodes ${JSON.stringify(v.proxmoxNodes)}`);

  // vmIds: the runners' ten and the stats service's never overlap.
  const lastRunnerVmId = v.vmIdStart + MAX_RUNNERS - 1;
  if (v.statsVmId >= v.vmIdStart && v.statsVmId <= lastRunnerVmId) {
    fail("statsVmId", v.statsVmId, `collides with the runners' vmIds ${v.vmIdStart}-${lastRunnerVmId}`);
  }
  // The gateway's keys are checked only when there is a gateway.
  const withGateway = v.egressMode === "gateway";
  if (withGateway && v.gatewayVmId >= v.vmIdStart && v.gatewayVmId <= lastRunnerVmId) {
    fail("gatewayVmId", v.gatewayVmId, `collides with the runners' vmIds ${v.vmIdStart}-${lastRunnerVmId}`);
  }
  if (withGateway && v.gatewayVmId === v.statsVmId) fail("gatewayVmId", v.gatewayVmId, "is statsVmId");
  if (withGateway && v.gatewayPort === v.statsPort) fail("gatewayPort", v.gatewayPort, "is statsPort");

  // Addresses: the plan fits the block and nothing collides.
  const block = parseCidr(v.networkCidr)!;
  const gateway = address(v.networkGateway);
  if (!isHostAddress(block, gateway))
    fail("networkGateway", v.networkGateway, `not a host address in ${v.networkCidr}`);
  const stats = address(v.statsIp);
  if (!isHostAddress(block, stats)) fail("statsIp", v.statsIp, `not a host address in ${v.networkCidr}`);
  if (stats === gateway) fail("statsIp", v.statsIp, "is the gateway");
  const egressGateway = address(v.gatewayIp);
  if (withGateway) {
    if (!isHostAddress(block, egressGateway)) fail("gatewayIp", v.gatewayIp, `not a host address in ${v.networkCidr}`);
    if (egressGateway === gateway) fail("gatewayIp", v.gatewayIp, "is networkGateway");
    if (egressGateway === stats) fail("gatewayIp", v.gatewayIp, "is statsIp");
  }
  const first = address(v.runnerIpStart);
  const last = first + MAX_RUNNERS - 1;
  if (!isHostAddress(block, first) || !isHostAddress(block, last)) {
    fail("runnerIpStart", v.runnerIpStart, `${v.runnerIpStart}-${formatIpv4(last)} does not fit in ${v.networkCidr}`);
  }
  if (gateway >= first && gateway <= last)
    fail("runnerIpStart", v.runnerIpStart, `the gateway ${v.networkGateway} is among the runners' ten addresses`);
  if (stats >= first && stats <= last)
    fail("statsIp", v.statsIp, `among the runners' ten addresses ${v.runnerIpStart}-${formatIpv4(last)}`);
  if (withGateway && egressGateway >= first && egressGateway <= last)
    fail("gatewayIp", v.gatewayIp, `among the runners' ten addresses ${v.runnerIpStart}-${formatIpv4(last)}`);

  const instances: RunnerInstance[] = [];
  for (let i = 1; i <= v.runnerCount; i++) {
    instances.push({
      name: runnerName(i),
      index: i,
      vmId: v.vmIdStart + i - 1,
      node: v.runnerPlacement[i - 1] ?? v.proxmoxNodes[(i - 1) % v.proxmoxNodes.length]!,
      ip: formatIpv4(first + i - 1),
    });
  }

  return {
    repository: {
      name: v.repoName,
      description: v.repoDescription,
      protectionMode: v.protectionMode,
      requiredApprovals: v.requiredApprovals,
    },
    runners: {
      count: v.runnerCount,
      mode: v.runnerMode,
      instances,
      labels: ["self-hosted", ...v.runnerLabels],
      cores: v.runnerCores,
      memoryMb: v.runnerMemoryMb,
      swapMb: v.runnerSwapMb,
      diskGb: v.runnerDiskGb,
      version: v.runnerVersion,
      sha256: v.runnerSha256,
      tarballUrl: v.runnerTarballUrl.replaceAll("{version}", v.runnerVersion),
      githubUrl: v.githubServerUrl,
      githubApiUrl: githubApiUrlOf(v.githubServerUrl),
      autoUpdate: v.runnerAutoUpdate,
      dockerInJobs: v.dockerInJobs,
    },
    proxmox: {
      nodes: v.proxmoxNodes,
      datastore: v.proxmoxDatastore,
      templateDatastore: v.proxmoxTemplateDatastore,
      templateShared: v.proxmoxTemplateShared,
      bridge: v.proxmoxBridge,
      templateUrl: v.lxcTemplateUrl,
      templateChecksum: v.lxcTemplateChecksum,
      nodeHosts:
        v.runnerMode === "ephemeral"
          ? Object.fromEntries(v.proxmoxNodes.map((n, i) => [n, v.proxmoxNodeHosts[i]!]))
          : {},
    },
    network: {
      mode: "static",
      cidr: v.networkCidr,
      prefix: block.prefix,
      gateway: v.networkGateway,
      dnsServers: v.dnsServers,
      adminCidr: v.adminCidr,
    },
    egress: {
      mode: v.egressMode,
      domains: [...new Set([...v.egressDomains, ...v.egressExtraDomains])],
      extraCidrs: v.egressExtraCidrs,
      extraCidrPorts: v.egressExtraCidrPorts.map(Number),
      logCollector: v.logCollector,
    },
    ssh: { user: v.sshUser },
    stats: {
      vmId: v.statsVmId,
      node: statsNode,
      ip: v.statsIp,
      port: v.statsPort,
      cores: v.statsCores,
      memoryMb: v.statsMemoryMb,
      diskGb: v.statsDiskGb,
      dataVolume: v.statsDataVolume,
      nodeVersion: v.nodeVersion,
      nodeSha256: v.nodeSha256,
      nodeTarballUrl: v.nodeTarballUrl.replaceAll("{version}", v.nodeVersion),
    },
    gateway: withGateway
      ? {
          vmId: v.gatewayVmId,
          node: statsNode,
          ip: v.gatewayIp,
          port: v.gatewayPort,
          cores: v.gatewayCores,
          memoryMb: v.gatewayMemoryMb,
          diskGb: v.gatewayDiskGb,
        }
      : undefined,
  };
}

/** How the Proxmox provider logs in, as its config (proxmoxve:*) says. */
export interface ProxmoxLogin {
  username: string | undefined;
  /** Whether proxmoxve:password is set (its value is never read here). */
  password: boolean;
  apiToken: string | undefined;
}

/** The proxmoxve:* keys the login is read from ("namespace:key" config, as the CLI hands it over). */
export function proxmoxLogin(all: Record<string, string | undefined>): ProxmoxLogin {
  return {
    username: all["proxmoxve:username"],
    password: !!all["proxmoxve:password"],
    apiToken: all["proxmoxve:apiToken"],
  };
}

/**
 * The token shape the provider accepts; a token in this shape is used before
 * username and password (bpg/terraform-provider-proxmox v0.111.1,
 * proxmox/api/credentials.go NewCredentials and newTokenCredentials).
 */
const PROVIDER_API_TOKEN = /^\S+@\S+!\S+=([a-zA-Z0-9-]+)$/;

/**
 * Docker in jobs turns on keyctl, and Proxmox lets only root@pam itself change
 * feature flags other than nesting (pve-container 6.1.10, src/PVE/LXC.pm
 * check_ct_modify_config_perm: `return 1 if $authuser eq 'root@pam'`, else
 * "changing feature flags (except nesting) is only allowed for root@pam").
 * An API token's user is `root@pam!<tokenid>`, which is not root@pam: so the
 * provider must log in with root@pam's username and password, and no token.
 */
export function checkDockerLogin(dockerInJobs: boolean, login: ProxmoxLogin): void {
  if (!dockerInJobs) return;
  const allowed =
    "false, or true with proxmoxve:username root@pam, proxmoxve:password set (--secret) and no proxmoxve:apiToken";
  const why = "Docker in jobs needs keyctl, which Proxmox lets only root@pam itself turn on";
  if (login.apiToken !== undefined && PROVIDER_API_TOKEN.test(login.apiToken)) {
    throw new ConfigError(
      "dockerInJobs",
      true,
      allowed,
      `${why}; the provider logs in with proxmoxve:apiToken, and an API token (even root@pam's) is not root@pam`,
    );
  }
  if (login.username !== "root@pam" || !login.password) {
    throw new ConfigError(
      "dockerInJobs",
      true,
      allowed,
      `${why}; the provider logs in as ${login.username === undefined ? "nobody (proxmoxve:username is not set)" : login.username}${login.password ? "" : " without proxmoxve:password"}`,
    );
  }
}

/** runner-01 ... runner-10: stable names, the index zero-padded. */
export function runnerName(index: number): string {
  return `runner-${String(index).padStart(2, "0")}`;
}
