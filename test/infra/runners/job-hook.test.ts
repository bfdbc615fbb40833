import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { EventSchema } from "../../../service/events";
import { useTempDir } from "../../helpers/tmp";

const HOOK = join(PROJECT_ROOT, "infra", "runners", "files", "job-hook.sh");

/** What the Actions runner puts in a hook's environment (a subset). */
const JOB_ENV = {
  RUNNER_NAME: "runner-03",
  GITHUB_REPOSITORY: "brentley/cco",
  GITHUB_WORKFLOW: "build",
  GITHUB_JOB: "test",
  GITHUB_RUN_ID: "987654321",
  GITHUB_RUN_ATTEMPT: "2",
  GITHUB_ACTOR: "octocat",
  GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
  GITHUB_REF: "refs/pull/7/merge",
  GITHUB_EVENT_NAME: "pull_request",
};

/** The real job-hook.sh, as the runner user would run it, with a temp spool and _diag. */
describe("runners: job-hook.sh records every job and never fails one", function () {
  this.timeout(30_000);
  const tmp = useTempDir();
  before(function () {
    const missing = spawnSync("jq", ["--version"]).status !== 0;
    if (missing && process.env.CI) throw new Error("jq missing in CI (.ci/run installs it)");
    if (missing) this.skip();
  });

  const spool = () => join(tmp.path, "events.jsonl");
  const diag = () => join(tmp.path, "_diag");

  function hook(kind: string, env: Record<string, string> = {}): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    const child = spawn("bash", [HOOK, kind], {
      env: { PATH: process.env.PATH ?? "", CCO_SPOOL: spool(), CCO_RUNNER_DIAG: diag(), ...JOB_ENV, ...env },
      stdio: "ignore",
    });
    return new Promise((resolve) => child.on("exit", (code) => resolve({ code, ms: Date.now() - t0 })));
  }
  const lines = async () => (await readFile(spool(), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  async function workerLog(body: string) {
    await mkdir(diag(), { recursive: true });
    await writeFile(join(diag(), "Worker_20261126-180000-utc.log"), "[older job]\ncurrent step result 'Failed'\n");
    await writeFile(join(diag(), "Worker_20261126-190000-utc.log"), body);
  }

  it("appends a started and a completed event that the stats service accepts, with the audit fields", async () => {
    await workerLog('{ "jobDisplayName": "test (ubuntu, 1.80)" }\nStep result: Succeeded\n');
    expect((await hook("started")).code).to.equal(0);
    expect((await hook("completed")).code).to.equal(0);
    const [start, done] = await lines();
    for (const e of [start, done]) expect(EventSchema.safeParse(e).success, JSON.stringify(e)).to.equal(true);
    expect(start).to.include({ v: 1, type: "job_started", runner: "runner-03", repo: "brentley/cco", workflow: "build", runId: 987654321, runAttempt: 2 });
    // The display name (from this job's Worker log, not an older one) tells matrix legs apart.
    expect(start).to.include({ job: "test (ubuntu, 1.80)", actor: "octocat", sha: JOB_ENV.GITHUB_SHA, ref: "refs/pull/7/merge", event: "pull_request" });
    expect(start).to.not.have.property("result");
    expect(done).to.include({ type: "job_completed", result: "succeeded", job: "test (ubuntu, 1.80)" });
    expect(Math.abs(Date.parse(String(done!.ts)) - Date.now())).to.be.lessThan(10_000);
  });

  for (const [log, result] of [
    ["current step result 'Failed'\n", "failed"],
    ["Step result: Failed\n", "failed"],
    ["current step result 'Canceled'\n", "cancelled"],
    ["", "succeeded"],
  ] as const) {
    it(`reads the result from the Worker log: ${JSON.stringify(log.trim()) || "no failed step"} -> ${result}`, async () => {
      await workerLog(`{ "jobDisplayName": "lint" }\n${log}`);
      await hook("completed");
      expect((await lines())[0]).to.include({ result, job: "lint" });
    });
  }

  it("falls back to GITHUB_JOB without a Worker log", async () => {
    await hook("started");
    expect((await lines())[0]).to.include({ job: "test" });
  });

  it("exits 0 when it cannot write the spool, has no jq, or gets a bad kind", async () => {
    expect((await hook("started", { CCO_SPOOL: join(tmp.path, "missing", "events.jsonl") })).code).to.equal(0);
    // Everything the hook uses but jq.
    const nojq = join(tmp.path, "nojq");
    await mkdir(nojq);
    for (const tool of ["bash", "timeout", "date", "grep", "sed", "head", "hostname"]) {
      const found = spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (found) await symlink(found, join(nojq, tool));
    }
    expect((await hook("started", { PATH: nojq })).code).to.equal(0);
    expect((await hook("exploded")).code).to.equal(0);
    expect(existsSync(spool()), "nothing appended").to.equal(false);
  });

  it("is bounded in time: a hung step inside is cut off and the job goes on", async () => {
    const bin = join(tmp.path, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "jq"), "#!/bin/sh\nsleep 30\n");
    await chmod(join(bin, "jq"), 0o755);
    const r = await hook("started", { PATH: `${bin}:${process.env.PATH ?? ""}`, CCO_HOOK_TIMEOUT_S: "1" });
    expect(r.code).to.equal(0);
    expect(r.ms).to.be.lessThan(5_000);
  });

  it("keeps lines whole when many hooks append at once", async () => {
    const runs = Array.from({ length: 24 }, (_, i) => hook(i % 2 ? "completed" : "started", { GITHUB_RUN_ID: String(1000 + i) }));
    await Promise.all(runs);
    const all = await lines();
    expect(all).to.have.length(24);
    expect(new Set(all.map((e) => e.runId)).size).to.equal(24);
  });
});
