import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { assess, parseHealthArgs, runHealth, type HealthSnapshot } from "../../../infra/runners/health";
import { UsageError } from "../../../infra/tools/cli";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import type { RunningService } from "../../../service/server";
import { FakeGitHub } from "../../helpers/fake-github";
import { startTestService, TEST_TOKEN, waitFor } from "../../helpers/service";
import { freePort } from "../../helpers/ports";
import { useTempDir } from "../../helpers/tmp";

const NOW = Date.parse("2026-11-26T20:00:00.000Z");
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();
const runner = (lastHeartbeatAt: string | null, lastJob: HealthSnapshot["runners"][string]["lastJob"] = null) => ({
  running: 0,
  lastHeartbeatAt,
  lastJob,
});
const snapshot = (runners: HealthSnapshot["runners"]): HealthSnapshot => ({
  generatedAt: ago(5),
  status: "ok",
  runners,
});
const gh = (name: string, status = "online", busy = false) => ({ id: Number(name.slice(-2)), name, status, busy });

describe("runners: npm run health", () => {
  describe("assess (plain data)", () => {
    const opts = { now: NOW, staleAfterS: 300 };

    it("is healthy with a fresh heartbeat and shows the last job", () => {
      const [r] = assess(
        snapshot({ "runner-01": runner(ago(42), { workflow: "build", job: "test", result: "failed", at: ago(600) }) }),
        opts,
      );
      expect(r).to.deep.include({
        name: "runner-01",
        healthy: true,
        heartbeat: "heartbeat 42s ago",
        lastJob: "last job build/test failed 10m ago",
      });
    });

    it("flags a stale heartbeat and a runner that never beat", () => {
      const rows = assess(snapshot({ "runner-01": runner(ago(301)), "runner-02": runner(null) }), opts);
      expect(rows.map((r) => [r.name, r.healthy, r.problems])).to.deep.equal([
        ["runner-01", false, ["heartbeat older than 5m"]],
        ["runner-02", false, ["no heartbeat ever"]],
      ]);
    });

    it("flags a runner whose heartbeat says its listener failed or is refused by GitHub (forwarder.sh's fields)", () => {
      const rows = assess(
        snapshot({
          "runner-01": { ...runner(ago(10)), listener: "running", listenerExitCode: null },
          "runner-02": { ...runner(ago(10)), listener: "refused", listenerExitCode: 7 },
          "runner-03": { ...runner(ago(10)), listener: "failed", listenerExitCode: 137 },
          "runner-04": { ...runner(ago(10)), listener: "stopped", listenerExitCode: 0 },
        }),
        opts,
      );
      expect(rows.map((r) => [r.name, r.healthy, r.heartbeat])).to.deep.equal([
        ["runner-01", true, "heartbeat 10s ago, listener running"],
        ["runner-02", false, "heartbeat 10s ago, listener refused (exit 7)"],
        ["runner-03", false, "heartbeat 10s ago, listener failed (exit 137)"],
        ["runner-04", true, "heartbeat 10s ago, listener stopped (exit 0)"],
      ]);
      expect(rows[1]!.problems.join()).to.include("GitHub refuses this runner");
    });

    it("ephemeral: each life's runner (runner-01-<suffix>) is its slot's; the controllers' heartbeats are not runners", () => {
      const life = (name: string, id: number, status = "online", busy = false) => ({ id, name, status, busy });
      const snap = snapshot({
        "runner-01": runner(ago(10)),
        "runner-02": runner(ago(10)),
        "runner-03": runner(ago(10)),
        "cco-controller-pve": runner(ago(5)),
      });
      const github = [
        life("runner-01-mfx3k2a", 41, "online", true),
        life("runner-01-mfx2zzz", 40, "offline"), // an older life GitHub has not removed yet
        life("runner-02-mfx3k9b", 42),
        life("runner-05-mfx3kaa", 45), // a slot the stack no longer declares
      ];
      const rows = assess(snap, { ...opts, github });
      expect(rows.map((r) => [r.name, r.github, r.healthy])).to.deep.equal([
        ["runner-01", "github: online, busy as runner-01-mfx3k2a", true],
        ["runner-02", "github: online, idle as runner-02-mfx3k9b", true],
        ["runner-03", "github: not registered", false],
        ["runner-05-mfx3kaa", "github: online, idle", false],
      ]);
      // With the stack's slots, a life of an undeclared slot is a ghost.
      const declared = assess(snap, {
        ...opts,
        github,
        expected: ["runner-01", "runner-02", "runner-03", "runner-04"],
      });
      expect(declared.map((r) => r.name)).to.deep.equal([
        "runner-01",
        "runner-02",
        "runner-03",
        "runner-04",
        "runner-05-mfx3kaa",
      ]);
      expect(declared[4]!.problems.join()).to.include("a ghost");
    });

    it("adds GitHub's view: offline and unregistered runners are unhealthy, busy is shown", () => {
      const rows = assess(
        snapshot({ "runner-01": runner(ago(10)), "runner-02": runner(ago(10)), "runner-03": runner(ago(10)) }),
        {
          ...opts,
          github: [gh("runner-01", "online", true), gh("runner-02", "offline")],
        },
      );
      expect(rows.map((r) => [r.github, r.healthy])).to.deep.equal([
        ["github: online, busy", true],
        ["github: offline", false],
        ["github: not registered", false],
      ]);
    });

    it("with the stack's fleet: lists declared runners even when silent, ignores removed ones' history, flags ghosts", () => {
      const rows = assess(snapshot({ "runner-01": runner(ago(10)), "runner-09": runner(ago(86400)) }), {
        ...opts,
        expected: ["runner-01", "runner-02"],
        github: [gh("runner-01"), gh("runner-02"), gh("runner-07", "offline")],
      });
      expect(rows.map((r) => r.name)).to.deep.equal(["runner-01", "runner-02", "runner-07"]);
      expect(rows[1]!.problems).to.deep.equal(["no heartbeat ever"]);
      expect(rows[2]!.problems.join()).to.include("ghost");
    });

    it("refuses bad arguments with the usage", () => {
      const bad = [["--stale-after", "soon"], ["--stats-url"], ["--what"]];
      for (const argv of bad) expect(() => parseHealthArgs(argv), argv.join(" ")).to.throw(UsageError);
      expect(parseHealthArgs(["--stats-url", "http://x", "--stale-after", "60"])).to.include({
        statsUrl: "http://x",
        staleAfterS: 60,
      });
    });
  });

  describe("against the real stats service and a fake GitHub", function () {
    this.timeout(30_000);
    const tmp = useTempDir();
    let service: RunningService;
    const github = new FakeGitHub();
    const lines: string[] = [];
    const out = (s: string) => lines.push(...s.split("\n"));

    before(async () => {
      await github.start();
    });
    after(async () => {
      await github.stop();
    });
    beforeEach(async () => {
      lines.length = 0;
      service = await startTestService(tmp.path);
      const now = Date.now();
      const iso = (s: number) => new Date(now - s * 1000).toISOString();
      const events = [
        { v: 1, type: "heartbeat", ts: iso(20), runner: "runner-01" },
        {
          v: 1,
          type: "job_started",
          ts: iso(200),
          runner: "runner-01",
          repo: "brentley/cco",
          workflow: "build",
          job: "test",
          runId: 7,
          runAttempt: 1,
        },
        {
          v: 1,
          type: "job_completed",
          ts: iso(100),
          runner: "runner-01",
          repo: "brentley/cco",
          workflow: "build",
          job: "test",
          runId: 7,
          runAttempt: 1,
          result: "succeeded",
        },
        { v: 1, type: "heartbeat", ts: iso(30), runner: "runner-02" },
        { v: 1, type: "heartbeat", ts: iso(900), runner: "runner-03" },
      ];
      const res = await fetch(`${service.url}/api/events`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_TOKEN}` },
        body: events.map((e) => JSON.stringify(e)).join("\n"),
      });
      expect(res.status).to.equal(202);
      await waitFor("a pass with the heartbeats", async () => {
        const s = (await (await fetch(`${service.url}/api/stats`)).json()) as HealthSnapshot;
        return s.runners["runner-03"]?.lastHeartbeatAt ? s : undefined;
      });
    });
    afterEach(async () => {
      await service.stop();
    });

    it("prints one line per runner and exits 1 when one is unhealthy", async () => {
      github.runners = [
        { id: 1, name: "runner-01", busyFor: 0 },
        { id: 2, name: "runner-02", busyFor: 0, status: "offline" },
        { id: 3, name: "runner-03", busyFor: 0 },
      ];
      const code = await runHealth(
        ["--stats-url", service.url, "--github-token-env", "FAKE_TOKEN", "--repo", "brentley/cco"],
        { FAKE_TOKEN: github.token, GITHUB_API_URL: github.url },
        out,
      );
      expect(code).to.equal(1);
      expect(lines).to.have.length(4);
      expect(lines[0]).to.match(
        /^runner-01\s+ok\s+heartbeat 2\ds ago\s+last job build\/test succeeded \dm \d\ds ago\s+github: online, idle$/,
      );
      expect(lines[1]).to.match(/^runner-02\s+UNHEALTHY .*github: offline\s+<- GitHub says offline$/);
      // 900 s old when sent; a loaded machine may take seconds to the check ("15m 02s ago").
      expect(lines[2]).to.match(/^runner-03\s+UNHEALTHY\s+heartbeat 15m( 0\ds)? ago .*<- heartbeat older than 5m$/);
      expect(lines[3]).to.equal("2 of 3 runners unhealthy");
      expect(github.calls.every((c) => c.authorization === `Bearer ${github.token}`)).to.equal(true);
    });

    it("exits 0 when every runner is healthy", async () => {
      const code = await runHealth(["--stats-url", service.url, "--stale-after", "1000"], {}, out);
      expect(lines.at(-1)).to.equal("all 3 runners healthy");
      expect(code).to.equal(0);
    });
  });

  it("exits 2 with a clear message when the stats service is unreachable", async () => {
    const port = await freePort();
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(PROJECT_ROOT, "infra/runners/health.ts"), "--stats-url", `http://127.0.0.1:${port}`],
      {
        encoding: "utf8",
      },
    );
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include(
      `health: stats service unreachable at http://127.0.0.1:${port}/api/stats: Error: connect ECONNREFUSED`,
    );
  });

  it("exits 2 when a token variable is named but empty", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(PROJECT_ROOT, "infra/runners/health.ts"),
        "--stats-url",
        "http://127.0.0.1:9",
        "--github-token-env",
        "NOPE_UNSET",
        "--repo",
        "a/b",
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH } },
    );
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include("environment variable NOPE_UNSET (--github-token-env) is empty or not set");
  });
});
