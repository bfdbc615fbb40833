/**
 * The dashboard in a real browser: Debian's chromium, driven by
 * playwright-core, against the service on 127.0.0.1 fed with events over
 * HTTP. Skipped (saying why) where chromium is missing, never under CI=true.
 */
import { expect } from "chai";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Snapshot } from "../../service/aggregate/aggregator";
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
  const job = (runner: string, runId: number, repo = "brentley/cco") => ({ v: 1, runner, repo, workflow: "build", job: "test", runId, runAttempt: 1 });
  const events: Array<Record<string, unknown>> = [];
  for (const runner of ["runner-01", "runner-02", EVIL_RUNNER]) events.push({ v: 1, type: "heartbeat", ts: ts(20), runner });
  events.push({ v: 1, type: "heartbeat", ts: ts(900), runner: "runner-04" }); // stale: 15 minutes
  const durations = [30, 45, 60, 90, 120, 150, 200, 240, 400, 600];
  durations.forEach((d, i) => {
    const runner = ["runner-01", "runner-02", EVIL_RUNNER][i % 3]!;
    const repo = i % 4 === 0 ? "brentley/cco-infra" : "brentley/cco";
    events.push({ ...job(runner, 100 + i, repo), type: "job_started", ts: ts(3000 - i * 100) });
    events.push({ ...job(runner, 100 + i, repo), type: "job_completed", ts: ts(3000 - i * 100 - d), result: i % 3 === 1 ? "failed" : "succeeded" });
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
    const res = await fetch(`${service!.url}/api/events`, { method: "POST", headers: { Authorization: `Bearer ${TEST_TOKEN}` }, body: ndjson(events) });
    expect(res.status).to.equal(202);
  };
  const stats = async (): Promise<Snapshot> => jsonOf(await fetch(`${service!.url}/api/stats`));

  /** The service with the sample fleet aggregated and a few history entries. */
  async function startFleet(): Promise<Snapshot> {
    service = await startTestService(tmp.path);
    const events = fleetEvents(Date.now());
    await post(events);
    await waitFor("the events in a pass", async () => (await stats()).events.total === events.length || undefined);
    await waitFor("history to draw", async () => (await jsonOf(await fetch(`${service!.url}/api/stats/history`))).length >= 3 || undefined);
    return stats();
  }

  /** A page that records everything that went wrong while it was open. */
  async function open(options: Parameters<Browser["newContext"]>[0] = {}): Promise<{ page: Page; problems: string[] }> {
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
    const res = await page.goto(`${service!.url}/`);
    expect(res?.status()).to.equal(200);
    return { page, problems };
  }
  // Polled from here: page.waitForFunction evaluates strings in the page, which the CSP forbids.
  const drawn = (page: Page) =>
    waitFor("the script to draw the page", async () => (await page.locator("#dashboard").getAttribute("data-renders")) ?? undefined);
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
      const paths = await page.locator(`#${chart} svg.plot path.line`).evaluateAll((els) => els.map((e) => [e.getAttribute("data-series"), e.getAttribute("d")]));
      expect(paths.map((p) => p[0]), chart).to.deep.equal([...series]);
      // Jobs per minute need 2.5 minutes of history: this service is seconds old (dashboard.test.ts draws it from a longer history).
      for (const [k, d] of paths) expect(d, chart).to.match(k === "rate" ? /^$/ : /^M[\d.]+ [\d.]+L[\d.]+ [\d.]+/);
      const box = await page.locator(`#${chart} svg.plot`).boundingBox();
      expect(box!.width, chart).to.be.greaterThan(200);
      expect(box!.height, chart).to.be.greaterThan(100);
    }

    // The numbers are the API's (counts stay put once all events are read).
    const s = await stats();
    expect(await tile(page, "running")).to.equal(formatCount(s.jobs.running));
    expect(s.jobs.running).to.equal(2);
    expect(await tile(page, "completed")).to.equal(formatCount(s.jobs.completed));
    expect(await tile(page, "failed")).to.equal(formatCount(s.jobs.failed));
    expect(await tile(page, "p50")).to.equal(formatDuration(s.durationSeconds.p50));
    expect(await page.locator('[data-stat="p50"] .detail').textContent()).to.equal(`p95 ${formatDuration(s.durationSeconds.p95)}`);
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
      Object.entries(s.runners).map(([name, r]) => ({ name, stale: name === "runner-04", completed: formatCount(r.completed), failed: formatCount(r.failed) })),
    );
    const repos = await page.locator("#repo-rows tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.querySelector("th")!.textContent, tr.querySelector('[data-field="failed"]')!.textContent, tr.querySelector('[data-field="completed"]')!.textContent]),
    );
    expect(repos).to.have.deep.members(Object.entries(s.repos).map(([name, r]) => [name, formatCount(r.failed), formatCount(r.completed)]));
    // The last aggregation is shown with the browser's clock and its age.
    expect(await page.locator("#generated-at").getAttribute("datetime")).to.match(/^\d{4}-\d\d-\d\dT/);
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
    const done = { v: 1, type: "job_completed", ts: new Date().toISOString(), runner: "runner-01", repo: "brentley/cco", workflow: "build", job: "test", runId: 201, runAttempt: 1, result: "failed" };
    await post([done]);
    await waitFor("the failed tile to count the new failure", async () => (await tile(page, "failed")) === formatCount(before.jobs.failed + 1) || undefined);
    expect(await tile(page, "running")).to.equal(formatCount(before.jobs.running - 1));
    expect(problems).to.deep.equal([]);
  });

  it("shows the latest numbers with JavaScript off", async () => {
    const s = await startFleet();
    const { page } = await open({ javaScriptEnabled: false });
    expect(await page.locator("#dashboard").getAttribute("data-renders")).to.equal(null);
    expect(await tile(page, "running")).to.equal(formatCount(s.jobs.running));
    expect(await tile(page, "completed")).to.equal(formatCount(s.jobs.completed));
    expect(await tile(page, "p50")).to.equal(formatDuration(s.durationSeconds.p50));
    expect(await page.locator("#runner-rows tr").count()).to.equal(Object.keys(s.runners).length);
    expect(await page.locator("#runner-rows tr.stale th").textContent()).to.equal("runner-04");
    expect(await page.locator("#chart-duration path.line.p95").getAttribute("d")).to.match(/^M/);
  });

  it("fits a phone's width", async () => {
    await startFleet();
    const { page, problems } = await open({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await drawn(page);
    const widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]");
    expect((widths as number[])[0]).to.be.at.most((widths as number[])[1]!);
    // The stale runner's heartbeat is on screen, not in a column scrolled away.
    const hb = await page.locator("#runner-rows tr.stale .heartbeat").boundingBox();
    expect(hb!.x + hb!.width).to.be.at.most(390);
    expect(problems).to.deep.equal([]);
  });
});
