/**
 * The life loop against a real HTTP fake GitHub and an in-memory container
 * that behaves as pct documents it (controller/pct.ts): rollback stops a
 * running container, start fails on a running one, exec needs a running one.
 * The LXC end-to-end test (test/infra/runners/ephemeral-e2e.test.ts) runs the
 * same loop against real containers; this one covers the orderings that are
 * slow or rare there.
 */
import { expect } from "chai";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GitHubRunners } from "../../controller/github";
import { HANDOFF_NOT_READY, lifeRunnerName, RunnerLoop } from "../../controller/life";
import { Figures } from "../../controller/metrics";
import { PctError, type ContainerState, type Result } from "../../controller/pct";
import { RunnerState } from "../../controller/state";
import { silentLogger } from "../../service/log";
import { FakeJitGitHub } from "../helpers/fake-github-jit";
import { useTempDir } from "../helpers/tmp";

/* eslint-disable @typescript-eslint/require-await -- async without awaits: as with the real Pct, a throw reaches the caller as a rejection */
class MemoryContainer {
  state: ContainerState = "running";
  readonly calls: string[] = [];
  /** exec answers "not ready" this many times after a start (the boot). */
  bootExecs = 2;
  private notReady = 0;
  handedIn: string[] = [];

  async status(): Promise<ContainerState> {
    return this.state;
  }
  async start(vmid: number): Promise<void> {
    this.calls.push(`start ${vmid}`);
    if (this.state === "running") throw new PctError(`CT ${vmid} already running`);
    this.state = "running";
    this.notReady = this.bootExecs;
  }
  async stop(vmid: number): Promise<void> {
    this.calls.push(`stop ${vmid}`);
    if (this.state !== "running") throw new PctError(`CT ${vmid} not running`);
    this.state = "stopped";
  }
  async rollback(vmid: number, snap: string): Promise<void> {
    this.calls.push(`rollback ${vmid} ${snap}`);
    this.state = "stopped";
  }
  async exec(vmid: number, argv: readonly string[], input: string): Promise<Result> {
    this.calls.push(`exec ${vmid} ${argv.join(" ")}`);
    if (this.state !== "running") return { code: 255, stdout: "", stderr: `container '${vmid}' not running!` };
    if (this.notReady-- > 0) return { code: HANDOFF_NOT_READY, stdout: "", stderr: "not ready" };
    this.handedIn.push(input);
    return { code: 0, stdout: "handed over", stderr: "" };
  }
}
/* eslint-enable @typescript-eslint/require-await */

const settings = {
  snapshot: "cco-clean",
  labels: ["self-hosted"],
  runnerGroupId: 1,
  handoff: "/opt/cco/jit-handoff.sh",
  pollMs: 20,
  handoffTimeoutMs: 5000,
};

describe("controller: a runner's lives", function () {
  const tmp = useTempDir("cco-ctl-life-");
  const gh = new FakeJitGitHub(join(tmpdir(), `cco-ctl-life-${process.pid}.sock`), "/unused");
  before(() => gh.start());
  after(() => gh.stop());

  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(cond(), "condition not reached").to.equal(true);
  };

  function loop(ct: MemoryContainer, state = new RunnerState(join(tmp.path, "state")), figures = new Figures()) {
    const github = new GitHubRunners(gh.url, gh.repo, gh.token);
    return {
      l: new RunnerLoop(301, "runner-01", settings, { pct: ct, github, state, figures, log: silentLogger }),
      state,
      figures,
    };
  }

  it("rolls back, starts, hands in a fresh JIT config on stdin, and starts over when the container stops", async () => {
    const ct = new MemoryContainer();
    const { l, figures } = loop(ct);
    const done = l.run();
    await until(() => ct.handedIn.length === 1);
    const first = [...gh.runners.values()].at(-1)!;
    expect(ct.calls.slice(0, 2)).to.deep.equal(["rollback 301 cco-clean", "start 301"]);
    expect(ct.calls.filter((c) => c.startsWith("exec")).length, "retried while booting").to.equal(3);
    // The config handed in is the one GitHub made for this life's runner.
    const files = JSON.parse(Buffer.from(ct.handedIn[0]!.trim(), "base64").toString("utf8")) as Record<string, string>;
    expect(JSON.parse(Buffer.from(files[".runner"]!, "base64").toString("utf8")).agentName).to.equal(first.name);
    // The configured labels and the slot's own name (as a persistent runner has it).
    expect(first.labels).to.deep.equal(["self-hosted", "runner-01"]);
    // The runner ran its job and GitHub removed it; the container powered off.
    first.jobId = 1;
    first.completedAt = first.removedAt = Date.now();
    ct.state = "stopped";
    await until(() => ct.handedIn.length === 2);
    const second = [...gh.runners.values()].at(-1)!;
    expect(second.name).to.not.equal(first.name);
    expect(ct.calls.filter((c) => c.startsWith("rollback")).length).to.equal(2);
    l.stop();
    await done;
    expect(await figures.registry.getSingleMetricAsString("cco_controller_lives_total")).to.include(
      'cco_controller_lives_total{runner="runner-01"} 2',
    );
    expect(second.removedBy, "the idle runner is removed on stop").to.equal("delete");
    expect(ct.calls.at(-1)).to.equal("stop 301");
  });

  it("removes a runner that never got a job before its container goes, and counts it", async () => {
    const ct = new MemoryContainer();
    const { l, figures } = loop(ct);
    const done = l.run();
    await until(() => ct.handedIn.length === 1);
    const idle = [...gh.runners.values()].at(-1)!;
    // The runner died without a job: the container powered off anyway.
    ct.state = "stopped";
    await until(() => ct.handedIn.length === 2);
    expect(idle.removedBy).to.equal("delete");
    l.stop();
    await done;
    expect(await figures.registry.getSingleMetricAsString("cco_controller_jobless_removed_total")).to.match(
      /runner="runner-01"\} 2/,
    );
  });

  it("after a controller restart, removes the last runner it had before the reset; waits while it runs a job", async () => {
    const github = new GitHubRunners(gh.url, gh.repo, gh.token);
    const left = await github.generateJitConfig({
      name: lifeRunnerName("runner-01", 1),
      labels: ["self-hosted"],
      runnerGroupId: 1,
    });
    gh.runners.get(left.runnerId)!.jobId = 7; // busy
    const state = new RunnerState(join(tmp.path, "state"));
    state.set(301, { runnerId: left.runnerId, lifeRunner: left.runnerName });
    const ct = new MemoryContainer();
    const { l } = loop(ct, state);
    const done = l.run();
    await new Promise((r) => setTimeout(r, 300));
    expect(ct.calls, "nothing touched while its job runs").to.deep.equal([]);
    // The job ends: GitHub removes the runner, the container powers off.
    const r = gh.runners.get(left.runnerId)!;
    r.completedAt = r.removedAt = Date.now();
    ct.state = "stopped";
    await until(() => ct.handedIn.length === 1);
    expect(ct.calls[0]).to.equal("rollback 301 cco-clean");
    l.stop();
    await done;
  });

  it("counts a failed step and retries the life", async () => {
    const ct = new MemoryContainer();
    ct.state = "stopped";
    let fail = true;
    const start = ct.start.bind(ct);
    ct.start = async (vmid: number) => {
      if (fail) {
        fail = false;
        throw new PctError("storage busy");
      }
      return start(vmid);
    };
    const { l, figures } = loop(ct);
    const done = l.run();
    await until(() => ct.handedIn.length === 1);
    l.stop();
    await done;
    expect(await figures.registry.getSingleMetricAsString("cco_controller_failures_total")).to.include(
      'stage="start"} 1',
    );
  });
});
