/**
 * The dashboard in a real browser: Debian's chromium, driven by
 * playwright-core, against the service on 127.0.0.1 fed with events over
 * HTTP. Skipped (saying why) where chromium is missing, never under CI=true.
 */
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Snapshot } from "../../service/aggregate/aggregator";
import { utcClock } from "../../service/dashboard/markup";
import { formatCount, formatDuration } from "../../service/dashboard/view";
import type { RunningService } from "../../service/server";
import { chromiumUnavailable, launchChromium } from "../helpers/browser";
import { jsonOf, ndjson } from "../helpers/events";
import { startTestService, TEST_TOKEN, waitFor } from "../helpers/service";
import { useTempDir } from "../helpers/tmp";

const EVIL_RUNNER = "<script>window.__pwned = 1</script>";

/** Events around the real clock (staleness is measured against the snapshot's time). */
function fleetEvents(now: number): Array<Record<string, unknown>> {
  const ts = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
  const job = (runner: string, runId: number, repo = "brentley/cco") => ({
    v: 1,
    runner,
    repo,
    workflow: "build",
    job: "test",
    runId,
    runAttempt: 1,
  });
  const events: Array<Record<string, unknown>> = [];
  for (const runner of ["runner-01", "runner-02", EVIL_RUNNER])
    events.push({ v: 1, type: "heartbeat", ts: ts(20), runner });
  events.push({ v: 1, type: "heartbeat", ts: ts(900), runner: "runner-04" }); // stale: 15 minutes
  const durations = [30, 45, 60, 90, 120, 150, 200, 240, 400, 600];
  durations.forEach((d, i) => {
    const runner = ["runner-01", "runner-02", EVIL_RUNNER][i % 3]!;
    const repo = i % 4 === 0 ? "brentley/cco-infra" : "brentley/cco";
    events.push({ ...job(runner, 100 + i, repo), type: "job_started", ts: ts(3000 - i * 100) });
    events.push({
      ...job(runner, 100 + i, repo),
      type: "job_completed",
      ts: ts(3000 - i * 100 - d),
      result: i % 3 === 1 ? "failed" : "succeeded",
    });
  });
  events.push({ ...job("runner-04", 200), type: "job_started", ts: ts(1000) }); // stuck on the stale runner
  events.push({ ...job("runner-01", 201), type: "job_started", ts: ts(10) });
  return events;
}

describe("dashboard in chromium", function () {
  this.timeout(60_000);
  const tmp = useTempDir();
  let browser: Browser | undefined;
  let service: RunningService | undefined;
  let context: BrowserContext | undefined;

  before(async function () {
    const missing = chromiumUnavailable();
    if (missing) {
      process.stderr.write(`    skipping the browser tests: ${missing}\n`);
      this.skip();
    }
    browser = await launchChromium();
  });
  after(async () => browser?.close());
  afterEach(async () => {
    await context?.close();
    context = undefined;
    await service?.stop();
    service = undefined;
  });

  const post = async (events: unknown[]) => {
    const res = await fetch(`${service!.url}/api/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
      body: ndjson(events),
    });
    expect(res.status).to.equal(202);
  };
  const stats = async (): Promise<Snapshot> => jsonOf(await fetch(`${service!.url}/api/stats`));

  /** The service with the sample fleet aggregated. */
  async function startFleet(overrides: Parameters<typeof startTestService>[1] = {}): Promise<Snapshot> {
    service = await startTestService(tmp.path, overrides);
    const events = fleetEvents(Date.now());
    await post(events);
    await waitFor("the events in a pass", async () => (await stats()).events.total === events.length || undefined);
    return stats();
  }

  /** A page that records everything that went wrong while it was open. */
  async function open(
    options: Parameters<Browser["newContext"]>[0] = {},
    path = "/",
  ): Promise<{ page: Page; problems: string[] }> {
    context = await browser!.newContext(options);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
    const res = await page.goto(`${service!.url}${path}`);
    expect(res?.status()).to.equal(200);
    return { page, problems };
  }
  // Polled from here: page.waitForFunction evaluates strings in the page, which the CSP forbids.
  const drawn = (page: Page) =>
    waitFor(
      "the script to draw the page",
      async () => (await page.locator("#dashboard").getAttribute("data-renders")) ?? undefined,
    );
  // The script redraws the charts every refresh: a box asked for mid-redraw is null, ask again.
  const boxOf = (page: Page, selector: string) =>
    waitFor(
      selector,
      async () =>
        (await page
          .locator(selector)
          .boundingBox()
          .catch(() => null)) ?? undefined,
    );
  const tile = (page: Page, key: string) => page.locator(`[data-stat="${key}"] .value`).textContent();

  it("loads without console errors, draws the charts, and shows the numbers of /api/stats", async () => {
    await startFleet();
    const { page, problems } = await open();
    await drawn(page);

    // Every chart has lines with points in them.
    for (const [chart, series] of [
      ["chart-running", ["running"]],
      ["chart-rate", ["rate"]],
      ["chart-duration", ["p50", "p95"]],
    ] as const) {
      const paths = await page
        .locator(`#${chart} svg.plot path.line`)
        .evaluateAll((els) => els.map((e) => [e.getAttribute("data-series"), e.getAttribute("d")]));
      expect(
        paths.map((p) => p[0]),
        chart,
      ).to.deep.equal([...series]);
      // Drawn from the events' own times: a service seconds old already shows the last hour's jobs.
      for (const [, d] of paths) expect(d, chart).to.match(/^M[\d.]+ [\d.]+L[\d.]+ [\d.]+/);
      const box = await boxOf(page, `#${chart} svg.plot`);
      expect(box.width, chart).to.be.greaterThan(200);
      expect(box.height, chart).to.be.greaterThan(100);
    }

    // The numbers are the API's (counts stay put once all events are read).
    const s = await stats();
    expect(await tile(page, "running")).to.equal(formatCount(s.jobs.running));
    expect(s.jobs.running).to.equal(2);
    const w = s.windows["24h"];
    expect(w.completed).to.equal(s.jobs.completed); // every job of the fleet is in the last 24 h
    expect(await tile(page, "completed")).to.equal(formatCount(w.completed));
    expect(await tile(page, "failed")).to.equal(formatCount(w.failed));
    expect(await tile(page, "p50")).to.equal(formatDuration(w.durationSeconds.p50));
    expect(await page.locator('[data-stat="p50"] .detail').textContent()).to.equal(
      `p95 ${formatDuration(w.durationSeconds.p95)} · all time p50 ${formatDuration(s.durationSeconds.p50)}`,
    );
    expect(await tile(page, "stale")).to.equal("1");
    const rows = await page.locator("#runner-rows tr").evaluateAll((trs) =>
      trs.map((tr) => ({
        name: tr.querySelector("th")!.textContent,
        stale: tr.classList.contains("stale"),
        completed: tr.querySelector('[data-field="completed"]')!.textContent,
        failed: tr.querySelector('[data-field="failed"]')!.textContent,
      })),
    );
    expect(rows).to.deep.equal(
      Object.entries(s.runners).map(([name, r]) => ({
        name,
        stale: name === "runner-04",
        completed: formatCount(r.completed),
        failed: formatCount(r.failed),
      })),
    );
    const repos = await page
      .locator("#repo-rows tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.querySelector("th")!.textContent,
          tr.querySelector('[data-field="failed"]')!.textContent,
          tr.querySelector('[data-field="completed"]')!.textContent,
        ]),
      );
    expect(repos).to.have.deep.members(
      Object.entries(s.repos).map(([name, r]) => [name, formatCount(r.failed), formatCount(r.completed)]),
    );
    // The last aggregation is shown in UTC (as the server rendered it) and its age.
    const [generated, shown] = await page
      .locator("#generated-at")
      .evaluate((el) => [el.getAttribute("datetime")!, el.textContent!]);
    expect(shown).to.equal(utcClock(generated));
    expect(await page.locator("#age").textContent()).to.match(/^ \((just now|[\d.]+s ago)\)$/);
    expect(await page.locator("#offline").isHidden()).to.equal(true);
    expect(problems).to.deep.equal([]);
  });

  it("shows a runner named with <script> as text, and runs nothing of it", async () => {
    await startFleet();
    const { page, problems } = await open();
    await drawn(page);
    const cell = page.locator("#runner-rows th", { hasText: "<script>" });
    expect(await cell.textContent()).to.equal(EVIL_RUNNER);
    expect(await cell.evaluate((th) => th.children.length)).to.equal(0);
    expect(await page.evaluate("window.__pwned")).to.equal(undefined);
    expect(await page.locator("script").count()).to.equal(1);
    expect(problems).to.deep.equal([]);
  });

  it("refreshes by itself when new events arrive", async () => {
    const before = await startFleet();
    const { page, problems } = await open();
    await drawn(page);
    const done = {
      v: 1,
      type: "job_completed",
      ts: new Date().toISOString(),
      runner: "runner-01",
      repo: "brentley/cco",
      workflow: "build",
      job: "test",
      runId: 201,
      runAttempt: 1,
      result: "failed",
    };
    await post([done]);
    await waitFor(
      "the failed tile to count the new failure",
      async () => (await tile(page, "failed")) === formatCount(before.jobs.failed + 1) || undefined,
    );
    expect(await tile(page, "running")).to.equal(formatCount(before.jobs.running - 1));
    expect(problems).to.deep.equal([]);
  });

  it("shows the latest numbers with JavaScript off", async () => {
    const s = await startFleet();
    const { page } = await open({ javaScriptEnabled: false });
    expect(await page.locator("#dashboard").getAttribute("data-renders")).to.equal(null);
    expect(await tile(page, "running")).to.equal(formatCount(s.jobs.running));
    expect(await tile(page, "completed")).to.equal(formatCount(s.windows["24h"].completed));
    expect(await tile(page, "p50")).to.equal(formatDuration(s.windows["24h"].durationSeconds.p50));
    expect(await page.locator("#runner-rows tr").count()).to.equal(Object.keys(s.runners).length);
    expect(await page.locator("#runner-rows tr.stale th").textContent()).to.equal("runner-04");
    expect(await page.locator("#chart-duration path.line.p95").getAttribute("d")).to.match(/^M/);
  });

  it("fits a phone's width", async () => {
    await startFleet();
    const { page, problems } = await open({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    await drawn(page);
    const widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]");
    expect((widths as number[])[0]).to.be.at.most((widths as number[])[1]!);
    // The stale runner's heartbeat is on screen, not in a column scrolled away.
    const hb = await boxOf(page, "#runner-rows tr.stale .heartbeat");
    expect(hb.x + hb.width).to.be.at.most(390);
    expect(problems).to.deep.equal([]);
  });

  /** Moves the pointer over point `i` of `n` of a chart, and returns the tooltip's text. */
  async function hoverPoint(page: Page, chart: string, i: number, n: number): Promise<string> {
    await page.locator(`#${chart}`).scrollIntoViewIfNeeded();
    const tip = page.locator(`#${chart} .tooltip`);
    // Moved again on each try: a scroll or a redraw under the pointer can swallow one move.
    return waitFor("the tooltip", async () => {
      const box = await boxOf(page, `#${chart} svg.plot`);
      await page.mouse.move(box.x + (i / (n - 1)) * box.width, box.y + box.height / 2, { steps: 2 });
      return ((await tip.isVisible()) && (await tip.textContent())) || undefined;
    });
  }

  /** Two hours of jobs, one every 5 minutes, that ended three hours ago: what a forwarder delivers after an outage. */
  function backDated(now: number): Array<Record<string, unknown>> {
    const events: Array<Record<string, unknown>> = [];
    for (let k = 0; k < 24; k++) {
      const start = now - 5 * 3600_000 + k * 300_000;
      const job = {
        v: 1,
        runner: "runner-01",
        repo: "brentley/cco",
        workflow: "build",
        job: "test",
        runId: 500 + k,
        runAttempt: 1,
      };
      events.push({ ...job, type: "job_started", ts: new Date(start).toISOString() });
      events.push({ ...job, type: "job_completed", ts: new Date(start + 120_000).toISOString(), result: "succeeded" });
    }
    return events;
  }

  it("draws a back-dated batch at its event time, and shows values on hover", async () => {
    service = await startTestService(tmp.path);
    const now = Date.now();
    await post(backDated(now));
    await waitFor("the batch in a pass", async () => (await stats()).jobs.completed === 24 || undefined);
    const { page, problems } = await open({ viewport: { width: 1200, height: 900 } }, "/?window=24h");
    await drawn(page);
    const points: Array<{ at: string; completed: number }> = await jsonOf(
      await fetch(`${service.url}/api/stats/series?window=24h`),
    );
    const n = points.length;
    // Points are 10 minutes: about two jobs in each over the two hours they ran, none since (not 24 "now").
    const busy = points.map((p, i) => [i, p.completed] as const).filter(([, c]) => c > 0);
    expect(busy.length).to.be.within(12, 13);
    expect(busy.reduce((a, [, c]) => a + c, 0)).to.equal(24);
    expect(busy.every(([, c]) => c <= 2)).to.equal(true);
    const first = busy[0]![0];
    expect(Date.parse(points[first]!.at)).to.be.within(now - 5 * 3600_000 - 600_000, now - 5 * 3600_000 + 600_000);
    expect(points.slice(-6).every((p) => p.completed === 0)).to.equal(true);
    // Hovering the chart at that time reads it there; at the right edge, now, it reads nothing.
    const at = await hoverPoint(page, "chart-rate", first + 3, n);
    expect(at).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC \(10 min\): 0\.2 completed a minute \(2\), 0 failed$/);
    expect(at).to.include(points[first + 3]!.at.slice(11, 16));
    expect(await hoverPoint(page, "chart-rate", n - 1, n)).to.match(/: 0 completed a minute \(0\)/);
    expect(await hoverPoint(page, "chart-duration", first + 3, n)).to.match(/: p50 2m( 0\ds)?, p95 2m( 0\ds)?$/);
    // A vertical line has no width, so playwright never calls it visible: its hidden attribute says.
    expect(await page.locator("#chart-duration .cursor").getAttribute("hidden")).to.equal(null);
    expect(await page.locator("#chart-rate .tooltip").isHidden()).to.equal(true); // left that chart
    await page.mouse.move(0, 0);
    await waitFor(
      "the tooltip to hide",
      async () => (await page.locator("#chart-duration .tooltip").isHidden()) || undefined,
    );
    // The tiles count it in the 24 h window, and not in the last hour.
    expect(await tile(page, "completed")).to.equal("24");
    expect(problems).to.deep.equal([]);
    const hour = await open({}, "/?window=1h");
    await drawn(hour.page);
    expect(await tile(hour.page, "completed")).to.equal("0");
    expect(await hour.page.locator('nav.windows a[aria-current="page"]').textContent()).to.equal("last hour");
    expect(hour.problems).to.deep.equal([]);
  });

  it("shows the same charts after a restart (history comes from the files)", async () => {
    service = await startTestService(tmp.path);
    await post(backDated(Date.now()));
    await waitFor("the batch in a pass", async () => (await stats()).jobs.completed === 24 || undefined);
    const before = await jsonOf(await fetch(`${service.url}/api/stats/series?window=7d`));
    const { page: p1 } = await open({}, "/?window=7d");
    await drawn(p1);
    const d1 = await p1.locator("#chart-rate path.line").getAttribute("d");
    await context!.close();
    context = undefined;
    await service.stop();
    service = await startTestService(tmp.path);
    await waitFor("the first pass after the restart", async () => (await stats()).status === "ok" || undefined);
    const after = await jsonOf(await fetch(`${service.url}/api/stats/series?window=7d`));
    // Hourly points: the same unless the restart crossed an hour (then shifted by one).
    const shifted = after[0].at !== before[0].at;
    expect(shifted ? after.slice(0, -1) : after).to.deep.equal(shifted ? before.slice(1) : before);
    const { page: p2, problems } = await open({}, "/?window=7d");
    await drawn(p2);
    const d2 = await p2.locator("#chart-rate path.line").getAttribute("d");
    expect(d2).to.match(/^M/);
    if (!shifted) expect(d2).to.equal(d1);
    expect(problems).to.deep.equal([]);
  });

  it("shows a runner no longer declared as removed, not stale", async () => {
    await startFleet({ runners: ["runner-01", "runner-02", EVIL_RUNNER] }); // runner-04 was scaled down
    const { page, problems } = await open();
    await drawn(page);
    const row = page.locator('#runner-rows tr[data-runner="runner-04"]');
    expect(await row.getAttribute("class")).to.equal("removed");
    expect(await row.locator(".badge").allTextContents()).to.deep.equal(["removed", "busy"]);
    expect(await page.locator("#runner-rows tr.stale").count()).to.equal(0);
    expect(await tile(page, "stale")).to.equal("0");
    expect(problems).to.deep.equal([]);
  });

  it("shows a failed listener as not healthy", async () => {
    await startFleet();
    await post([
      {
        v: 1,
        type: "heartbeat",
        ts: new Date().toISOString(),
        runner: "runner-02",
        listener: "failed",
        listenerExitCode: 1,
      },
    ]);
    await waitFor(
      "the heartbeat in a pass",
      async () => (await stats()).runners["runner-02"]!.listener === "failed" || undefined,
    );
    const { page, problems } = await open();
    await drawn(page);
    const row = page.locator('#runner-rows tr[data-runner="runner-02"]');
    expect(await row.getAttribute("class")).to.equal("unhealthy");
    expect(await row.locator(".badge").allTextContents()).to.include("listener failed (exit 1)");
    expect(await tile(page, "stale")).to.equal("2");
    expect(problems).to.deep.equal([]);
  });

  it("shows time to ready once a controller reports lives, and no controller among the runners", async () => {
    await startFleet();
    const { page, problems } = await open();
    await drawn(page);
    expect(await page.locator('[data-stat="ready"]').count(), "persistent mode: no tile").to.equal(0);
    const ts = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString();
    // What controller/metrics.ts postHeartbeat sends per ready life (the shared token may name the controller).
    const life = (secondsAgo: number, slot: string, life: number, resetSeconds: number, failures: number) => ({
      v: 1,
      type: "heartbeat",
      ts: ts(secondsAgo),
      runner: "cco-controller-pve",
      source: "cco-controller",
      slot,
      life,
      lifeRunner: `${slot}-m1x${life}`,
      resetSeconds,
      failures,
    });
    await post([
      life(600, "runner-01", 1, 4.25, 0),
      life(400, "runner-02", 1, 3.5, 0),
      life(200, "runner-01", 2, 7.75, 1),
    ]);
    await waitFor("the lives in a pass", async () => (await stats()).lives.total === 3 || undefined);
    const w = (await stats()).lives.windows["24h"];
    expect(w).to.deep.include({ lives: 3, failures: 1, resetSeconds: { p50: 4.25, p95: 7.75, max: 7.75 } });
    // The open page picks it up on its next refresh, drawn by the script.
    await waitFor("the time-to-ready tile", async () => (await tile(page, "ready").catch(() => null)) ?? undefined);
    expect(await tile(page, "ready")).to.equal(formatDuration(4.25));
    expect(await page.locator('[data-stat="ready"] .detail').textContent()).to.equal(
      `worst ${formatDuration(7.75)} · 3 lives · 1 failed`,
    );
    expect(await page.locator('[data-stat="ready"]').getAttribute("class")).to.equal("tile alert");
    expect(await page.locator('#runner-rows tr[data-runner="cco-controller-pve"]').count()).to.equal(0);
    expect(await tile(page, "stale")).to.equal("1"); // runner-04 only, as before
    // And the server's render says the same, without JavaScript.
    const noJs = await context!.browser()!.newContext({ javaScriptEnabled: false });
    const plain = await noJs.newPage();
    await plain.goto(`${service!.url}/`);
    expect(await tile(plain, "ready")).to.equal(formatDuration(4.25));
    await noJs.close();
    expect(problems).to.deep.equal([]);
  });
});
