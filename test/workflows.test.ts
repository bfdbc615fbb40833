/**
 * This repository's own workflows (.github/workflows): actionlint-clean, and
 * the rules they exist to keep: least privilege, pinned actions, no fork code
 * on the self-hosted runner or near a secret, one deploy at a time behind
 * the prod environment, the policy pack on every preview and deploy.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { actionlint } from "./helpers/actionlint";
import { INFRA_RUNNER_LABELS, WORKFLOW_DIR, workflowFiles } from "./lint-workflows";

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  "runs-on"?: string | string[];
  uses?: string;
  if?: string;
  needs?: string | string[];
  environment?: string;
  permissions?: Record<string, string>;
  steps?: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: unknown;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
}

const text = (f: string) => readFileSync(join(WORKFLOW_DIR, f), "utf8");
const load = (f: string) => parse(text(f)) as Workflow;
const selfHosted = (j: Job) => ([] as string[]).concat(j["runs-on"] ?? []).includes("self-hosted");

describe("this repository's workflows", () => {
  it("are checks, preview, deploy and upkeep", () => {
    expect(workflowFiles()).to.deep.equal(["checks.yml", "deploy.yml", "preview.yml", "upkeep.yml"]);
  });

  for (const f of ["checks.yml", "deploy.yml", "preview.yml", "upkeep.yml"]) {
    it(`${f} passes actionlint`, async () => {
      expect(await actionlint(text(f), `.github/workflows/${f}`, INFRA_RUNNER_LABELS)).to.deep.equal([]);
    });

    it(`${f} grants nothing by default and each job only what it needs`, () => {
      const w = load(f);
      expect(w.permissions).to.deep.equal({});
      for (const [name, job] of Object.entries(w.jobs)) {
        expect(job.permissions, `${f} ${name}`).to.be.an("object");
        for (const [scope, level] of Object.entries(job.permissions!)) {
          // upkeep pushes a branch and opens a pull request; it runs no code of a pull request.
          const writes =
            f === "upkeep.yml" ? ["contents", "pull-requests"] : f === "preview.yml" ? ["pull-requests"] : [];
          const allowed = writes.includes(scope) ? ["write"] : scope === "contents" ? ["read"] : [];
          expect(allowed, `${f} ${name}: ${scope}: ${level}`).to.include(level);
        }
      }
    });

    it(`${f} pins every action by commit SHA, with its version beside it`, () => {
      for (const line of text(f)
        .split("\n")
        .filter((l) => /^\s*-?\s*uses:/.test(l))) {
        const ref = /uses:\s*(\S+)/.exec(line)![1]!;
        if (ref.startsWith("./")) continue;
        expect(line, line).to.match(/uses:\s*[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    });

    it(`${f} never checks out with a persisted token`, () => {
      for (const job of Object.values(load(f).jobs)) {
        for (const s of job.steps ?? [])
          if (s.uses?.startsWith("actions/checkout@")) expect(s.with?.["persist-credentials"]).to.equal(false);
      }
    });
  }

  it("upkeep runs on GitHub's runners, on a schedule, never near the stack's secrets", () => {
    const w = load("upkeep.yml");
    expect(Object.keys(w.on)).to.deep.equal(["schedule", "workflow_dispatch"]);
    for (const job of Object.values(w.jobs)) {
      expect(selfHosted(job)).to.equal(false);
      expect(job.environment).to.equal(undefined);
    }
    // The only secret it may read is its own token; nothing of Pulumi or the stacks.
    expect(text("upkeep.yml")).to.not.match(/PULUMI_|proxmoxve|secrets\.(?!UPKEEP_TOKEN\b)/);
  });

  it("actionlint does catch a broken workflow", async () => {
    const broken = text("deploy.yml").replace("contents: read", "contents: reed");
    expect(await actionlint(broken, ".github/workflows/deploy.yml", INFRA_RUNNER_LABELS)).to.not.deep.equal([]);
  });

  it("runs on pull_request, never pull_request_target, and keeps forks off the self-hosted runner", () => {
    for (const f of workflowFiles()) expect(Object.keys(load(f).on), f).to.not.include("pull_request_target");
    const w = load("preview.yml");
    expect(Object.keys(w.on)).to.deep.equal(["pull_request"]);
    expect(w.jobs.checks!.uses).to.equal("./.github/workflows/checks.yml");
    const preview = w.jobs.preview!;
    expect(selfHosted(preview)).to.equal(true);
    expect(preview.if).to.include("github.event.pull_request.head.repo.full_name == github.repository");
    // Every job that can see a secret is the guarded one.
    for (const [name, job] of Object.entries(w.jobs))
      if (name !== "preview") expect(JSON.stringify(job), name).to.not.include("secrets.");
    expect(selfHosted({ "runs-on": load("checks.yml").jobs.checks!["runs-on"] })).to.equal(false);
  });

  it("previews both stacks with the policy pack and a pull request comment", () => {
    const preview = load("preview.yml").jobs.preview!;
    const step = preview.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(step.with).to.include({ command: "preview", policyPacks: "infra/policy", "comment-on-pr": true });
    expect((preview as { strategy?: { matrix: { stack: string[] } } }).strategy!.matrix.stack).to.deep.equal([
      "dev",
      "prod",
    ]);
  });

  it("deploys prod from main only, behind the prod environment, one deploy at a time", () => {
    const w = load("deploy.yml");
    expect(Object.keys(w.on).sort()).to.deep.equal(["push", "workflow_dispatch"]);
    expect(w.on.push).to.deep.equal({ branches: ["main"] });
    expect(w.concurrency).to.deep.equal({ group: "deploy-prod", "cancel-in-progress": false });
    const deploy = w.jobs.deploy!;
    expect(deploy).to.include({ environment: "prod", needs: "checks", if: "github.ref == 'refs/heads/main'" });
    expect(selfHosted(deploy)).to.equal(true);
    const step = deploy.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(step.with).to.include({ command: "up", "stack-name": "prod", policyPacks: "infra/policy" });
  });

  it("runs the checks: tests, lint, actionlint and the offline plan of both stacks", () => {
    const runs = load("checks.yml")
      .jobs.checks!.steps!.map((s) => s.run ?? "")
      .join("\n");
    for (const cmd of [
      "npm ci",
      "npm test",
      "npm run lint",
      "npm run lint:workflows",
      'npm run -s plan -- --stack "$stack"',
    ])
      expect(runs).to.include(cmd);
    expect(runs).to.include("for stack in dev prod");
  });
});
