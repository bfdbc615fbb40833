/**
 * Results from GitHub (issue 15): the service polls a fake of GitHub's Actions
 * REST API (test/helpers/fake-github-actions.ts, shapes from GitHub's docs)
 * on 127.0.0.1, and shows queue time, jobs waiting, and where GitHub and the
 * hooks disagree.
 */
import { expect } from "chai";
import type { RunningService } from "../../service/server";
import { FakeGitHubActions, type FakeJob } from "../helpers/fake-github-actions";
import { jsonOf, ndjson } from "../helpers/events";
import { startTestService, TEST_TOKEN, waitFor } from "../helpers/service";
import { useTempDir } from "../helpers/tmp";

const REPO = "brentley/cco";

describe("github: queue time and reconciliation from GitHub's jobs API", function () {
  this.timeout(30_000);
  const tmp = useTempDir();
  let fake: FakeGitHubActions;
  let service: RunningService | undefined;

  beforeEach(async () => {
    fake = new FakeGitHubActions();
    await fake.start();
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await fake.stop();
  });

  const now = Date.now();
  const iso = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
  const job = (id: number, runId: number, over: Partial<FakeJob>): FakeJob => ({
    id,
    run_id: runId,
    run_attempt: 1,
    status: "completed",
    conclusion: "success",
    created_at: iso(600),
    started_at: iso(600 - 30),
    completed_at: iso(300),
    name: "test",
    labels: ["self-hosted", "linux"],
    runner_name: "runner-01",
    workflow_name: "build",
    ...over,
  });
  const hook = (type: string, runId: number, runner: string, secondsAgo: number, result?: string) => ({
    v: 1,
    type,
    ts: iso(secondsAgo),
    runner,
    repo: REPO,
    workflow: "build",
    job: "test",
    runId,
    runAttempt: 1,
    ...(result ? { result } : {}),
  });

  it("takes queue times and waiting jobs from GitHub, pages through jobs, and counts mismatches with the hooks", async () => {
    // Run 1: 150 jobs (two pages of 100): queued 30 s each, one per runner-01..; only job 1 is also in the hooks.
    const many = Array.from({ length: 150 }, (_, i) =>
      job(1000 + i, 1, { runner_name: `runner-0${(i % 3) + 1}`, name: i === 0 ? "test" : `shard-${i}` }),
    );
    fake.runs.set(REPO, [
      { id: 1, jobs: many },
      // Run 2: the hooks say failed, GitHub says success (a mismatch); run 3: no hook at all (missing); run 4: queued for 90 s now.
      { id: 2, jobs: [job(2000, 2, { created_at: iso(500), started_at: iso(500 - 120) })] },
      { id: 3, jobs: [job(3000, 3, { runner_name: "runner-02" })] },
      {
        id: 4,
        jobs: [
          job(4000, 4, { status: "queued", conclusion: null, started_at: null, completed_at: null, runner_name: null }),
        ],
      },
      // A GitHub-hosted job: not ours, neither waiting nor a queue time of our fleet.
      {
        id: 5,
        jobs: [
          job(5000, 5, {
            status: "queued",
            conclusion: null,
            started_at: null,
            labels: ["ubuntu-latest"],
            runner_name: null,
          }),
        ],
      },
    ]);
    service = await startTestService(tmp.path, {
      github: { token: fake.token, repos: [REPO], apiUrl: fake.url, intervalMs: 200 },
    });
    const events = [
      hook("job_started", 1, "runner-01", 570),
      hook("job_completed", 1, "runner-01", 300, "succeeded"),
      hook("job_started", 2, "runner-01", 380),
      hook("job_completed", 2, "runner-01", 300, "failed"),
      { v: 1, type: "heartbeat", ts: iso(5), runner: "runner-02" },
      { v: 1, type: "heartbeat", ts: iso(5), runner: "runner-03" },
    ];
    const res = await fetch(`${service.url}/api/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
      body: ndjson(events),
    });
    expect(res.status).to.equal(202);
    // Two polls: the second is answered 304 throughout.
    const s = await waitFor("two polls in a snapshot", async () => {
      const snap = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return snap.github && snap.github.notModified >= 7 && snap.events.total === events.length ? snap : undefined;
    });
    expect(s.github).to.include({ error: null, waiting: 1, compared: 152, matched: 1, resultMismatch: 1 });
    // 149 shards and run 3's job ran on our runners with no hook completion.
    expect(s.github.missingHook).to.equal(150);
    // Queue times: 150 + 1 + 1 jobs of 30 s and one of 120 s.
    expect(s.windows["1h"].queueSeconds.count).to.equal(152);
    expect(s.windows["1h"].queueSeconds.p50).to.be.within(28.5, 31.5);
    expect(s.windows["1h"].queueSeconds.p95).to.be.within(28.5, 31.5);
    // Every page was read: the 150-job run in two.
    const paths = fake.calls.map((c) => c.path);
    expect(paths).to.include("/repos/brentley/cco/actions/runs/1/jobs?per_page=100&page=2");
    expect(fake.calls.filter((c) => c.status === 304).length).to.be.greaterThan(6);
    // /metrics and the page say so too.
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics)
      .to.include("cco_github_jobs_waiting 1")
      .and.include('cco_github_reconciliation_total{outcome="result_mismatch"} 1');
    const page = await (await fetch(`${service.url}/`)).text();
    expect(page).to.match(
      /data-stat="queue"><h2>Queue time p50, last 24 h<\/h2><p class="value">(29|30|31)s<\/p><p class="detail">p95 (29|30|31)s · 1 waiting now/,
    );
    expect(page).to.match(/data-stat="reconcile"[\s\S]*?<p class="value">151<\/p>/);
  });

  it("shows a failed poll, keeps going, and stays within the rate limit", async () => {
    fake.runs.set(REPO, [{ id: 1, jobs: [job(1, 1, {})] }]);
    service = await startTestService(tmp.path, {
      github: { token: "wrong-token", repos: [REPO], apiUrl: fake.url, intervalMs: 100 },
    });
    const s = await waitFor("a failed poll in a snapshot", async () => {
      const snap = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return snap.github?.error ? snap : undefined;
    });
    expect(s.github.error).to.equal("GET /repos/brentley/cco/actions/runs?per_page=20 answered 401");
    await service.stop();
    const calls = fake.calls.length;
    fake.rateRemaining = 52; // under the reserve: after its first poll the service waits for the reset
    service = await startTestService(tmp.path, {
      github: { token: fake.token, repos: [REPO], apiUrl: fake.url, intervalMs: 100 },
    });
    const limited = await waitFor("the rate-limit wait in a snapshot", async () => {
      const snap = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return snap.github?.error?.startsWith("rate limit") ? snap : undefined;
    });
    expect(limited.github.error).to.match(/^rate limit nearly used \(50 left\): waiting until \d{4}-/);
    await new Promise((r) => setTimeout(r, 500));
    // One poll (the runs and the one run's jobs), then nothing more until the reset.
    expect(fake.calls.length - calls).to.equal(2);
  });
});
