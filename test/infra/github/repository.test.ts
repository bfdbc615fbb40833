import { expect } from "chai";
import { parse } from "yaml";
import { jobNames, renderWorkflow, requiredChecks, WORKFLOWS } from "../../../infra/github/files";
import { STALE_AFTER_SECONDS } from "../../../service/dashboard/view";
import { reveal } from "../../../infra/plan/recorder";
import { actionlint } from "../../helpers/actionlint";
import { runProgram } from "../../helpers/program";

const T = {
  repository: "github:index/repository:Repository",
  file: "github:index/repositoryFile:RepositoryFile",
  protection: "github:index/branchProtection:BranchProtection",
  ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
  alerts: "github:index/repositoryVulnerabilityAlerts:RepositoryVulnerabilityAlerts",
  dependabot: "github:index/repositoryDependabotSecurityUpdates:RepositoryDependabotSecurityUpdates",
};

describe("github: the repository component", function () {
  this.timeout(30_000);

  it("declares a private repository with alerts and Dependabot security updates on", async () => {
    const { recorder, outputs } = await runProgram({ repoName: "cco" });
    const repo = recorder.byName(T.repository, "cco");
    expect(repo.inputs).to.include({
      name: "cco",
      visibility: "private",
      deleteBranchOnMerge: true,
      archiveOnDestroy: true,
    });
    expect(repo.parentType).to.equal("cco:github:Repository");
    expect(recorder.ofType(T.alerts)[0]!.inputs).to.include({ enabled: true, repository: "cco" });
    expect(recorder.ofType(T.dependabot)[0]!.inputs).to.include({ enabled: true, repository: "cco" });
    expect(await new Promise((r) => outputs.repositoryUrl.apply(r))).to.equal("https://github.com/brentley/cco");
  });

  it("renames the default branch to main and waits until GitHub shows it, before any file goes there", async () => {
    const { recorder } = await runProgram();
    const branch = recorder.byName("github:index/branchDefault:BranchDefault", "cco-default-branch");
    // wait_for_rename polls until the rename propagated (terraform-provider-github v6.13.0, resource_github_branch_default.go).
    expect(branch.inputs).to.include({ branch: "main", rename: true, waitForRename: true });
    for (const f of recorder.ofType(T.file))
      expect(f.options.dependencies, String(f.inputs.file)).to.include(branch.urn);
  });

  it("commits exactly four workflows, dependabot.yml and the version script", async () => {
    const { recorder } = await runProgram();
    const files = recorder.ofType(T.file).map((f) => f.inputs.file);
    expect(files.filter((f) => String(f).startsWith(".github/workflows/"))).to.have.members(
      WORKFLOWS.map((w) => `.github/workflows/${w}`),
    );
    expect(files).to.have.length(6);
    expect(files).to.include.members([".github/dependabot.yml", ".github/scripts/next-version.sh"]);
    for (const f of recorder.ofType(T.file)) expect(f.inputs).to.include({ branch: "main", overwriteOnCreate: true });
  });

  it("runs every job on the configured labels, self-hosted first", async () => {
    const { recorder } = await runProgram({ runnerLabels: '["linux","cco"]' });
    for (const f of recorder
      .ofType(T.file)
      .filter((x) => String(x.inputs.file).endsWith(".yml") && String(x.inputs.file).includes("workflows"))) {
      const wf = parse(String(f.inputs.content)) as { jobs: Record<string, { "runs-on": string[] }> };
      for (const [id, job] of Object.entries(wf.jobs)) {
        expect(job["runs-on"].slice(0, 3), `${String(f.inputs.file)} ${id}`).to.deep.equal([
          "self-hosted",
          "linux",
          "cco",
        ]);
      }
    }
  });

  it("protects main: reviews, stale reviews dismissed, required checks strict, no force push or deletion", async () => {
    const { recorder } = await runProgram({ requiredApprovals: "2" });
    expect(recorder.ofType(T.ruleset)).to.be.empty;
    const p = recorder.ofType(T.protection)[0]!;
    const inputs = reveal(p.inputs) as Record<string, unknown>;
    expect(inputs).to.include({ pattern: "main", allowsForcePushes: false, allowsDeletions: false });
    expect(inputs.requiredPullRequestReviews).to.deep.equal([
      { requiredApprovingReviewCount: 2, dismissStaleReviews: true },
    ]);
    expect(inputs.requiredStatusChecks).to.deep.equal([{ strict: true, contexts: ["build", "audit"] }]);
    expect(inputs.repositoryId).to.equal("R_cco");
  });

  it("can protect main with a ruleset instead", async () => {
    const { recorder } = await runProgram({ protectionMode: "ruleset" });
    expect(recorder.ofType(T.protection)).to.be.empty;
    const r = reveal(recorder.ofType(T.ruleset)[0]!.inputs) as {
      target: string;
      conditions: { refName: { includes: string[] } };
      rules: { pullRequest: object; requiredStatusChecks: object };
    };
    expect(r).to.include({ target: "branch", enforcement: "active" });
    expect(r.conditions.refName.includes).to.deep.equal(["~DEFAULT_BRANCH"]);
    expect(r.rules).to.include({ deletion: true, nonFastForward: true });
    expect(r.rules.pullRequest).to.include({ requiredApprovingReviewCount: 1, dismissStaleReviewsOnPush: true });
    expect(r.rules.requiredStatusChecks).to.deep.equal({
      requiredChecks: [{ context: "build" }, { context: "audit" }],
      strictRequiredStatusChecksPolicy: true,
    });
  });

  it("requires the job names of the build and security workflows", () => {
    expect(requiredChecks()).to.deep.equal([...jobNames("build.yml"), ...jobNames("security.yml")]);
    expect(requiredChecks()).to.deep.equal(["build", "audit"]);
  });

  describe("workflow files pass actionlint", () => {
    const labels = ["self-hosted", "linux", "x64", "cco"];
    for (const w of WORKFLOWS) {
      it(w, async () => {
        expect(await actionlint(renderWorkflow(w, labels), `.github/workflows/${w}`, labels)).to.deep.equal([]);
      });
    }

    it("and actionlint does catch a broken one", async () => {
      const broken = renderWorkflow("build.yml", labels).replace("runs-on:", "runs-onn:");
      expect((await actionlint(broken, ".github/workflows/build.yml", labels)).length).to.be.greaterThan(0);
      const unknownLabel = renderWorkflow("build.yml", ["self-hosted", "gpu"]);
      expect(await actionlint(unknownLabel, ".github/workflows/build.yml", labels)).to.have.length(1);
    });
  });

  it("runner-health fails on the dashboard's stale limit, filled in from the one constant", () => {
    const wf = parse(renderWorkflow("runner-health.yml", ["self-hosted"])) as {
      jobs: { fleet: { env: Record<string, unknown> } };
    };
    expect(wf.jobs.fleet.env.STALE_AFTER_SECONDS).to.equal(STALE_AFTER_SECONDS);
    // The check reads it from the environment, with no limit of its own.
    expect(renderWorkflow("runner-health.yml", ["self-hosted"]))
      .to.include('--argjson limit "$STALE_AFTER_SECONDS"')
      .and.not.include(">= 300");
  });

  it("pins every action by a full commit SHA", () => {
    for (const w of WORKFLOWS) {
      const wf = parse(renderWorkflow(w, ["self-hosted"])) as { jobs: Record<string, { steps?: { uses?: string }[] }> };
      for (const job of Object.values(wf.jobs)) {
        for (const step of job.steps ?? []) {
          if (step.uses) expect(step.uses, `${w}: ${step.uses}`).to.match(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
        }
      }
    }
  });
});
