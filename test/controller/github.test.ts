import { expect } from "chai";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitHubError, GitHubRunners } from "../../controller/github";
import { FakeJitGitHub } from "../helpers/fake-github-jit";

describe("controller: GitHub JIT configs and removal (real HTTP, fake GitHub)", () => {
  const gh = new FakeJitGitHub(join(tmpdir(), `cco-ctl-gh-${process.pid}.sock`), "/unused");
  before(() => gh.start());
  after(() => gh.stop());

  it("asks generate-jitconfig with name, runner_group_id, labels and work_folder, and returns the runner id and config", async () => {
    const client = new GitHubRunners(gh.url, gh.repo, gh.token);
    const jit = await client.generateJitConfig({
      name: "runner-01-a",
      labels: ["self-hosted", "cco"],
      runnerGroupId: 1,
    });
    expect(jit.runnerName).to.equal("runner-01-a");
    const runner = gh.runners.get(jit.runnerId)!;
    expect(runner.labels).to.deep.equal(["self-hosted", "cco"]);
    // What the runner decodes for --jitconfig: the three files, .runner ephemeral.
    const files = JSON.parse(Buffer.from(jit.encoded, "base64").toString("utf8")) as Record<string, string>;
    expect(Object.keys(files).sort()).to.deep.equal([".credentials", ".credentials_rsaparams", ".runner"]);
    expect(JSON.parse(Buffer.from(files[".runner"]!, "base64").toString("utf8"))).to.include({
      agentId: jit.runnerId,
      ephemeral: true,
    });
    const call = gh.restCalls.at(-1)!;
    expect(call).to.include({
      method: "POST",
      path: `/repos/${gh.repo}/actions/runners/generate-jitconfig`,
      status: 201,
    });
  });

  it("says what GitHub refused: a name in use (409), a bad token (401)", async () => {
    const client = new GitHubRunners(gh.url, gh.repo, gh.token);
    await client.generateJitConfig({ name: "dup", labels: ["self-hosted"], runnerGroupId: 1 });
    const err = await client
      .generateJitConfig({ name: "dup", labels: ["self-hosted"], runnerGroupId: 1 })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(GitHubError).with.property("status", 409);
    const bad = await new GitHubRunners(gh.url, gh.repo, "wrong")
      .generateJitConfig({ name: "x", labels: ["a"], runnerGroupId: 1 })
      .catch((e: unknown) => e);
    expect(bad).to.be.instanceOf(GitHubError).with.property("status", 401);
    expect((bad as Error).message).to.not.include("wrong");
  });

  it("removes a runner: removed (204), gone (404), busy (422)", async () => {
    const client = new GitHubRunners(gh.url, gh.repo, gh.token);
    const idle = await client.generateJitConfig({ name: "idle", labels: ["self-hosted"], runnerGroupId: 1 });
    expect(await client.removeRunner(idle.runnerId)).to.equal("removed");
    expect(await client.removeRunner(idle.runnerId)).to.equal("gone");
    const busy = await client.generateJitConfig({ name: "busy", labels: ["self-hosted"], runnerGroupId: 1 });
    gh.runners.get(busy.runnerId)!.jobId = 1;
    expect(await client.removeRunner(busy.runnerId)).to.equal("busy");
  });
});
