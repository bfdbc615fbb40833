/**
 * The README's commands, run as written: every ```sh block is either run here
 * (npm start and the events posted to it, the offline plan) or skipped for a
 * stated reason, and a new block the test does not know fails it. The
 * service gets a free port and a temporary data directory through the
 * variables the README's commands read (STATS_PORT, STATS_DATA_DIR).
 */
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../infra/stackfile";
import { freePort } from "./helpers/ports";
import { waitFor } from "./helpers/service";
import { useTempDir } from "./helpers/tmp";

/** The README's ```sh blocks, in order. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** A block's commands, one per line, comments and blank lines dropped (heredocs kept whole by the caller). */
function commandLines(block: string): string[] {
  return block
    .split("\n")
    .map((l) => l.replace(/\s+#.*$/, "").trim())
    .filter((l) => l && !l.startsWith("#"));
}

function bash(script: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
    cwd: PROJECT_ROOT,
    env,
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const README = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
const blocks = shellBlocks(README);
const find = (start: string) => {
  const b = blocks.find((x) => x.trimStart().startsWith(start));
  if (b === undefined) throw new Error(`the README has no sh block starting with ${start}`);
  return b;
};

describe("README: a newcomer's commands run as written", function () {
  this.timeout(300_000);
  const tmp = useTempDir();

  const SKIPPED: Record<string, string> = {
    "npm ci && npm test": "it is the suite this test is part of",
  };
  const setUp = find("npm ci && npm test");
  const start = find("npm start");
  const events = find("STATS=");
  const stats = find('curl -s "$STATS/api/stats"');
  const plans = find("npm run plan");

  it("knows every sh block of the README (a new one must be run or skipped here)", () => {
    expect(blocks).to.deep.equal([setUp, start, events, stats, plans]);
    expect(commandLines(setUp)).to.deep.equal(Object.keys(SKIPPED));
  });

  it("npm start, then the three kinds of event posted with the generated token, then the stats show the job", async () => {
    const port = await freePort();
    const env = {
      ...process.env,
      STATS_PORT: String(port),
      STATS_DATA_DIR: join(tmp.path, "stats"),
      STATS_INTERVAL_MS: "200",
    };
    expect(commandLines(start)).to.deep.equal(["npm start"]);
    const service: ChildProcess = spawn("bash", ["-c", commandLines(start)[0]!], {
      cwd: PROJECT_ROOT,
      env,
      detached: true,
      stdio: "ignore",
    });
    try {
      await waitFor(
        "npm start to answer",
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200,
        60_000,
      );
      // The second terminal: the events, then (after a pass) the stats.
      const r = bash(`${events}\nsleep 1\n${stats}`, env);
      expect(r.status, r.stderr).to.equal(0);
      const answer = /^\{"accepted":2\}\{"accepted":1\}(\{[\s\S]*)$/.exec(r.stdout);
      expect(answer, r.stdout).to.not.equal(null);
      expect(JSON.parse(answer![1]!)).to.deep.include({
        started: 1,
        completed: 1,
        running: 0,
        succeeded: 1,
        failed: 0,
      });
      // Stamped with the current time: the job ended seconds ago, not days.
      const snapshot = (await (await fetch(`http://127.0.0.1:${port}/api/stats`)).json()) as {
        runners: Record<string, { lastHeartbeatAt: string }>;
      };
      expect(Date.now() - Date.parse(snapshot.runners["runner-01"]!.lastHeartbeatAt)).to.be.lessThan(60_000);
    } finally {
      process.kill(-service.pid!, "SIGTERM");
    }
  });

  it("the offline plan: each command succeeds, and the --json one gives jq JSON", () => {
    const lines = commandLines(plans);
    expect(lines.map((l) => l.split(" -- ")[1])).to.deep.equal([
      "--stack prod",
      "--stack prod --json | jq .",
      "--stack prod --out plan-out",
      "--stack prod --set runnerCount=7",
    ]);
    const out = join(PROJECT_ROOT, "plan-out");
    const hadOut = existsSync(out);
    try {
      for (const line of lines) {
        const r = bash(line, process.env);
        expect(r.status, `${line}\n${r.stderr}`).to.equal(0);
        if (line.includes("--json")) expect(JSON.parse(r.stdout)).to.be.an("array").that.is.not.empty;
        if (line.includes("runnerCount=7")) expect(r.stdout).to.include("fleet/runner-07");
      }
      expect(existsSync(join(out, "containers", "runner-01", "proxmox-firewall", "200.fw"))).to.equal(true);
    } finally {
      if (!hadOut) rmSync(out, { recursive: true, force: true });
    }
  });
});
