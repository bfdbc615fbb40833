import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../infra/config";
import { jsonResource, PLAN_MARKER, planConfig } from "../../infra/plan/main";
import { settle, startRecording, type PlannedOptions } from "../../infra/plan/recorder";
import { PROJECT_ROOT } from "../../infra/stackfile";
import { program } from "../../infra/program";
import { TEST_SECRETS } from "../helpers/program";
import { useTempDir } from "../helpers/tmp";
import { runPlan as plan } from "../helpers/tool";

interface JsonResource {
  type: string;
  name: string;
  parent: string | null;
  inputs: Record<string, unknown>;
  urn: string;
  options: PlannedOptions;
}

const CONTAINER = "proxmoxve:index/containerLegacy:ContainerLegacy";

/** Files under a directory, relative, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe("plan: npm run plan, offline", function () {
  this.timeout(120_000);
  const tmp = useTempDir();
  let prod: JsonResource[];

  before(async () => {
    const r = await plan("--stack", "prod", "--json");
    expect(r.code, r.stderr).to.equal(0);
    prod = JSON.parse(r.stdout) as JsonResource[];
  });

  it("prints JSON: type, name, parent, inputs, URN and resource options of every resource, secrets hidden", async () => {
    for (const res of prod)
      expect(Object.keys(res)).to.deep.equal(["type", "name", "parent", "inputs", "urn", "options"]);
    expect(prod.find((x) => x.type === "github:index/repository:Repository")!.parent).to.equal("cco");
    const r = await plan("--stack", "prod", "--json");
    for (const secret of [
      "PLACEHOLDER-GITHUB-TOKEN",
      "PLACEHOLDER-PROXMOXVE-APITOKEN",
      "PLACEHOLDER-CCO-INFRA-SSHPRIVATEKEY",
    ]) {
      expect(r.stdout).to.not.include(secret);
    }
    // The delete-first story, readable from the JSON alone.
    const byName = (type: string, name: string) => prod.find((x) => x.type === type && x.name === name)!;
    const container = byName(CONTAINER, "runner-01");
    expect(container.options.deleteBeforeReplace).to.equal(true);
    // Ephemeral (prod's mode): the slot's lives leave GitHub before the container goes.
    const retire = byName("command:local:Command", "runner-01-retire");
    expect(retire.options.replaceWith).to.deep.equal([container.urn]);
    expect(retire.options.dependsOn).to.include(container.urn);
    expect(retire.options.customTimeouts).to.have.property("delete");
  });

  it("declares exactly what the program declares in-process, inputs and options included", async () => {
    const c = planConfig("prod");
    const recorder = await startRecording(c.project, "prod", c.values, c.secretKeys);
    program();
    await settle();
    expect(JSON.parse(JSON.stringify(recorder.resources.map(jsonResource)))).to.deep.equal(prod);
    expect(prod.filter((x) => x.type === CONTAINER).map((x) => x.name)).to.deep.equal([
      "cco-stats",
      "cco-gateway",
      "runner-01",
      "runner-02",
      "runner-03",
      "runner-04",
    ]);
  });

  for (const stack of ["dev", "prod"]) {
    it(`plans stack ${stack} as a tree: each component, then its children, with full paths and key inputs`, async () => {
      const r = await plan("--stack", stack);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^Offline plan of stack ${stack} \\(project cco-infra\\): \\d+ resources`));
      expect(r.stdout).to.include(
        "Placeholders stand in for secrets not set here: github:token, proxmoxve:apiToken, cco-infra:sshPrivateKey, cco-infra:controllerGithubToken.",
      );
      expect(r.stdout).to.not.include("node --import tsx");
      const rows = r.stdout.split("\n\n")[1]!.split("\n");
      const json = JSON.parse((await plan("--stack", stack, "--json")).stdout) as JsonResource[];
      expect(rows).to.have.length(json.length);
      // Every row: indented by its depth, named by the path of its ancestors, under its parent's row.
      const byUrn = new Map(json.map((x) => [x.urn, x]));
      const chain = (x: JsonResource) => x.urn.split("::")[2]!;
      const parentOf = (x: JsonResource) =>
        json.find((p) => p.name === x.parent && `${chain(p)}$${x.type}` === chain(x));
      const ancestors = (x: JsonResource): JsonResource[] => {
        const p = parentOf(x);
        return p ? [...ancestors(p), p] : [];
      };
      const seen = new Set<string>();
      for (const row of rows) {
        const m = /^( *)(\S+) {2}(\S+)/.exec(row)!;
        const x = json.find(
          (j) =>
            !seen.has(j.urn) &&
            m[3]!.endsWith(j.name) &&
            ancestors(j)
              .map((a) => a.name)
              .concat(j.name)
              .join("/") === m[3],
        );
        expect(x, row).to.not.equal(undefined);
        seen.add(x!.urn);
        expect(m[1]!.length, row).to.equal(2 * ancestors(x!).length);
      }
      expect(seen.size).to.equal(byUrn.size);
    });
  }

  it("shows the inputs a reviewer needs for every kind of resource", async () => {
    const r = await plan("--stack", "prod");
    const row = (path: string) => r.stdout.split("\n").find((l) => l.trimStart().split("  ")[1] === path) ?? "";
    expect(row("cco/cco")).to.include("name=cco visibility=private");
    expect(row("fleet/runner-01/runner-01/runner-01")).to.include(
      "node=pve vmId=200 cores=4 memory=8192MB swap=1024MB disk=50GB address=192.168.1.200/24 features=none tags=cco,runner,prod unprivileged=true  deleteBeforeReplace",
    );
    expect(row("fleet/runner-01/runner-01/runner-01-firewall")).to.include(
      "containerId=200 enabled=true inputPolicy=DROP outputPolicy=DROP",
    );
    expect(row("fleet/runner-01/runner-01/runner-01-firewall-rules")).to.match(
      /rules=\d+ in=\d+ out=\d+ {2}deleteBeforeReplace/,
    );
    expect(row("fleet/runner-01/runner-01/runner-01-provision")).to.match(
      /does=provisions the runner from bundle [0-9a-f]{16}/,
    );
    // Ephemeral mode (prod's): the node's reset, snapshot and controller; no registration token, no drain.
    expect(row("fleet/runner-01/runner-01-reset")).to.include(
      "does=on the node: stops the controller, waits for a running job, rolls the container back to its clean snapshot",
    );
    expect(row("fleet/runner-01/runner-01-snapshot")).to.include(
      "does=on the node: checks the storage, stops the controller, replaces the clean snapshot",
    );
    expect(row("fleet/runner-01/runner-01-retire")).to.include(
      "does=on delete: removes every runner of its lives from GitHub (waits while one runs its job)  replaceWith=runner-01",
    );
    expect(row("fleet/cco-controller-pve/cco-controller-pve-install")).to.match(
      /does=installs and starts the controller from bundle [0-9a-f]{16}; on update: installs and starts the controller from bundle [0-9a-f]{16}; on delete: stops the controller \(idle runners removed\) and removes it/,
    );
    expect(r.stdout).to.not.include("registration-token");
    expect(r.stdout).to.not.include("-drain");
    // Persistent mode: a registration token per container, drained and deregistered before it goes.
    const p = await plan("--stack", "prod", "--set", "runnerMode=persistent");
    const prow = (path: string) => p.stdout.split("\n").find((l) => l.trimStart().split("  ")[1] === path) ?? "";
    expect(prow("fleet/runner-01/runner-01-registration-token")).to.include("does=mints a GitHub registration token");
    expect(prow("fleet/runner-01/runner-01-deregistration")).to.include(
      "does=on delete: removes the runner from GitHub  replaceWith=runner-01",
    );
    expect(prow("fleet/runner-01/runner-01-drain")).to.include(
      "does=starts the runner again; on delete: waits for the running job, then stops the runner",
    );
    expect(p.stdout).to.not.include("cco-controller");
    expect(p.stdout).to.not.include("runner-01-snapshot");
    expect(row("cco-stats/cco-stats-healthz")).to.include("does=waits for http://192.168.1.210:8080/healthz to answer");
  });

  it("writes every rendered artifact with --out, and only those: a second plan leaves no file of a runner that is gone", async () => {
    const out = join(tmp.path, "plan-out");
    expect((await plan("--stack", "prod", "--out", out, "--set", "runnerCount=5")).code).to.equal(0);
    expect(readdirSync(join(out, "containers"))).to.include("runner-05");
    const r = await plan("--stack", "prod", "--out", out);
    expect(r.code, r.stderr).to.equal(0);
    const expected = new Map<string, string>([[PLAN_MARKER, ""]]);
    const bundles = new Set<string>();
    for (const x of prod) {
      if (x.type === "github:index/repositoryFile:RepositoryFile")
        expected.set(`github/cco/${String(x.inputs.file)}`, String(x.inputs.content));
      if (x.type === "proxmoxve:firewall/optionsLegacy:OptionsLegacy")
        expected.set(`containers/${x.parent}/proxmox-firewall/${String(x.inputs.containerId)}.fw`, "");
      if (x.type === "command:remote:CopyToRemote") {
        const bundle = String((x.inputs.source as { path: string }).path);
        bundles.add(basename(bundle));
        for (const f of filesUnder(join(PROJECT_ROOT, bundle))) {
          expected.set(
            `containers/${x.parent}/root/${basename(bundle)}/${f}`,
            readFileSync(join(PROJECT_ROOT, bundle, f), "utf8"),
          );
        }
      }
    }
    expect(filesUnder(out)).to.deep.equal([...expected.keys()].sort());
    for (const [path, content] of expected)
      if (content) expect(readFileSync(join(out, path), "utf8"), path).to.equal(content);
    expect(readFileSync(join(out, "containers/runner-01/proxmox-firewall/200.fw"), "utf8")).to.include(
      "policy_out: DROP",
    );
    expect(readFileSync(join(out, "github/cco/.github/workflows/build.yml"), "utf8")).to.include(
      "runs-on: [ self-hosted, linux, x64, cco ]",
    );
    // .build keeps the bundles this plan copies, no others.
    expect(readdirSync(join(PROJECT_ROOT, ".build", "provision")).sort()).to.deep.equal([...bundles].sort());
  });

  it("refuses an --out that is a file, or not empty and not a previous plan's, touching nothing", async () => {
    writeFileSync(join(tmp.path, "keep.txt"), "mine");
    expect(await plan("--stack", "prod", "--out", tmp.path)).to.deep.equal({
      code: 2,
      stdout: "",
      stderr: `plan: --out ${tmp.path} is not empty and not a previous plan's (it has no ${PLAN_MARKER}): give an empty or new directory\n`,
    });
    expect(readdirSync(tmp.path)).to.deep.equal(["keep.txt"]);
    const file = join(tmp.path, "keep.txt");
    expect(await plan("--stack", "prod", "--out", file)).to.deep.equal({
      code: 2,
      stdout: "",
      stderr: `plan: --out ${file} is a file, not a directory\n`,
    });
  });

  it("exits non-zero with the validation message on bad config, declaring nothing", async () => {
    const r = await plan("--stack", "prod", "--set", "runnerCount=3");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("Invalid config cco-infra:runnerCount = 3. Allowed: a whole number from 4 to 10.");
    expect(r.stderr).to.include("Nothing was planned: 0 resources declared.");
    expect(r.stdout).to.equal("");
  });

  it("refuses an unknown stack or argument in one line, naming the stacks that exist", async () => {
    expect(await plan("--stack", "staging")).to.deep.equal({
      code: 2,
      stdout: "",
      stderr: "plan: unknown stack staging: the stacks are dev, prod (Pulumi.<stack>.yaml)\n",
    });
    expect(await plan("--stak", "prod")).to.deep.equal({
      code: 2,
      stdout: "",
      stderr: "plan: unknown option --stak (see npm run plan -- --help)\n",
    });
    expect(await plan("--json")).to.deep.equal({
      code: 2,
      stdout: "",
      stderr: "plan: --stack is required: one of dev, prod\n",
    });
  });
});

/**
 * What the source tree holds, as git sees it: changed, untracked and ignored
 * files with their modification times (ignored ones too: a generated file
 * rewritten with the same bytes is still written). .build/ is the build's.
 */
function sourceTree(): string[] {
  const status = execFileSync(
    "git",
    [
      "status",
      "--porcelain",
      "--ignored",
      "--untracked-files=all",
      "--",
      ".",
      ":(exclude).build",
      ":(exclude)node_modules",
    ],
    {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    },
  );
  return status
    .split("\n")
    .filter(Boolean)
    .map(
      (line) => `${line} ${statSync(join(PROJECT_ROOT, line.slice(3)), { throwIfNoEntry: false })?.mtimeMs ?? "gone"}`,
    );
}

describe("plan: evaluating the program writes nothing into the source tree", function () {
  this.timeout(120_000);
  it("npm run plan and the program under mocks leave git status and every ignored file as they were", async () => {
    const before = sourceTree();
    expect(before.join("\n")).to.include("service/dashboard/assets.generated.ts");
    expect((await plan("--stack", "prod")).code).to.equal(0);
    const c = planConfig("dev");
    await startRecording(c.project, "dev", c.values, c.secretKeys);
    program();
    await settle();
    expect(sourceTree()).to.deep.equal(before);
  });
});

describe("program: nothing is registered when config is bad", () => {
  it("throws the ConfigError before declaring any resource", async () => {
    const recorder = await startRecording("cco-infra", "test", {
      ...TEST_SECRETS,
      "cco-infra:proxmoxNodeHosts": '["192.0.2.10"]',
      "cco-infra:runnerCount": "11",
    });
    expect(() => program()).to.throw(ConfigError, /cco-infra:runnerCount = 11/);
    await settle();
    expect(recorder.resources).to.deep.equal([]);
    // The same program with a good value declares resources: the check above can fail.
    pulumi.runtime.setConfig("cco-infra:runnerCount", "4");
    program();
    await settle();
    expect(recorder.resources.length).to.be.greaterThan(5);
  });
  it("refuses a private SSH key it cannot derive the public half from, before declaring anything", async () => {
    const recorder = await startRecording("cco-infra", "test", {
      ...TEST_SECRETS,
      "cco-infra:proxmoxNodeHosts": '["192.0.2.10"]',
      "cco-infra:sshPrivateKey": "not a key",
    });
    expect(() => program()).to.throw(
      ConfigError,
      /^Invalid config cco-infra:sshPrivateKey = "\[secret\]" \(not a private key/,
    );
    await settle();
    expect(recorder.resources).to.deep.equal([]);
  });
});
