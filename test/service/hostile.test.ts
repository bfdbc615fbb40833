/**
 * Bounds (issue 15): whatever arrives, the service's memory stays bounded. The
 * service runs as deployed (the esbuild bundle, the unit's Node flags with
 * --max-old-space-size) in a child process, over a data dir holding a hostile
 * stream; it must keep answering, stay under the heap limit, count what it let
 * go, and start again on the same files.
 */
import { expect } from "chai";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleStatsService } from "../../infra/stats/bundle";
import { STATS_NODE_FLAGS } from "../../infra/stats/runtime";
import { LIMITS } from "../../service/aggregate/aggregator";
import { jsonOf } from "../helpers/events";
import { writeHostile, type HostileCounts } from "../helpers/hostile";
import { spawnService, TEST_TOKEN, waitFor, type ChildService } from "../helpers/service";

const HEAP_LIMIT_MB = Number(/--max-old-space-size=(\d+)/.exec(STATS_NODE_FLAGS.join(" "))![1]);
const DECLARED = ["runner-01", "runner-02", "runner-03", "runner-04"];

describe("service: hostile input stays within bounds (bundle, deployed Node flags)", function () {
  this.timeout(180_000);
  let tmp: string;
  let bundle: string;
  let dataDir: string;
  let counts: HostileCounts;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "cco-hostile-"));
    bundle = bundleStatsService(join(tmp, "stats-service.js")).path;
    dataDir = join(tmp, "data");
    await mkdir(dataDir);
    counts = await writeHostile(dataDir, "runner-01", Date.now());
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  const env = () => ({
    STATS_DATA_DIR: dataDir,
    STATS_INGEST_TOKEN: TEST_TOKEN,
    STATS_INTERVAL_MS: "1000",
    STATS_RUNNERS: DECLARED.join(","),
  });

  /** Starts the service, polls /api/stats until every line is counted, and returns what it said. */
  async function runUntilCounted(): Promise<{
    svc: ChildService;
    stats: Awaited<ReturnType<typeof jsonOf>>;
    slowestMs: number;
  }> {
    const svc = await spawnService(env(), bundle, STATS_NODE_FLAGS);
    let slowestMs = 0;
    const stats = await waitFor(
      "every hostile line counted",
      async () => {
        const t = Date.now();
        const res = await fetch(`${svc.url}/api/stats`);
        slowestMs = Math.max(slowestMs, Date.now() - t);
        const s = await jsonOf(res);
        return s.status === "ok" && s.events.total === counts.valid ? s : undefined;
      },
      120_000,
    );
    return { svc, stats, slowestMs };
  }

  async function stop(svc: ChildService) {
    svc.child.kill("SIGTERM");
    const exit = await svc.exited;
    expect(exit.code, svc.stderr()).to.equal(0);
  }

  it("keeps the heap under the deployed limit, answers throughout, and counts what it dropped", async () => {
    const { svc, stats, slowestMs } = await runUntilCounted();
    try {
      expect(counts.lines).to.be.greaterThan(1_200_000);
      expect(stats.aggregation.heapUsedBytes).to.be.below(HEAP_LIMIT_MB * 1024 * 1024);
      expect(slowestMs, "slowest /api/stats during the cold pass").to.be.below(2000);
      const d = stats.events.dropped;
      expect(d.future).to.equal(counts.future);
      expect(d.openJobs).to.be.greaterThan(1_000_000 - 10);
      expect(d.repos).to.be.greaterThan(100_000 - LIMITS.repos - 1);
      expect(d.jobNames).to.be.greaterThan(100_000 - LIMITS.jobNames - 1);
      expect(d.runners).to.equal(100_000 - LIMITS.undeclaredRunners);
      expect(stats.events.rejected).to.equal(counts.rejected);
      expect(stats.jobs.running).to.be.at.most(LIMITS.openJobsPerRunner * (DECLARED.length + LIMITS.undeclaredRunners));
      expect(Object.keys(stats.runners)).to.have.length(DECLARED.length + LIMITS.undeclaredRunners);
      expect(Object.keys(stats.repos).length).to.be.at.most(LIMITS.repos + 1);
      // Still answering everything, and /metrics says what was dropped.
      expect((await fetch(`${svc.url}/healthz`)).status).to.equal(200);
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).to.match(/cco_events_dropped_total\{reason="openJobs"\} 9\d{5}/);
      const heap = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)![1]);
      expect(heap).to.be.below(HEAP_LIMIT_MB * 1024 * 1024);
      const page = await fetch(`${svc.url}/?window=1h`);
      expect(page.status).to.equal(200);
      expect(await page.text()).to.include("dropped");
    } finally {
      await stop(svc);
    }
  });

  it("starts again on the same files, and counts them the same", async () => {
    const { svc, stats } = await runUntilCounted();
    try {
      expect(stats.events.dropped.future).to.equal(counts.future);
      expect(stats.aggregation.heapUsedBytes).to.be.below(HEAP_LIMIT_MB * 1024 * 1024);
      expect(svc.child.exitCode).to.equal(null);
    } finally {
      await stop(svc);
    }
  });
});
