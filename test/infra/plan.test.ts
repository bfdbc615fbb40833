import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../infra/config";
import { settle, startRecording } from "../../infra/plan/recorder";
import { program } from "../../infra/program";
import { runProgram, TEST_SECRETS, TEST_SSH_KEY } from "../helpers/program";
import { useTempDir } from "../helpers/tmp";
import { runTool, type ToolRun } from "../helpers/tool";

/** `npm run plan` as a newcomer runs it: its own process, no credentials in the environment. */
async function plan(...args: string[]): Promise<ToolRun> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(PULUMI_|GITHUB_TOKEN|PROXMOX)/.test(k)) delete env[k];
  return runTool("infra/plan/main.ts", args, env);
}

describe("plan: npm run plan, offline", function () {
  this.timeout(60_000);
  const tmp = useTempDir();

  for (const stack of ["dev", "prod"]) {
    it(`plans stack ${stack} as a table, saying which secrets are placeholders`, async () => {
      const r = await plan("--stack", stack);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^Offline plan of stack ${stack} \\(project cco-infra\\): \\d+ resources`));
      expect(r.stdout).to.include("Placeholders stand in for secrets not set here: github:token, proxmoxve:apiToken, cco-infra:sshPrivateKey.");
      expect(r.stdout).to.match(/github:Repository\s+cco\S*\s+cco\s+name=cco\S* visibility=private/);
    });
  }

  it("prints JSON: type, name, parent and inputs of every resource, secrets hidden", async () => {
    const r = await plan("--stack", "prod", "--json");
    expect(r.code, r.stderr).to.equal(0);
    const resources = JSON.parse(r.stdout) as Array<{ type: string; name: string; parent: string | null; inputs: Record<string, unknown> }>;
    for (const res of resources) expect(Object.keys(res)).to.deep.equal(["type", "name", "parent", "inputs"]);
    const types = resources.map((x) => x.type);
    expect(types).to.include.members(["github:index/repository:Repository", "github:index/branchProtection:BranchProtection", "github:index/repositoryFile:RepositoryFile"]);
    expect(resources.find((x) => x.type === "github:index/repository:Repository")!.parent).to.equal("cco");
    for (const secret of ["PLACEHOLDER-GITHUB-TOKEN", "PLACEHOLDER-PROXMOXVE-APITOKEN", "PLACEHOLDER-CCO-INFRA-SSHPRIVATEKEY"]) {
      expect(r.stdout).to.not.include(secret);
    }
  });

  it("declares the same resources as the program does in-process", async () => {
    const r = await plan("--stack", "prod", "--json");
    const { recorder } = await runProgram({ repoName: "cco", runnerLabels: '["linux","x64","cco"]' });
    const fromPlan = (JSON.parse(r.stdout) as Array<{ type: string; name: string }>).map((x) => `${x.type} ${x.name}`);
    expect(fromPlan).to.include.members(recorder.resources.filter((x) => x.type.startsWith("github:") || x.type.startsWith("cco:github")).map((x) => `${x.type} ${x.name}`));
  });

  it("writes every rendered artifact with --out", async () => {
    const r = await plan("--stack", "prod", "--out", tmp.path);
    expect(r.code, r.stderr).to.equal(0);
    const workflows = await readdir(join(tmp.path, "github", "cco", ".github", "workflows"));
    expect(workflows.sort()).to.deep.equal(["build.yml", "release.yml", "runner-health.yml", "security.yml"]);
    expect(await readFile(join(tmp.path, "github", "cco", ".github", "dependabot.yml"), "utf8")).to.include("package-ecosystem: cargo");
    expect(await readFile(join(tmp.path, "github", "cco", ".github", "workflows", "build.yml"), "utf8")).to.include("runs-on: [ self-hosted, linux, x64, cco ]");
  });

  it("exits non-zero with the validation message on bad config, declaring nothing", async () => {
    const r = await plan("--stack", "prod", "--set", "runnerCount=3");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("Invalid config cco-infra:runnerCount = 3. Allowed: a whole number from 4 to 10.");
    expect(r.stderr).to.include("Nothing was planned: 0 resources declared.");
    expect(r.stdout).to.equal("");
  });

  it("refuses an unknown stack or argument in one line, naming the stacks that exist", async () => {
    expect(await plan("--stack", "staging")).to.deep.equal({ code: 2, stdout: "", stderr: "plan: unknown stack staging: the stacks are dev, prod (Pulumi.<stack>.yaml)\n" });
    expect(await plan("--stak", "prod")).to.deep.equal({ code: 2, stdout: "", stderr: "plan: unknown option --stak (see npm run plan -- --help)\n" });
    expect(await plan("--json")).to.deep.equal({ code: 2, stdout: "", stderr: "plan: --stack is required: one of dev, prod\n" });
  });
});

describe("program: nothing is registered when config is bad", () => {
  it("throws the ConfigError before declaring any resource", async () => {
    const recorder = await startRecording("cco-infra", "test", { ...TEST_SECRETS, "cco-infra:sshPublicKey": TEST_SSH_KEY, "cco-infra:runnerCount": "11" });
    expect(() => program()).to.throw(ConfigError, /cco-infra:runnerCount = 11/);
    await settle();
    expect(recorder.resources).to.deep.equal([]);
    // The same program with a good value declares resources: the check above can fail.
    pulumi.runtime.setConfig("cco-infra:runnerCount", "4");
    program();
    await settle();
    expect(recorder.resources.length).to.be.greaterThan(5);
  });
});
