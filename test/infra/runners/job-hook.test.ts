import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { EventSchema } from "../../../service/events";
import { useTempDir } from "../../helpers/tmp";
import { WorkerLog } from "../../helpers/worker-log";

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
  const lines = async () =>
    (await readFile(spool(), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  /** An older job's Worker log, already finished (its result must never leak into the next job's). */
  const olderJob = () =>
    new WorkerLog(diag(), new Date("2026-11-26T17:00:00Z"))
      .start("older job")
      .step("Run make", "Failed", "Failed")
      .completedHook()
      .finish("Failed");
  /** This job's Worker log, started after the older one. */
  const thisJob = (display = "lint") => {
    olderJob();
    return new WorkerLog(diag(), new Date("2026-11-26T18:00:00Z")).start(display);
  };
  const completedResult = async () => {
    expect((await hook("completed")).code).to.equal(0);
    return (await lines())[0];
  };

  it("ephemeral: a life's runner (<container>-<suffix>) records the event as its container's, the life's name beside", async () => {
    const host = spawnSync("hostname", { encoding: "utf8" }).stdout.trim();
    expect((await hook("started", { RUNNER_NAME: `${host}-mfx3k2a` })).code).to.equal(0);
    expect((await hook("started", { RUNNER_NAME: `${host}-not/a-life` })).code).to.equal(0);
    const [life, other] = await lines();
    // The forwarder holds the container's own stats credential, which speaks for the container's name only.
    expect(life).to.include({ runner: host, lifeRunner: `${host}-mfx3k2a` });
    expect(EventSchema.safeParse(life).success).to.equal(true);
    expect(other).to.include({ runner: `${host}-not/a-life` });
    expect(other).to.not.have.property("lifeRunner");
  });

  it("appends a started and a completed event that the stats service accepts, with the audit fields", async () => {
    const log = thisJob("test (ubuntu, 1.80)");
    expect((await hook("started")).code).to.equal(0);
    log.step("Run cargo test", "Succeeded", "").completedHook();
    expect((await hook("completed")).code).to.equal(0);
    const [start, done] = await lines();
    for (const e of [start, done]) expect(EventSchema.safeParse(e).success, JSON.stringify(e)).to.equal(true);
    expect(start).to.include({
      v: 1,
      type: "job_started",
      runner: "runner-03",
      repo: "brentley/cco",
      workflow: "build",
      runId: 987654321,
      runAttempt: 2,
    });
    // The display name (from this job's Worker log, not an older one) tells matrix legs apart.
    expect(start).to.include({
      job: "test (ubuntu, 1.80)",
      actor: "octocat",
      sha: JOB_ENV.GITHUB_SHA,
      ref: "refs/pull/7/merge",
      event: "pull_request",
    });
    expect(start).to.not.have.property("result");
    expect(done).to.include({ type: "job_completed", result: "succeeded", job: "test (ubuntu, 1.80)" });
    expect(Math.abs(Date.parse(String(done!.ts)) - Date.now())).to.be.lessThan(10_000);
  });

  // The result is the job's state after its last step (StepsRunner.cs v2.329.0 logs
  // "Current state: job state = '...'" after every step), never a step's own result.
  it("a failed step fails the job", async () => {
    thisJob().step("Run make", "Failed", "Failed").skipped("Run deploy", "Failed").completedHook();
    expect(await completedResult()).to.include({ result: "failed", job: "lint" });
  });

  it("cancelled between steps: the next step is skipped, the job is cancelled (no step says Canceled)", async () => {
    // StepsRunner: the job token is already cancelled before the step, so the
    // job result becomes Canceled and success() is false: the step is skipped.
    thisJob().step("Run make", "Succeeded", "").skipped("Run tests", "Canceled").completedHook();
    expect(await completedResult()).to.include({ result: "cancelled" });
  });

  it("cancelled during an if: always() step: the step succeeds, the job is cancelled", async () => {
    // StepsRunner: the cancellation callback sets the job result to Canceled, the
    // condition re-test (always()) stays true, so the step runs on to success.
    thisJob()
      .step("Run make", "Succeeded", "")
      .step("Upload logs", "Succeeded", "Canceled", (l) =>
        l.info("StepsRunner", "Re-evaluate condition on job cancellation for step: 'Upload logs'."),
      )
      .completedHook();
    expect(await completedResult()).to.include({ result: "cancelled" });
  });

  it("the runner shuts down: the step is cancelled, the job is failed (as GitHub reports it)", async () => {
    // StepsRunner: with RunnerShutdownToken cancelled the job result is Failed,
    // the condition is not re-tested and the running step is cancelled.
    thisJob()
      .step("Run make", "Canceled", "Failed", (l) =>
        l
          .info("StepsRunner", "Cancel current running step.")
          .line(
            "ERR ",
            "StepsRunner",
            "Caught cancellation exception from step: System.OperationCanceledException: The operation was canceled.",
          ),
      )
      .completedHook();
    expect(await completedResult()).to.include({ result: "failed" });
  });

  it("a composite action failing inside, under an outer continue-on-error: the job succeeds", async () => {
    // CompositeActionHandler logs the inner step's failure; the outer step's
    // continue-on-error turns it into Succeeded (ExecutionContext.ApplyContinueOnError).
    thisJob()
      .step("Run ./.github/actions/flaky", "Succeeded", "", (l) =>
        l
          .info("CompositeActionHandler", "Processing embedded step: DisplayName='Run ./flaky.sh'")
          .info("CompositeActionHandler", "Starting: Run ./flaky.sh")
          .info("CompositeActionHandler", "Step result: Failed")
          .info("CompositeActionHandler", "Update job result with current composite step result 'Failed'."),
      )
      .completedHook();
    expect(await completedResult()).to.include({ result: "succeeded" });
  });

  it("a Worker log that rolled over at 8 MB: the display name from the first page, the state from the last", async () => {
    const log = thisJob("build (arm64)").step("Run make", "Failed", "Failed").fillPage();
    log.step("Upload logs", "Succeeded", "Failed").completedHook();
    expect(log.pages.length, "two pages of this job").to.equal(2);
    expect(await completedResult()).to.include({ result: "failed", job: "build (arm64)" });
  });

  it("no state line for this job (log missing or cut short): unknown, not a guess", async () => {
    thisJob("lint"); // started, no step finished yet
    expect(await completedResult()).to.include({ result: "unknown", job: "lint" });
    await writeFile(spool(), "");
    await rm(diag(), { recursive: true, force: true });
    expect((await hook("completed")).code).to.equal(0);
    expect((await lines())[0]).to.include({ result: "unknown", job: "test" });
  });

  it("falls back to GITHUB_JOB without a Worker log", async () => {
    await hook("started");
    expect((await lines())[0]).to.include({ job: "test" });
  });

  it("runs its tools from a fixed PATH: a jq or date first on the job's PATH (GITHUB_PATH) is not used", async () => {
    // The runner puts the job's GITHUB_PATH first in a hook's PATH (ScriptHandler.cs AddPrependPathToEnvironment, v2.329.0).
    const bin = join(tmp.path, "job-bin");
    await mkdir(bin);
    for (const tool of ["jq", "date", "grep", "timeout"]) {
      await writeFile(join(bin, tool), `#!/bin/sh\necho planted > ${join(tmp.path, "planted-ran")}\nexit 0\n`);
      await chmod(join(bin, tool), 0o755);
    }
    thisJob().step("Run make", "Failed", "Failed").completedHook();
    expect((await hook("completed", { PATH: `${bin}:${process.env.PATH ?? ""}` })).code).to.equal(0);
    expect(existsSync(join(tmp.path, "planted-ran")), "no planted tool ran").to.equal(false);
    expect((await lines())[0]).to.include({ result: "failed" });
  });

  it("exits 0 when it cannot write the spool or gets a bad kind", async () => {
    expect((await hook("started", { CCO_SPOOL: join(tmp.path, "missing", "events.jsonl") })).code).to.equal(0);
    expect((await hook("exploded")).code).to.equal(0);
    expect(existsSync(spool()), "nothing appended").to.equal(false);
  });

  it("is bounded in time: a read that hangs inside is cut off and the job goes on", async () => {
    // A Worker page that never ends (a FIFO nobody writes): grep blocks on it.
    await mkdir(diag(), { recursive: true });
    expect(spawnSync("mkfifo", [join(diag(), "Worker_20261126-180000-utc.log")]).status).to.equal(0);
    const r = await hook("started", { CCO_HOOK_TIMEOUT_S: "1" });
    expect(r.code).to.equal(0);
    expect(r.ms).to.be.lessThan(5_000);
  });

  it("keeps lines whole when many hooks append at once", async () => {
    const runs = Array.from({ length: 24 }, (_, i) =>
      hook(i % 2 ? "completed" : "started", { GITHUB_RUN_ID: String(1000 + i) }),
    );
    await Promise.all(runs);
    const all = await lines();
    expect(all).to.have.length(24);
    expect(new Set(all.map((e) => e.runId)).size).to.equal(24);
  });
});
