import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig, REQUIRED_SECRETS } from "../../../infra/config";
import { SecretValue } from "../../../infra/plan/recorder";
import {
  DOCKER_TAG,
  plainSecretKeys,
  policies,
  projectStackFile,
  RUNNER_COUNT,
  RUNNER_FLOORS,
  TYPES,
  type StackConfigSource,
} from "../../../infra/policy/policies";
import { DOCKER_TAG as PROGRAM_DOCKER_TAG } from "../../../infra/runners/fleet";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { withNodeHosts } from "../../helpers/program";
import { evaluate, planFor, type PackResource, type Violation } from "../../helpers/policy";

const STACK = "prod";
const PROJECT = "cco-infra";
const urn = (chain: string, name: string) => `urn:pulumi:${STACK}::${PROJECT}::${chain}::${name}`;
const RUNNER_CHAIN = "cco:runners:RunnerFleet$cco:runners:Runner";
/** A runner's container, firewall and provisioning live in its ProvisionedContainer. */
const BOX_CHAIN = `${RUNNER_CHAIN}$cco:proxmox:ProvisionedContainer`;

/** No stack file: the secrets policy is not applicable unless a test gives one. */
const NO_STACK: StackConfigSource = { read: () => undefined };
const stackText = (text: string): StackConfigSource => ({ read: () => ({ path: "Pulumi.test.yaml", text }) });

/** A runner as the program declares it: components, container, firewall options, provisioning. */
function runner(
  n: number,
  over: {
    container?: Record<string, unknown>;
    firewall?: Record<string, unknown> | null;
    provision?: Record<string, unknown> | null;
  } = {},
): PackResource[] {
  const name = `runner-${String(n).padStart(2, "0")}`;
  const component = urn(RUNNER_CHAIN, name);
  const parent = urn(BOX_CHAIN, name);
  const vmId = 199 + n;
  const out: PackResource[] = [
    { type: TYPES.runner, name, urn: component, parent: urn("cco:runners:RunnerFleet", "fleet"), props: {} },
    { type: "cco:proxmox:ProvisionedContainer", name, urn: parent, parent: component, props: {} },
    {
      type: TYPES.container,
      name,
      urn: urn(`${BOX_CHAIN}$${TYPES.container}`, name),
      parent,
      props: {
        nodeName: "pve",
        vmId,
        unprivileged: true,
        tags: ["cco", "runner", "prod"],
        cpu: { cores: 4 },
        memory: { dedicated: 8192, swap: 1024 },
        disk: { size: 50, datastoreId: "local-lvm" },
        features: { nesting: false, keyctl: false },
        networkInterfaces: [{ name: "eth0", bridge: "vmbr0", firewall: true }],
        ...over.container,
      },
    },
  ];
  if (over.firewall !== null) {
    out.push({
      type: TYPES.firewallOptions,
      name: `${name}-firewall`,
      urn: urn(`${BOX_CHAIN}$${TYPES.firewallOptions}`, `${name}-firewall`),
      parent,
      props: {
        nodeName: "pve",
        containerId: vmId,
        enabled: true,
        inputPolicy: "DROP",
        outputPolicy: "DROP",
        ...over.firewall,
      },
    });
  }
  if (over.provision !== null) {
    out.push({
      type: TYPES.remoteCommand,
      name: `${name}-provision`,
      urn: urn(`${BOX_CHAIN}$${TYPES.remoteCommand}`, `${name}-provision`),
      parent,
      props: { create: "bash /root/cco-provision-0123456789abcdef/provision.sh && find /root ...", ...over.provision },
    });
  }
  return out;
}

function fleet(count: number): PackResource[] {
  return Array.from({ length: count }, (_, i) => runner(i + 1)).flat();
}

function repository(over: { repo?: Record<string, unknown>; protection?: PackResource | null } = {}): PackResource[] {
  const parent = urn("cco:github:Repository", "cco");
  const out: PackResource[] = [
    { type: "cco:github:Repository", name: "cco", urn: parent, parent: undefined, props: {} },
    {
      type: TYPES.repository,
      name: "cco",
      urn: urn(`cco:github:Repository$${TYPES.repository}`, "cco"),
      parent,
      props: { name: "cco", visibility: "private", ...over.repo },
    },
  ];
  if (over.protection !== null) {
    out.push(
      over.protection ?? {
        type: TYPES.branchProtection,
        name: "cco-protect-main",
        urn: urn(`cco:github:Repository$${TYPES.branchProtection}`, "cco-protect-main"),
        parent,
        props: {
          pattern: "main",
          requiredPullRequestReviews: [{ requiredApprovingReviewCount: 1, dismissStaleReviews: true }],
        },
      },
    );
  }
  return out;
}

async function violationsOf(resources: PackResource[], source: StackConfigSource = NO_STACK): Promise<Violation[]> {
  return evaluate(policies(source), resources);
}

const only = (vs: Violation[], policy: string) => vs.filter((v) => v.policy === policy);

describe("policy pack: each policy alone", () => {
  it("is a pack of mandatory policies", () => {
    const all = policies(NO_STACK);
    expect(all.map((p) => p.name)).to.have.members([
      "containers-unprivileged",
      "runner-size-floors",
      "runner-docker-features-declared",
      "runner-count-in-range",
      "runner-firewall-and-egress",
      "repository-private",
      "main-protected-with-review",
      "provider-secrets-encrypted",
    ]);
    for (const p of all) expect(p.enforcementLevel, p.name).to.equal("mandatory");
  });

  it("accepts a well-formed stack", async () => {
    expect(await violationsOf([...fleet(4), ...repository()])).to.deep.equal([]);
  });

  describe("containers-unprivileged", () => {
    it("rejects a privileged container, and one that does not say", async () => {
      for (const unprivileged of [false, undefined]) {
        const vs = only(
          await violationsOf([...runner(1, { container: { unprivileged } }), ...fleet(4).slice(0)]),
          "containers-unprivileged",
        );
        expect(vs).to.have.length(1);
        expect(vs[0]!.message).to.match(/^Container runner-01 must be unprivileged \(unprivileged: true\)/);
      }
    });

    it("applies to every container, not only runners", async () => {
      const stats: PackResource = {
        type: TYPES.container,
        name: "cco-stats",
        urn: urn(`cco:stats:StatsService$cco:proxmox:ProvisionedContainer$${TYPES.container}`, "cco-stats"),
        parent: undefined,
        props: { unprivileged: false },
      };
      expect(only(await violationsOf([stats]), "containers-unprivileged")).to.have.length(1);
      stats.props.unprivileged = true;
      expect(only(await violationsOf([stats]), "containers-unprivileged")).to.deep.equal([]);
    });
  });

  describe("runner-size-floors", () => {
    it(`accepts the floors (${RUNNER_FLOORS.cores} cores, ${RUNNER_FLOORS.memoryMb} MB, ${RUNNER_FLOORS.diskGb} GB)`, async () => {
      const r = runner(1, { container: { cpu: { cores: 2 }, memory: { dedicated: 2048 }, disk: { size: 20 } } });
      expect(only(await violationsOf(r), "runner-size-floors")).to.deep.equal([]);
    });

    it("rejects each size below its floor, naming it", async () => {
      const r = runner(1, { container: { cpu: { cores: 1 }, memory: { dedicated: 1024 }, disk: { size: 8 } } });
      const vs = only(await violationsOf(r), "runner-size-floors").map((v) => v.message);
      expect(vs).to.deep.equal([
        "Runner runner-01 has 1 CPU cores (cpu.cores); runners need at least 2.",
        "Runner runner-01 has 1024 MB of memory (memory.dedicated); runners need at least 2048 MB.",
        "Runner runner-01 has a 8 GB disk (disk.size); runners need at least 20 GB.",
      ]);
    });

    it("leaves the small stats container alone", async () => {
      const stats: PackResource = {
        type: TYPES.container,
        name: "cco-stats",
        urn: urn(`cco:stats:StatsService$cco:proxmox:ProvisionedContainer$${TYPES.container}`, "cco-stats"),
        parent: undefined,
        props: { unprivileged: true, cpu: { cores: 1 }, memory: { dedicated: 1024 }, disk: { size: 8 } },
      };
      expect(only(await violationsOf([stats]), "runner-size-floors")).to.deep.equal([]);
    });

    it("leaves the small egress gateway container alone (it runs no job code), but not its privileges", async () => {
      const gw: PackResource = {
        type: TYPES.container,
        name: "cco-gateway",
        urn: urn(`cco:egress:EgressGateway$cco:proxmox:ProvisionedContainer$${TYPES.container}`, "cco-gateway"),
        parent: undefined,
        props: {
          unprivileged: true,
          cpu: { cores: 1 },
          memory: { dedicated: 1024 },
          disk: { size: 8 },
          features: { nesting: true, keyctl: false },
        },
      };
      expect(only(await violationsOf([gw]), "runner-size-floors")).to.deep.equal([]);
      expect(only(await violationsOf([gw]), "runner-docker-features-declared")).to.deep.equal([]);
      gw.props.unprivileged = false;
      expect(only(await violationsOf([gw]), "containers-unprivileged")).to.have.length(1);
    });
  });

  describe("runner-docker-features-declared", () => {
    it("rejects nesting or keyctl on a runner without the docker-in-jobs tag", async () => {
      for (const features of [
        { nesting: true, keyctl: false },
        { nesting: false, keyctl: true },
      ]) {
        const vs = only(await violationsOf(runner(1, { container: { features } })), "runner-docker-features-declared");
        expect(vs).to.have.length(1);
        expect(vs[0]!.message).to.include(`without the "${DOCKER_TAG}" tag`).and.include("cco-infra:dockerInJobs");
      }
    });

    it("holds a container declared outside the fleet to the runners' rules", async () => {
      const stray: PackResource = {
        type: TYPES.container,
        name: "side-box",
        urn: urn(TYPES.container, "side-box"),
        parent: undefined,
        props: { unprivileged: true, features: { nesting: true } },
      };
      expect(only(await violationsOf([stray]), "runner-docker-features-declared")).to.have.length(1);
    });

    it("accepts them when the runner carries the tag", async () => {
      const r = runner(1, {
        container: { features: { nesting: true, keyctl: true }, tags: ["cco", "runner", "prod", DOCKER_TAG] },
      });
      expect(only(await violationsOf(r), "runner-docker-features-declared")).to.deep.equal([]);
    });
  });

  describe("runner-count-in-range", () => {
    for (const count of [RUNNER_COUNT.min, RUNNER_COUNT.max]) {
      it(`accepts ${count} runners`, async () => {
        expect(only(await violationsOf(fleet(count)), "runner-count-in-range")).to.deep.equal([]);
      });
    }
    for (const count of [RUNNER_COUNT.min - 1, RUNNER_COUNT.max + 1]) {
      it(`rejects ${count} runners`, async () => {
        const vs = only(await violationsOf(fleet(count)), "runner-count-in-range");
        expect(vs.map((v) => v.message)).to.deep.equal([
          `The stack declares ${count} runner containers; the fleet must have 4 to 10 (cco-infra:runnerCount).`,
        ]);
      });
    }

    it("counts only containers of Runner components", async () => {
      const stray: PackResource = {
        type: TYPES.container,
        name: "other",
        urn: urn(TYPES.container, "other"),
        parent: undefined,
        props: { unprivileged: true },
      };
      expect(only(await violationsOf([...fleet(3), stray]), "runner-count-in-range")).to.have.length(1);
    });
  });

  describe("runner-firewall-and-egress", () => {
    const check = async (r: PackResource[]) =>
      only(await violationsOf(r), "runner-firewall-and-egress").map((v) => v.message);

    it("accepts a runner with its firewall on and its provisioning step", async () => {
      expect(await check(runner(1))).to.deep.equal([]);
    });

    it("rejects a runner without firewall options, or with options for another container", async () => {
      expect(await check(runner(1, { firewall: null }))).to.deep.equal([
        "Runner runner-01 (vmId 200) has no Proxmox firewall options (proxmoxve:firewall/optionsLegacy:OptionsLegacy) with containerId 200.",
      ]);
      expect(await check(runner(1, { firewall: { containerId: 999 } }))).to.have.length(1);
      expect(await check(runner(1, { firewall: { nodeName: "pve2" } }))).to.have.length(1);
    });

    it("rejects a firewall that is off, or that lets traffic through by default", async () => {
      expect(await check(runner(1, { firewall: { enabled: false } }))).to.deep.equal([
        "Runner runner-01: its Proxmox firewall (runner-01-firewall) must be enabled (enabled: true).",
      ]);
      expect(await check(runner(1, { firewall: { outputPolicy: "ACCEPT" } }))).to.deep.equal([
        "Runner runner-01: its Proxmox firewall (runner-01-firewall) must drop what its rules do not allow: outputPolicy is ACCEPT, expected DROP.",
      ]);
      // Unset: Proxmox's defaults, DROP in and ACCEPT out.
      expect(await check(runner(1, { firewall: { inputPolicy: undefined } }))).to.deep.equal([]);
      expect(await check(runner(1, { firewall: { outputPolicy: undefined } }))).to.have.length(1);
    });

    it("rejects a network interface the firewall does not filter", async () => {
      const r = runner(1, { container: { networkInterfaces: [{ name: "eth0", bridge: "vmbr0", firewall: false }] } });
      expect(await check(r)).to.deep.equal([
        "Runner runner-01: every network interface needs firewall: true, or the Proxmox firewall does not filter its traffic.",
      ]);
    });

    it("rejects a runner without its provisioning (egress) step, or one that does not run provision.sh", async () => {
      expect(await check(runner(1, { provision: null }))).to.deep.equal([
        'Runner runner-01 has no provisioning step (command:remote:Command "runner-01-provision" beside the container): its egress allowlist would never be installed.',
      ]);
      expect(await check(runner(1, { provision: { create: "true" } }))).to.deep.equal([
        'Runner runner-01: runner-01-provision must run provision.sh (which installs cco-egress.service); it runs "true".',
      ]);
    });

    it("does not take another runner's firewall or provisioning for its own", async () => {
      const two = [...runner(1, { firewall: null, provision: null }), ...runner(2)];
      expect(await check(two)).to.have.length(2);
    });
  });

  describe("repository-private", () => {
    it("accepts a private repository", async () => {
      expect(only(await violationsOf(repository()), "repository-private")).to.deep.equal([]);
      expect(
        only(await violationsOf(repository({ repo: { visibility: undefined, private: true } })), "repository-private"),
      ).to.deep.equal([]);
    });

    it("rejects a public or internal one, and one that does not say", async () => {
      for (const visibility of ["public", "internal", undefined]) {
        const vs = only(await violationsOf(repository({ repo: { visibility } })), "repository-private");
        expect(vs).to.have.length(1);
        expect(vs[0]!.message).to.match(/^Repository cco must be private \(visibility: "private"\)/);
      }
    });
  });

  describe("main-protected-with-review", () => {
    const parent = urn("cco:github:Repository", "cco");
    const ruleset = (props: Record<string, unknown>): PackResource => ({
      type: TYPES.ruleset,
      name: "cco-protect-main",
      urn: urn(`cco:github:Repository$${TYPES.ruleset}`, "cco-protect-main"),
      parent,
      props: {
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: ["~DEFAULT_BRANCH"], excludes: [] } },
        rules: { pullRequest: { requiredApprovingReviewCount: 1 } },
        ...props,
      },
    });
    const check = async (r: PackResource[]) =>
      only(await violationsOf(r), "main-protected-with-review").map((v) => v.message);

    it("accepts branch protection or a ruleset with a required review", async () => {
      expect(await check(repository())).to.deep.equal([]);
      expect(await check(repository({ protection: ruleset({}) }))).to.deep.equal([]);
    });

    it("rejects a repository without protection", async () => {
      const vs = await check(repository({ protection: null }));
      expect(vs).to.have.length(1);
      expect(vs[0]).to.match(
        /^Repository cco: main must be protected with at least one approving review .* none is declared\.$/,
      );
    });

    it("rejects protection that needs no review, or protects another branch", async () => {
      const protection = (props: Record<string, unknown>): PackResource => ({ ...repository()[2]!, props });
      expect(
        await check(repository({ protection: protection({ pattern: "main", requiredPullRequestReviews: [] }) })),
      ).to.have.length(1);
      expect(
        await check(
          repository({
            protection: protection({
              pattern: "main",
              requiredPullRequestReviews: [{ requiredApprovingReviewCount: 0 }],
            }),
          }),
        ),
      ).to.have.length(1);
      expect(
        await check(
          repository({
            protection: protection({
              pattern: "dev",
              requiredPullRequestReviews: [{ requiredApprovingReviewCount: 1 }],
            }),
          }),
        ),
      ).to.have.length(1);
      expect(await check(repository({ protection: ruleset({ enforcement: "evaluate" }) }))).to.have.length(1);
      expect(
        await check(
          repository({ protection: ruleset({ rules: { pullRequest: { requiredApprovingReviewCount: 0 } } }) }),
        ),
      ).to.have.length(1);
      expect(
        await check(
          repository({
            protection: ruleset({ conditions: { refName: { includes: ["refs/heads/release"], excludes: [] } } }),
          }),
        ),
      ).to.have.length(1);
    });
  });

  describe("provider-secrets-encrypted", () => {
    const provider: PackResource = {
      type: "pulumi:providers:proxmoxve",
      name: "default_8_6_0",
      urn: urn("pulumi:providers:proxmoxve", "default_8_6_0"),
      parent: undefined,
      props: { endpoint: "https://192.168.1.10:8006/", apiToken: "root@pam!x=1" },
    };
    const check = async (text: string) =>
      only(await violationsOf([provider], stackText(text)), "provider-secrets-encrypted");

    it("accepts credentials kept as secure values", async () => {
      expect(
        await check(
          "config:\n  proxmoxve:apiToken:\n    secure: AAABAK...\n  proxmoxve:endpoint: https://192.168.1.10:8006/\n",
        ),
      ).to.deep.equal([]);
    });

    it("rejects a provider credential in clear text, on the provider", async () => {
      const vs = await check("config:\n  proxmoxve:apiToken: root@pam!x=00000000-0000-0000-0000-000000000000\n");
      expect(vs).to.have.length(1);
      expect(vs[0]!.urn).to.equal(provider.urn);
      expect(vs[0]!.message).to.equal(
        "Provider proxmoxve takes proxmoxve:apiToken from Pulumi.test.yaml in clear text; set it with `pulumi config set --secret proxmoxve:apiToken`.",
      );
    });

    it("rejects any credential-named key in clear text, nested ones too", async () => {
      const vs = await check(
        "config:\n  github:token: ghp_x\n  cco-infra:sshPrivateKey: key\n  proxmoxve:ssh:\n    username: root\n    password: hunter2\n",
      );
      expect(vs.map((v) => v.message.split(" ")[0])).to.have.members([
        "Provider",
        "github:token",
        "cco-infra:sshPrivateKey",
      ]);
      expect(vs.find((v) => v.message.startsWith("Provider"))!.message).to.include("proxmoxve:ssh.password");
    });

    it("reads the committed stack file of the stack the CLI names", () => {
      const file = projectStackFile("prod").read();
      expect(file?.path).to.equal(join(PROJECT_ROOT, "Pulumi.prod.yaml"));
      expect(projectStackFile(undefined).read()).to.equal(undefined);
      expect(projectStackFile("organization/cco-infra/dev").read()?.path).to.equal(
        join(PROJECT_ROOT, "Pulumi.dev.yaml"),
      );
    });
  });
});

describe("policy pack: the committed config", () => {
  it("holds no credential in clear text in any Pulumi.*.yaml", () => {
    const files = readdirSync(PROJECT_ROOT).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f));
    expect(files).to.include.members(["Pulumi.dev.yaml", "Pulumi.prod.yaml"]);
    for (const f of files) expect(plainSecretKeys(readFileSync(join(PROJECT_ROOT, f), "utf8")), f).to.deep.equal([]);
  });

  it("has every secret the program needs named as a credential, so it could never pass in clear", () => {
    for (const key of Object.keys(REQUIRED_SECRETS))
      expect(plainSecretKeys(`config:\n  ${key}: x\n`), key).to.deep.equal([key]);
    expect(plainSecretKeys("config:\n  cco-infra:sshUser: root\n  proxmoxve:insecure: 'true'\n")).to.deep.equal([]);
  });

  it("uses the program's limits: runner count, size floors and the Docker tag", () => {
    const ok = (raw: Record<string, string>) => () => parseConfig(withNodeHosts(raw));
    expect(ok({ runnerCount: String(RUNNER_COUNT.min) })).to.not.throw();
    expect(ok({ runnerCount: String(RUNNER_COUNT.max) })).to.not.throw();
    expect(ok({ runnerCount: String(RUNNER_COUNT.min - 1) })).to.throw(/runnerCount/);
    expect(ok({ runnerCount: String(RUNNER_COUNT.max + 1) })).to.throw(/runnerCount/);
    expect(
      ok({
        runnerCores: String(RUNNER_FLOORS.cores),
        runnerMemoryMb: String(RUNNER_FLOORS.memoryMb),
        runnerDiskGb: String(RUNNER_FLOORS.diskGb),
      }),
    ).to.not.throw();
    expect(ok({ runnerCores: String(RUNNER_FLOORS.cores - 1) })).to.throw(/runnerCores/);
    expect(ok({ runnerMemoryMb: String(RUNNER_FLOORS.memoryMb - 1) })).to.throw(/runnerMemoryMb/);
    expect(ok({ runnerDiskGb: String(RUNNER_FLOORS.diskGb - 1) })).to.throw(/runnerDiskGb/);
    expect(PROGRAM_DOCKER_TAG).to.equal(DOCKER_TAG);
  });
});

describe("policy pack: the offline plan", function () {
  this.timeout(60_000);

  for (const stack of ["dev", "prod"]) {
    it(`accepts stack ${stack}: zero violations`, async () => {
      const resources = await planFor(stack);
      expect(resources.filter((r) => r.type === TYPES.firewallOptions).length).to.be.greaterThan(4);
      expect(
        resources.some((r) => r.type === "pulumi:providers:proxmoxve" && r.props.apiToken instanceof SecretValue),
      ).to.equal(true);
      expect(await evaluate(policies(projectStackFile(stack)), resources)).to.deep.equal([]);
    });
  }

  it("accepts Docker in jobs, ten runners and a ruleset", async () => {
    // Docker in jobs logs in as root@pam with its password (config.ts checkDockerLogin).
    const login = { "proxmoxve:username": "root@pam", "proxmoxve:password": "test-password" };
    const resources = await planFor("prod", {
      dockerInJobs: "true",
      runnerCount: "10",
      protectionMode: "ruleset",
      ...login,
    });
    expect(await evaluate(policies(projectStackFile("prod")), resources)).to.deep.equal([]);
  });

  it("rejects the plan when a resource is changed for the worse", async () => {
    const base = await planFor("prod");
    const mutations: Array<[string, (r: PackResource[]) => PackResource[], RegExp]> = [
      [
        "privileged container",
        (rs) => edit(rs, TYPES.container, "runner-02", (p) => (p.unprivileged = false)),
        /^Container runner-02 must be unprivileged/,
      ],
      [
        "nesting without Docker",
        (rs) => edit(rs, TYPES.container, "runner-01", (p) => (p.features = { nesting: true, keyctl: false })),
        /^Runner runner-01 turns on nesting without the "docker-in-jobs" tag/,
      ],
      [
        "small runner",
        (rs) => edit(rs, TYPES.container, "runner-03", (p) => (p.memory = { dedicated: 1024 })),
        /^Runner runner-03 has 1024 MB of memory/,
      ],
      [
        "firewall off",
        (rs) => edit(rs, TYPES.firewallOptions, "runner-04-firewall", (p) => (p.enabled = false)),
        /^Runner runner-04: its Proxmox firewall \(runner-04-firewall\) must be enabled/,
      ],
      [
        "firewall gone",
        (rs) => rs.filter((r) => r.name !== "runner-01-firewall"),
        /^Runner runner-01 \(vmId 200\) has no Proxmox firewall options/,
      ],
      [
        "provisioning gone",
        (rs) => rs.filter((r) => r.name !== "runner-02-provision"),
        /^Runner runner-02 has no provisioning step/,
      ],
      [
        "public repository",
        (rs) => edit(rs, TYPES.repository, "cco", (p) => (p.visibility = "public")),
        /^Repository cco must be private/,
      ],
      [
        "unprotected main",
        (rs) => rs.filter((r) => r.type !== TYPES.branchProtection),
        /^Repository cco: main must be protected/,
      ],
      [
        "three runners",
        (rs) => rs.filter((r) => !r.urn.includes("cco:runners:Runner$") || !/runner-04/.test(r.name)),
        /^The stack declares 3 runner containers/,
      ],
    ];
    for (const [what, mutate, expected] of mutations) {
      const vs = await evaluate(policies(projectStackFile("prod")), mutate(copy(base)));
      expect(
        vs.map((v) => v.message),
        what,
      ).to.have.length.greaterThan(0);
      expect(
        vs.some((v) => expected.test(v.message)),
        `${what}: ${JSON.stringify(vs)}`,
      ).to.equal(true);
    }
  });

  it("rejects the plan of a stack file with a provider credential in clear text", async () => {
    const resources = await planFor("prod");
    const text = `${readFileSync(join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8")}  proxmoxve:apiToken: root@pam!cco=00000000-0000-0000-0000-000000000000\n`;
    const vs = await evaluate(policies(stackText(text)), resources);
    expect(vs.map((v) => v.message)).to.deep.equal([
      "Provider proxmoxve takes proxmoxve:apiToken from Pulumi.test.yaml in clear text; set it with `pulumi config set --secret proxmoxve:apiToken`.",
    ]);
  });
});

/** A copy of the plan to edit: plain data copied, recorded values (secrets, assets) shared. */
function copy(rs: PackResource[]): PackResource[] {
  const deep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(deep);
    if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]));
  };
  return rs.map((r) => ({ ...r, props: deep(r.props) as Record<string, unknown> }));
}

/** Changes the props of the resource of that type and name (a copy of the plan is edited). */
function edit(
  rs: PackResource[],
  type: string,
  name: string,
  change: (props: Record<string, unknown>) => void,
): PackResource[] {
  const r = rs.find((x) => x.type === type && x.name === name);
  if (!r) throw new Error(`no ${type} ${name} in the plan`);
  change(r.props);
  return rs;
}
