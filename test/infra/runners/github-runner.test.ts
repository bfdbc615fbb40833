import { expect } from "chai";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { FakeGitHub } from "../../helpers/fake-github";

const run = promisify(execFile);
const SCRIPT = join(PROJECT_ROOT, "infra", "runners", "github-runner.ts");

/** The real script, as the Pulumi program's local command runs it. */
async function script(gh: FakeGitHub, command: string, env: Record<string, string> = {}) {
  const base = {
    PATH: process.env.PATH ?? "",
    GITHUB_API_URL: gh.url,
    GITHUB_TOKEN: gh.token,
    GITHUB_REPOSITORY: "brentley/cco",
    RUNNER_NAME: "runner-05",
  };
  try {
    const r = await run(process.execPath, ["--import", "tsx", SCRIPT, command], {
      env: { ...base, ...env },
      cwd: PROJECT_ROOT,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("runners: github-runner.ts against a fake GitHub API", function () {
  this.timeout(30_000);
  let gh: FakeGitHub;
  beforeEach(async () => {
    gh = new FakeGitHub();
    await gh.start();
  });
  afterEach(() => gh.stop());

  it("mints a registration token and prints only the token", async () => {
    const r = await script(gh, "mint");
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal("REG-TOKEN-1");
    expect(gh.calls).to.deep.equal([
      {
        method: "POST",
        path: "/repos/brentley/cco/actions/runners/registration-token",
        authorization: `Bearer ${gh.token}`,
      },
    ]);
  });

  it("retire-lives: removes every runner of the slot's lives (runner-05-<suffix>), waiting while one runs its job; nothing else", async () => {
    gh.runners = [
      { id: 21, name: "runner-05-mfx3k2a", busyFor: 0 },
      { id: 22, name: "runner-05-mfx3k9b", busyFor: 2 }, // its job: GitHub answers 422 twice
      { id: 23, name: "runner-050-mfx3k9c", busyFor: 0 }, // another slot's
      { id: 24, name: "runner-05", busyFor: 0 }, // a persistent runner of that name
      { id: 25, name: "runner-04-mfx3k2a", busyFor: 0 },
    ];
    const r = await script(gh, "retire-lives", { DEREGISTER_RETRY_S: "0" });
    expect(r.code, r.stderr).to.equal(0);
    expect(gh.runners.map((x) => x.name)).to.deep.equal(["runner-050-mfx3k9c", "runner-05", "runner-04-mfx3k2a"]);
    expect(
      gh.calls.filter((c) => c.method === "DELETE" && /runners\/\d+$/.test(c.path)).map((c) => c.path.split("/").pop()),
    ).to.deep.equal(["21", "22", "22", "22"]);
    expect(r.stderr).to.include("runner-05-mfx3k9b: runner 22 is busy (attempt 1)");
    // Nothing of its lives left: says so, exits 0.
    const again = await script(gh, "retire-lives");
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.include("runner-05: no runner of its lives in brentley/cco");
  });

  it("removes the runner found by name", async () => {
    gh.runners = [
      { id: 11, name: "runner-04", busyFor: 0 },
      { id: 12, name: "runner-05", busyFor: 0 },
    ];
    const r = await script(gh, "deregister");
    expect(r.code, r.stderr).to.equal(0);
    expect(gh.runners.map((x) => x.name)).to.deep.equal(["runner-04"]);
    expect(gh.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "GET /repos/brentley/cco/actions/runners?per_page=100&page=1",
      "GET /repos/brentley/cco/actions/runners/12",
      "DELETE /repos/brentley/cco/actions/runners/12/labels",
      "DELETE /repos/brentley/cco/actions/runners/12",
    ]);
  });

  it("removes by the recorded id without listing", async () => {
    gh.runners = [{ id: 12, name: "runner-05", busyFor: 0 }];
    const r = await script(gh, "deregister", { RUNNER_ID: "12" });
    expect(r.code).to.equal(0);
    expect(gh.calls.map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "GET /repos/brentley/cco/actions/runners/12",
      "DELETE /repos/brentley/cco/actions/runners/12/labels",
      "DELETE /repos/brentley/cco/actions/runners/12",
    ]);
  });

  it("tolerates a runner already gone (no such name, or 404 on its id)", async () => {
    expect((await script(gh, "deregister")).code).to.equal(0);
    const r = await script(gh, "deregister", { RUNNER_ID: "99" });
    expect(r.code).to.equal(0);
    expect(r.stderr).to.include("already gone");
  });

  it("takes a busy runner out of rotation, retries while it is busy, then removes it", async () => {
    const runner = { id: 12, name: "runner-05", busyFor: 2 };
    gh.runners = [runner];
    const r = await script(gh, "deregister", { DEREGISTER_RETRY_S: "0.05" });
    expect(r.code, r.stderr).to.equal(0);
    // Its custom labels go first, so no new job targets it between the retries.
    expect(gh.calls.slice(1, 3).map((c) => `${c.method} ${c.path}`)).to.deep.equal([
      "GET /repos/brentley/cco/actions/runners/12",
      "DELETE /repos/brentley/cco/actions/runners/12/labels",
    ]);
    expect(runner).to.include({ unlabelled: true });
    expect(gh.calls.filter((c) => c.method === "DELETE" && !c.path.endsWith("/labels"))).to.have.length(3);
    expect(gh.runners).to.deep.equal([]);
  });

  it("gives up after its bound with a clear message, never waiting forever, and puts its labels back", async () => {
    const runner = { id: 12, name: "runner-05", busyFor: 1_000_000, labels: ["cco", "runner-05"] };
    gh.runners = [runner];
    const started = Date.now();
    const r = await script(gh, "deregister", { DEREGISTER_TIMEOUT_S: "1", DEREGISTER_RETRY_S: "0.1" });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include("still running a job after 1 s");
    expect(Date.now() - started).to.be.below(10_000);
    const deletes = gh.calls.filter((c) => c.method === "DELETE" && !c.path.endsWith("/labels")).length;
    expect(deletes).to.be.within(5, 15);
    // It stays registered, so it stays in rotation as it was.
    expect(gh.calls.at(-1)).to.include({ method: "PUT", path: "/repos/brentley/cco/actions/runners/12/labels" });
    expect(runner).to.include({ unlabelled: false });
    expect(runner.labels).to.deep.equal(["cco", "runner-05"]);
    expect(r.stderr).to.include("labels cco,runner-05 restored");
  });

  it("fails on a bad token instead of pretending", async () => {
    const r = await script(gh, "deregister", { GITHUB_TOKEN: "wrong" });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include("HTTP 401 Bad credentials");
  });
});
