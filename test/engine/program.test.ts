/**
 * Engine layer: the real program (index.ts) under the real CLI, as an
 * Automation API inline program (tools/pulumi/inline.ts): the CLI merges the
 * stack's config with Pulumi.yaml's, decrypts it, hands it to the program and
 * registers what the program declares, exactly as in `pulumi preview`. What it
 * cannot do here is load a resource provider plugin: none of the four the
 * SDKs pin can be built on this machine (docs/engine.md). So:
 *
 * - a config the program refuses is refused under the real CLI with the
 *   offline plan's message (`npm run plan -- --set ...`), and the engine
 *   registers nothing but the stack and loads no provider;
 * - a config it takes gets as far as the engine goes without plugins: the
 *   components are registered with the offline plan's URNs, types and
 *   parents, and the run stops at the first provider load with the engine's
 *   own message naming a provider at the version package.json pins.
 *
 * Nothing is downloaded: PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
 * (cli.ts) makes loadProvider return the MissingError instead of calling
 * InstallPlugin (pkg/resource/deploy/providers/registry.go of pulumi
 * v3.248.0), PULUMI_HOME is the test's own, and as root the run has no
 * network but loopback (test/helpers/engine.ts).
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ANALYZER_DIR, PROJECT_ROOT } from "../../tools/pulumi/cli";
import { engineErrors, registered, useEngine, type ProgramRun } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";
import { runPlan as plan } from "../helpers/tool";

const dependencies = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }
).dependencies;

/** Each provider SDK the program uses, as package.json pins it. */
const SDKS = ["@muhlba91/pulumi-proxmoxve", "@pulumi/github", "@pulumi/command", "@pulumi/random"];

/** What each SDK asks the engine for: its plugin's name, version and download server (the `pulumi` block of its package.json). */
const PROVIDERS = SDKS.map((sdk) => {
  const meta = (
    JSON.parse(readFileSync(join(PROJECT_ROOT, "node_modules", sdk, "package.json"), "utf8")) as {
      pulumi: { name: string; version: string; server?: string };
    }
  ).pulumi;
  expect(meta.version, `${sdk}'s plugin version is package.json's pin`).to.equal(dependencies[sdk]);
  return meta;
});

/**
 * The engine's MissingError for a resource plugin (sdk/go/common/workspace/plugins.go,
 * MissingError.Error, v3.248.0): " from <server>" is added when the SDK names a download server.
 */
const missingPlugin = ({ name, version, server }: { name: string; version: string; server?: string }) =>
  `no resource plugin 'pulumi-resource-${name}' found in the workspace at version v${version} or on your $PATH${server ? ` from ${server}` : ""}`;

/** Every provider endpoint on loopback, port 9 (nothing listens): the stack files name a LAN host, which is never contacted. */
const LOOPBACK = { "proxmoxve:endpoint": "https://127.0.0.1:9/", "github:baseUrl": "http://127.0.0.1:9/" };

interface PlanJson {
  type: string;
  urn: string;
  parent: string | null;
}

const plans = new Map<string, Promise<PlanJson[]>>();

/** The offline plan's resources for the stack, with the secrets the engine test sets (run once per stack). */
function offlinePlan(stack: string): Promise<PlanJson[]> {
  if (!plans.has(stack)) plans.set(stack, runPlan(stack));
  return plans.get(stack)!;
}

async function runPlan(stack: string): Promise<PlanJson[]> {
  const secrets = Object.entries(TEST_SECRETS).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
  const r = await plan("--stack", stack, "--json", ...secrets);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as PlanJson[];
}

/** The plan's refusal of a config: its first line of stderr (the second says nothing was planned). */
async function planRefusal(stack: string, set: Record<string, string>): Promise<string> {
  const r = await plan("--stack", stack, ...Object.entries(set).flatMap(([k, v]) => ["--set", `${k}=${v}`]));
  expect(r.code, r.stdout + r.stderr).to.equal(2);
  expect(r.stderr).to.include("Nothing was planned: 0 resources declared.");
  return r.stderr.split("\n")[0]!;
}

const STACK_TYPE = "pulumi:pulumi:Stack";

describe("engine: the real program under the real CLI (inline program, no language host)", function () {
  this.timeout(300_000);
  const e = useEngine();
  const times: number[] = [];
  let offline = false;

  async function run(stack: string, plain: Record<string, string> = {}, policyPack?: string): Promise<ProgramRun> {
    e.stack(stack, TEST_SECRETS, { ...LOOPBACK, ...plain });
    const r = await e.program(stack, { policyPack });
    times.push(r.seconds);
    offline = r.offline;
    return r;
  }

  /** Nothing was downloaded: the test's PULUMI_HOME holds no plugin. */
  function nothingInstalled(): void {
    const plugins = join(e.ws.dir, "home", "plugins");
    expect(readdirSync(join(e.ws.dir, "home")).includes("plugins") ? readdirSync(plugins) : []).to.deep.equal([]);
  }

  after(() => {
    if (times.length > 0)
      console.log(
        `      ${times.length} engine runs${offline ? " (no network but loopback)" : ""}: ${times.map((t) => t.toFixed(1)).join(", ")} s`,
      );
  });

  // The refusals the offline plan makes, each set on the stack with `pulumi config set`.
  // The program refuses on values (infra/config.ts), so the CLI's copying of
  // Pulumi.yaml's defaults into the stack config (finding 3) must not hide
  // runnerVersion raised without runnerSha256, nor nodeVersion without nodeSha256.
  const REFUSED: [stack: string, set: Record<string, string>, why: string][] = [
    ["dev", { "cco-infra:runnerCount": "11" }, "more runners than the ten reserved"],
    ["prod", { "cco-infra:runnerCount": "11" }, "more runners than the ten reserved"],
    [
      "dev",
      { "cco-infra:dockerInJobs": "true" },
      "keyctl (a feature beyond nesting) with an API token, which Proxmox refuses",
    ],
    [
      "prod",
      { "cco-infra:dockerInJobs": "true" },
      "keyctl (a feature beyond nesting) with an API token, which Proxmox refuses",
    ],
    [
      "dev",
      { "cco-infra:adminCidr": "0.0.0.0/0" },
      "SSH and the stats port open to any address without adminCidrAnywhere",
    ],
    [
      "dev",
      { "cco-infra:runnerVersion": "2.330.0" },
      "runnerVersion raised alone: the CLI hands over the old default runnerSha256 (finding 3)",
    ],
    [
      "prod",
      { "cco-infra:nodeVersion": "22.22.0" },
      "nodeVersion raised alone: the CLI hands over the old default nodeSha256 (finding 3)",
    ],
    // The CLI checks no undeclared key of the project's namespace: the program must.
    [
      "dev",
      {
        "cco-infra:sshPublicKey":
          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB57RW9d/UH86wa7SOv4EQ9hjvlT9Pb9ClYl62A1YGgJ old",
      },
      "the removed sshPublicKey still set",
    ],
  ];
  for (const [stack, set, why] of REFUSED) {
    const edit = Object.entries(set)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    it(`${stack}, ${edit} (${why}): refused with the offline plan's message, only the stack registered, no provider loaded`, async () => {
      // The plan and the engine run at once: each process waits on its own child a good part of the time.
      const [expected, r] = await Promise.all([
        planRefusal(stack, { ...set, "proxmoxve:apiToken": TEST_SECRETS["proxmoxve:apiToken"]! }),
        run(stack, set),
      ]);
      expect(expected).to.match(/^Invalid config cco-infra:\w+ = /);
      expect(r.status, r.output).to.equal(1);
      expect(engineErrors(r), r.output).to.include(expected);
      expect(r.output).to.include(`error: ${expected}`);
      expect(registered(r).map((x) => x.type)).to.deep.equal([STACK_TYPE]);
      expect(r.output).to.not.include("resource plugin");
      // The summary's result is in the engine's JSON (apitype.SummaryEvent) but not in the SDK's typings.
      expect(
        r.events.some((ev) => (ev.summaryEvent as { result?: string } | undefined)?.result === "failed"),
        "the engine's summary says failed",
      ).to.equal(true);
      nothingInstalled();
    });
  }

  /**
   * A config the program takes: the engine registers the stack and components
   * (which need no provider) until the first custom resource needs its
   * provider's plugin. Which components it sees is a race between the
   * program's registrations and that failure, so the test holds each one it
   * saw against the plan, and requires at least one (the parent of the custom
   * resource that failed) and that no custom resource sits at the top level.
   */
  function reachesTheProviders(r: ProgramRun, planned: PlanJson[], stack: string): void {
    expect(r.status, r.output).to.equal(1);
    const seen = registered(r);
    const [root, ...components] = seen;
    expect(root).to.deep.include({
      type: STACK_TYPE,
      urn: `urn:pulumi:${stack}::cco-infra::${STACK_TYPE}::cco-infra-${stack}`,
    });
    const byUrn = new Map(planned.map((p) => [p.urn, p]));
    const parentOf = (p: PlanJson) => {
      // The plan names the parent by name; its URN is this URN's without the last type and the name.
      const m = /^(urn:pulumi:[^:]+::[^:]+::)(.*)\$[^$]+::[^:]+$/.exec(p.urn);
      return m ? `${m[1]}${m[2]}::${p.parent}` : root!.urn;
    };
    for (const c of components) {
      const p = byUrn.get(c.urn);
      expect(p, `the plan has ${c.urn}`).to.not.equal(undefined);
      expect(c.custom, `${c.urn} is a component`).to.equal(false);
      expect(c.type).to.equal(p!.type);
      expect(c.parent, `parent of ${c.urn}`).to.equal(parentOf(p!));
    }
    // Which components are seen races the first plugin failure (CI runs saw
    // StatsService's, then CcoRepository's registration lose it), but one is
    // certain: the failure needs a custom resource's registration, every custom
    // resource of the program has a component parent, the SDK sends a child's
    // registration only with its parent's URN (@pulumi/pulumi runtime/resource.js,
    // `await parent.urn.promise()`), and the engine answers a registration only
    // after its step ran, whose pre-event comes first (pulumi pkg v3.248.0
    // resource/deploy/source_eval.go RegisterResource waits on step.done;
    // step_executor.go executeStep emits OnResourceStepPre before Apply).
    expect(
      planned.filter((p) => p.parent === null && !p.type.startsWith("cco:")).map((p) => p.urn),
      "custom resources at the top level (the program declares only components there)",
    ).to.deep.equal([]);
    expect(components.length, "a component reaches the engine before the first plugin fails").to.be.greaterThan(0);
    // It stops at a provider's plugin: the engine's own message, at the pinned version.
    const errors = engineErrors(r);
    expect(errors.length, r.output).to.be.greaterThan(0);
    const expected = PROVIDERS.map(missingPlugin);
    for (const err of errors) expect(expected, `every error is a missing pinned plugin: ${err}`).to.include(err);
    expect(r.output).to.not.match(/download|installing plugin/i);
    nothingInstalled();
  }

  for (const stack of ["dev", "prod"]) {
    it(`${stack}, the committed stack: the components registered are the plan's (URN, type, parent); it stops at a pinned provider plugin`, async () => {
      const [planned, r] = await Promise.all([offlinePlan(stack), run(stack)]);
      reachesTheProviders(r, planned, stack);
    });
  }

  it("dev, runnerVersion raised with its own runnerSha256: taken, and it goes on to the providers", async () => {
    const [planned, r] = await Promise.all([
      offlinePlan("dev"),
      run("dev", { "cco-infra:runnerVersion": "2.330.0", "cco-infra:runnerSha256": "a".repeat(64) }),
    ]);
    reachesTheProviders(r, planned, "dev");
  });

  /**
   * The policy pack under the real CLI: with no Node.js language host the
   * CLI starts it through pulumi-analyzer-policy-nodejs (tools/pulumi/analyzer),
   * which runs @pulumi/pulumi's cmd/run-policy-pack on infra/policy. The pack
   * answers the CLI (its name and version are in the engine's summary), but
   * none of its policies gets a resource to judge: they check custom resources
   * and the whole stack, and the run stops at the first provider.
   */
  it("dev with --policy-pack infra/policy: the real CLI runs the pack (summary names it and its version), then stops at the providers", async () => {
    const [planned, r] = await Promise.all([offlinePlan("dev"), run("dev", {}, "infra/policy")]);
    reachesTheProviders(r, planned, "dev");
    expect(r.output).to.include(
      `using pulumi-analyzer-policy-nodejs from $PATH at ${join(ANALYZER_DIR, "pulumi-analyzer-policy-nodejs")}`,
    );
    const summary = r.events.find((ev) => ev.summaryEvent)?.summaryEvent as unknown as {
      PolicyPacks: Record<string, string>;
    };
    const version = (
      JSON.parse(readFileSync(join(PROJECT_ROOT, "infra/policy/package.json"), "utf8")) as { version: string }
    ).version;
    expect(summary.PolicyPacks).to.deep.equal({ [`cco-infra|local|${join(PROJECT_ROOT, "infra/policy")}`]: version });
  });
});
