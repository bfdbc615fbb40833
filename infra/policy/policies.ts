/**
 * The guardrails of cco-infra as CrossGuard policies (@pulumi/policy). Each
 * policy is a small named function with a message that says what is wrong and
 * what is expected. index.ts serves them as the policy pack; the tests call
 * them directly.
 *
 * Resource policies run before each resource is created or updated, so a
 * violation stops `pulumi up` before Proxmox or GitHub is touched. Stack
 * policies see every resource together (count, firewall and provisioning per
 * runner, protection of main, provider secrets); during `pulumi up` the engine
 * runs them after the steps, so they fail the update rather than prevent it:
 * `pulumi preview` in pull requests is where they gate.
 *
 * The pack depends on nothing of the program (infra/*): it judges what the
 * program declares, so a mistake in the program is not repeated here. The
 * constants below are checked against infra/config.ts by a test.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  UnknownValueError,
  type PolicyResource,
  type ReportViolation,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type StackValidationArgs,
  type StackValidationPolicy,
} from "@pulumi/policy";
import { parse as parseYaml } from "yaml";

export const TYPES = {
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  firewallOptions: "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
  remoteCommand: "command:remote:Command",
  runner: "cco:runners:Runner",
  statsService: "cco:stats:StatsService",
  egressGateway: "cco:egress:EgressGateway",
  repository: "github:index/repository:Repository",
  branchProtection: "github:index/branchProtection:BranchProtection",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
} as const;

/** runnerCount's range (infra/config.ts): fewer cannot carry cco's builds, more exceed the ten reserved vmIds. */
export const RUNNER_COUNT = { min: 4, max: 10 } as const;
/** The smallest runner container a stack may declare (infra/config.ts's minimums). */
export const RUNNER_FLOORS = { cores: 2, memoryMb: 2048, diskGb: 20 } as const;
/** The Proxmox tag by which a runner container declares that jobs run Docker (infra/runners/fleet.ts). */
export const DOCKER_TAG = "docker-in-jobs";
/** The branch that must be protected. */
export const PROTECTED_BRANCH = "main";

// --- reading resources ---------------------------------------------------------

/**
 * The value `read` returns, or `unknown` when it is not known yet (a preview
 * before the resources it comes from exist): @pulumi/policy throws on
 * reading such a value; a check that needs it is left to the next run.
 */
export const UNKNOWN: unique symbol = Symbol("unknown during preview");
export function known<T>(read: () => T): T | typeof UNKNOWN {
  try {
    return read();
  } catch (err) {
    if (err instanceof UnknownValueError) return UNKNOWN;
    throw err;
  }
}

/** The types of a resource's ancestors, from its URN (`...::a$b$type::name`: a, then b). */
export function ancestorTypesOf(urn: string): string[] {
  const qualified = urn.split("::")[2] ?? "";
  return qualified.split("$").slice(0, -1);
}

/**
 * A runner container, as far as the policies are concerned: every Proxmox
 * container but the stats service's and the egress gateway's (neither runs
 * job code). A container declared outside the
 * RunnerFleet is held to the runners' rules rather than slipping past them.
 * (The container is a child of a ProvisionedContainer inside the Runner or
 * the StatsService or the EgressGateway: the ancestors say which.)
 */
export function isRunnerContainer(type: string, urn: string): boolean {
  const ancestors = ancestorTypesOf(urn);
  return (
    type === TYPES.container && !ancestors.includes(TYPES.statsService) && !ancestors.includes(TYPES.egressGateway)
  );
}

type Props = Record<string, unknown>;
const obj = (v: unknown): Props => (v !== null && typeof v === "object" ? (v as Props) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A property value as a message shows it: a number or text as it is, anything else as JSON, nothing as `none`. */
const shown = (v: unknown, none = "no"): string =>
  v === undefined || v === null || v === UNKNOWN
    ? none
    : typeof v === "number" || typeof v === "string"
      ? String(v)
      : JSON.stringify(v);

/** @pulumi/policy hands resources of one type to a resource policy through this guard. */
function onlyType(type: string, check: (props: Props, args: ResourceValidationArgs, report: ReportViolation) => void) {
  return (args: ResourceValidationArgs, report: ReportViolation): void => {
    if (args.type === type) check(args.props, args, report);
  };
}

// --- containers ----------------------------------------------------------------

/** Every container is unprivileged: a privileged LXC container's root is root on the Proxmox host. */
export function validateUnprivileged(props: Props, args: ResourceValidationArgs, report: ReportViolation): void {
  if (props.unprivileged !== true) {
    report(
      `Container ${args.name} must be unprivileged (unprivileged: true); it is ${JSON.stringify(props.unprivileged ?? "privileged (unset)")}. ` +
        "A privileged LXC container runs as root of the Proxmox host.",
    );
  }
}

/** Runner containers are at least as big as the config allows (2 cores, 2048 MB, 20 GB). */
export function validateRunnerSize(props: Props, args: ResourceValidationArgs, report: ReportViolation): void {
  if (!isRunnerContainer(args.type, args.urn)) return;
  const cores = obj(props.cpu).cores;
  const memory = obj(props.memory).dedicated;
  const disk = obj(props.disk).size;
  const below = (value: unknown, floor: number) => typeof value !== "number" || value < floor;
  if (below(cores, RUNNER_FLOORS.cores)) {
    report(
      `Runner ${args.name} has ${shown(cores)} CPU cores (cpu.cores); runners need at least ${RUNNER_FLOORS.cores}.`,
    );
  }
  if (below(memory, RUNNER_FLOORS.memoryMb)) {
    report(
      `Runner ${args.name} has ${shown(memory)} MB of memory (memory.dedicated); runners need at least ${RUNNER_FLOORS.memoryMb} MB.`,
    );
  }
  if (below(disk, RUNNER_FLOORS.diskGb)) {
    report(
      `Runner ${args.name} has a ${shown(disk)} GB disk (disk.size); runners need at least ${RUNNER_FLOORS.diskGb} GB.`,
    );
  }
}

/**
 * Nesting and keyctl let jobs run Docker, and widen what a job's code can
 * reach of the kernel: a runner container gets them only when it carries
 * the docker-in-jobs tag, which the program sets from `dockerInJobs: true`.
 * (The stats container's nesting is not covered: it runs no job code.)
 */
export function validateDockerFeatures(props: Props, args: ResourceValidationArgs, report: ReportViolation): void {
  if (!isRunnerContainer(args.type, args.urn)) return;
  const features = obj(props.features);
  const on = (["nesting", "keyctl"] as const).filter((f) => features[f] === true);
  const declared = list(props.tags).includes(DOCKER_TAG);
  if (on.length > 0 && !declared) {
    report(
      `Runner ${args.name} turns on ${on.join(" and ")} without the "${DOCKER_TAG}" tag. ` +
        "These features are for Docker in jobs only: set cco-infra:dockerInJobs to true (which tags the container), or turn them off.",
    );
  }
}

// --- the fleet -------------------------------------------------------------------

function runnerContainers(resources: PolicyResource[]): PolicyResource[] {
  return resources.filter((r) => isRunnerContainer(r.type, r.urn));
}

/** The stack has 4 to 10 runner containers: those of Runner components (the fleet itself). */
export function validateRunnerCount(args: StackValidationArgs, report: ReportViolation): void {
  const count = args.resources.filter(
    (r) => r.type === TYPES.container && ancestorTypesOf(r.urn).includes(TYPES.runner),
  ).length;
  if (count < RUNNER_COUNT.min || count > RUNNER_COUNT.max) {
    report(
      `The stack declares ${count} runner containers; the fleet must have ${RUNNER_COUNT.min} to ${RUNNER_COUNT.max} (cco-infra:runnerCount).`,
    );
  }
}

/**
 * Every runner container sits behind its Proxmox firewall and is provisioned
 * with its egress allowlist:
 * - each network interface has `firewall: true` (otherwise the firewall does
 *   not filter it);
 * - a firewall options resource for its vmId on its node is enabled, and drops
 *   (DROP or REJECT) what its rules do not allow, in and out;
 * - its provisioning command (`<runner>-provision`, a child of the same
 *   parent as the container) runs provision.sh, which installs and starts cco-egress.service
 *   before the runner service.
 */
export function validateRunnerIsolation(args: StackValidationArgs, report: ReportViolation): void {
  const options = args.resources.filter((r) => r.type === TYPES.firewallOptions);
  for (const c of runnerContainers(args.resources)) {
    const name = c.name;
    const vmId = known((): unknown => c.props.vmId);
    const node = known((): unknown => c.props.nodeName);

    const nics = list(known((): unknown => c.props.networkInterfaces));
    if (nics.length === 0 || nics.some((n) => obj(n).firewall !== true)) {
      report(
        `Runner ${name}: every network interface needs firewall: true, or the Proxmox firewall does not filter its traffic.`,
        c.urn,
      );
    }

    const mine = options.filter((o) => {
      const id = known((): unknown => o.props.containerId);
      const on = known((): unknown => o.props.nodeName);
      // Not known in a first preview (the id may come from the container): matched by parent then.
      if (id === UNKNOWN || vmId === UNKNOWN) return o.parent !== undefined && o.parent.urn === c.parent?.urn;
      return id === vmId && (on === UNKNOWN || node === UNKNOWN || on === node);
    });
    if (mine.length === 0) {
      report(
        `Runner ${name} (vmId ${shown(vmId, "?")}) has no Proxmox firewall options (${TYPES.firewallOptions}) with containerId ${shown(vmId, "?")}.`,
        c.urn,
      );
    }
    for (const o of mine) {
      const enabled = known((): unknown => o.props.enabled);
      if (enabled !== UNKNOWN && enabled !== true) {
        report(`Runner ${name}: its Proxmox firewall (${o.name}) must be enabled (enabled: true).`, o.urn);
      }
      for (const [key, fallback] of [
        ["inputPolicy", "DROP"],
        ["outputPolicy", "ACCEPT"],
      ] as const) {
        // Proxmox's own defaults apply when unset: DROP in, ACCEPT out.
        const value = known((): unknown => o.props[key]);
        const effective = value === undefined || value === null ? fallback : value;
        if (effective !== UNKNOWN && effective !== "DROP" && effective !== "REJECT") {
          report(
            `Runner ${name}: its Proxmox firewall (${o.name}) must drop what its rules do not allow: ${key} is ${shown(effective)}, expected DROP.`,
            o.urn,
          );
        }
      }
    }

    const provision = args.resources.find(
      (r) =>
        r.type === TYPES.remoteCommand &&
        r.name === `${name}-provision` &&
        r.parent !== undefined &&
        r.parent.urn === c.parent?.urn,
    );
    if (provision === undefined) {
      report(
        `Runner ${name} has no provisioning step (${TYPES.remoteCommand} "${name}-provision" beside the container): its egress allowlist would never be installed.`,
        c.urn,
      );
      continue;
    }
    const create = known((): unknown => provision.props.create);
    if (create !== UNKNOWN && !(typeof create === "string" && /(^|[\s/])provision\.sh(\s|$|&|;)/.test(create))) {
      report(
        `Runner ${name}: ${provision.name} must run provision.sh (which installs cco-egress.service); it runs ${JSON.stringify(create)}.`,
        provision.urn,
      );
    }
  }
}

// --- the repository ----------------------------------------------------------------

/** The repository is private. */
export function validateRepositoryPrivate(props: Props, args: ResourceValidationArgs, report: ReportViolation): void {
  // `private` is the provider's deprecated spelling; visibility wins when both are set.
  const visibility = props.visibility ?? (props.private === true ? "private" : undefined);
  if (visibility !== "private") {
    report(
      `Repository ${shown(props.name ?? args.name)} must be private (visibility: "private"); it is ${JSON.stringify(visibility ?? "public (unset)")}.`,
    );
  }
}

function protectsMainWithReview(r: PolicyResource): boolean | typeof UNKNOWN {
  if (r.type === TYPES.branchProtection) {
    const pattern = known((): unknown => r.props.pattern);
    const reviews = known(() => list(r.props.requiredPullRequestReviews));
    if (pattern === UNKNOWN || reviews === UNKNOWN) return UNKNOWN;
    return pattern === PROTECTED_BRANCH && reviews.some((x) => Number(obj(x).requiredApprovingReviewCount ?? 0) >= 1);
  }
  const enforcement = known((): unknown => r.props.enforcement);
  const target = known((): unknown => r.props.target);
  const includes = known(() => list(obj(obj(r.props.conditions).refName).includes));
  const excludes = known(() => list(obj(obj(r.props.conditions).refName).excludes));
  const count = known(() => obj(obj(r.props.rules).pullRequest).requiredApprovingReviewCount);
  if ([enforcement, target, includes, excludes, count].includes(UNKNOWN)) return UNKNOWN;
  const names = ["~DEFAULT_BRANCH", "~ALL", `refs/heads/${PROTECTED_BRANCH}`];
  const covers = (l: unknown) => (l as unknown[]).some((x) => names.includes(String(x)));
  return (
    enforcement === "active" && target === "branch" && covers(includes) && !covers(excludes) && Number(count ?? 0) >= 1
  );
}

/**
 * main of every repository is protected with at least one approving review:
 * a BranchProtection with pattern main, or an active branch ruleset on the
 * default branch, declared beside the repository (same parent).
 */
export function validateMainProtected(args: StackValidationArgs, report: ReportViolation): void {
  const guards = args.resources.filter((r) => r.type === TYPES.branchProtection || r.type === TYPES.ruleset);
  for (const repo of args.resources.filter((r) => r.type === TYPES.repository)) {
    const beside = guards.filter((g) => g.parent?.urn === repo.parent?.urn);
    const verdicts = beside.map(protectsMainWithReview);
    if (verdicts.includes(true) || verdicts.includes(UNKNOWN)) continue;
    const name = known((): unknown => repo.props.name);
    report(
      `Repository ${shown(name === UNKNOWN ? repo.name : name)}: ${PROTECTED_BRANCH} must be protected with at least one approving review ` +
        `(a ${TYPES.branchProtection} with pattern ${PROTECTED_BRANCH}, or an active ${TYPES.ruleset} on the default branch, with requiredApprovingReviewCount >= 1); ` +
        (beside.length === 0
          ? "none is declared."
          : `${beside.map((g) => g.name).join(", ")} do not require a review of ${PROTECTED_BRANCH}.`),
      repo.urn,
    );
  }
}

// --- provider secrets ------------------------------------------------------------

/** Names of provider settings that hold credentials (apiToken, token, password, ssh.privateKey, ...). */
export const SECRET_NAME = /(token|password|passwd|secret|private_?key|api_?key|otp|ticket|pem|credential)/i;

/** Config keys ("namespace:key") a stack file holds in clear text although their names say they are credentials. */
export function plainSecretKeys(stackFileText: string): string[] {
  const doc = (parseYaml(stackFileText) ?? {}) as { config?: Record<string, unknown> };
  const plain: string[] = [];
  const walk = (key: string, value: unknown, path: string[]) => {
    if (value === null || value === undefined) return;
    if (typeof value === "object" && !Array.isArray(value)) {
      const o = value as Props;
      if ("secure" in o && Object.keys(o).length === 1) return;
      for (const [k, v] of Object.entries(o)) walk(key, v, [...path, k]);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(key, v, [...path, String(i)]));
      return;
    }
    const name = [key.split(":").pop() ?? key, ...path].join(".");
    if (SECRET_NAME.test(name) && value !== "") plain.push([key, ...path].join("."));
  };
  for (const [key, value] of Object.entries(doc.config ?? {})) walk(key, value, []);
  return plain;
}

/** Where the stack's committed config is: the stack the CLI runs (PULUMI_STACK) beside Pulumi.yaml. */
export interface StackConfigSource {
  /** The stack file's name and text, or undefined when the stack is not known. */
  read(): { path: string; text: string } | undefined;
}

/** The project is the nearest directory above the pack with a Pulumi.yaml. */
export function projectStackFile(stack = process.env.PULUMI_STACK, from = __dirname): StackConfigSource {
  return {
    read() {
      if (!stack) return undefined;
      let dir = from;
      for (;;) {
        try {
          readFileSync(join(dir, "Pulumi.yaml"));
          const path = join(dir, `Pulumi.${stack.split("/").pop()}.yaml`);
          try {
            return { path, text: readFileSync(path, "utf8") };
          } catch {
            return { path, text: "" };
          }
        } catch {
          const up = dirname(dir);
          if (up === dir) return undefined;
          dir = up;
        }
      }
    },
  };
}

/**
 * No provider credential in plain config. @pulumi/policy hands validations
 * every value opened, secret or not (only remediations see which are secret),
 * so this reads the stack's committed config file, as the CLI runs it: a
 * credential-named key there must be a `secure:` value (`pulumi config set
 * --secret`). Providers are named: a provider resource with a credential set
 * whose config key is in clear is reported on that provider.
 */
export function secretsPolicyValidation(source: StackConfigSource) {
  return (args: StackValidationArgs, report: ReportViolation): void => {
    const file = source.read();
    if (file === undefined) {
      args.notApplicable("the stack is not known (PULUMI_STACK is unset), so its config file cannot be read");
    }
    const plain = plainSecretKeys(file.text);
    const reported = new Set<string>();
    for (const p of args.resources.filter((r) => r.type.startsWith("pulumi:providers:"))) {
      const pkg = p.type.slice("pulumi:providers:".length);
      for (const key of plain.filter((k) => k.startsWith(`${pkg}:`))) {
        report(
          `Provider ${pkg} takes ${key} from ${file.path} in clear text; set it with \`pulumi config set --secret ${key.split(".")[0]}\`.`,
          p.urn,
        );
        reported.add(key);
      }
    }
    for (const key of plain.filter((k) => !reported.has(k))) {
      report(
        `${key} is a credential held in clear text in ${file.path}; set it with \`pulumi config set --secret ${key.split(".")[0]}\`.`,
      );
    }
  };
}

// --- the pack ------------------------------------------------------------------------

export function policies(
  secrets: StackConfigSource = projectStackFile(),
): (ResourceValidationPolicy | StackValidationPolicy)[] {
  return [
    {
      name: "containers-unprivileged",
      description: "Every Proxmox container is unprivileged.",
      enforcementLevel: "mandatory",
      validateResource: onlyType(TYPES.container, validateUnprivileged),
    },
    {
      name: "runner-size-floors",
      description: `Runner containers have at least ${RUNNER_FLOORS.cores} cores, ${RUNNER_FLOORS.memoryMb} MB of memory and a ${RUNNER_FLOORS.diskGb} GB disk.`,
      enforcementLevel: "mandatory",
      validateResource: onlyType(TYPES.container, validateRunnerSize),
    },
    {
      name: "runner-docker-features-declared",
      description: `Runner containers get nesting and keyctl only when they carry the ${DOCKER_TAG} tag (cco-infra:dockerInJobs).`,
      enforcementLevel: "mandatory",
      validateResource: onlyType(TYPES.container, validateDockerFeatures),
    },
    {
      name: "runner-count-in-range",
      description: `The fleet has ${RUNNER_COUNT.min} to ${RUNNER_COUNT.max} runner containers.`,
      enforcementLevel: "mandatory",
      validateStack: validateRunnerCount,
    },
    {
      name: "runner-firewall-and-egress",
      description:
        "Every runner container has its Proxmox firewall enabled (dropping by default) on every interface, and its provisioning step with the egress allowlist.",
      enforcementLevel: "mandatory",
      validateStack: validateRunnerIsolation,
    },
    {
      name: "repository-private",
      description: "The GitHub repository is private.",
      enforcementLevel: "mandatory",
      validateResource: onlyType(TYPES.repository, validateRepositoryPrivate),
    },
    {
      name: "main-protected-with-review",
      description: `${PROTECTED_BRANCH} is protected and needs at least one approving review (branch protection or ruleset).`,
      enforcementLevel: "mandatory",
      validateStack: validateMainProtected,
    },
    {
      name: "provider-secrets-encrypted",
      description: "No provider credential (token, password, key) is kept in clear text in the stack's config.",
      enforcementLevel: "mandatory",
      validateStack: secretsPolicyValidation(secrets),
    },
  ];
}
