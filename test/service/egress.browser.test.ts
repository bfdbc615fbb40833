/**
 * The "Egress per job" panel in a real browser (Debian's chromium driven by
 * playwright-core), against the service on 127.0.0.1 fed over HTTP with a
 * job's events and a gateway heartbeat as egress-forwarder.sh sends it.
 */
import { expect } from "chai";
import type { Browser } from "playwright-core";
import { GATEWAY_STATS_NAME } from "../../service/aggregate/egress";
import type { RunningService } from "../../service/server";
import { chromiumUnavailable, launchChromium } from "../helpers/browser";
import { jsonOf, ndjson } from "../helpers/events";
import { startTestService, TEST_TOKEN, waitFor } from "../helpers/service";
import { useTempDir } from "../helpers/tmp";

const EVIL_NAME = "<img src=x onerror=window.__pwned=1>";

describe("dashboard in chromium: egress per job", function () {
  this.timeout(60_000);
  const tmp = useTempDir();
  before(function () {
    const missing = chromiumUnavailable();
    if (missing) {
      process.stderr.write(`    skipping the egress panel's browser test: ${missing}\n`);
      this.skip();
    }
  });

  it("shows each job's reached names and, highlighted, the refused ones, and redraws from /api/stats", async () => {
    const browser = await launchChromium();
    const service = await startTestService(tmp.path);
    try {
      await panelTest(browser, service);
    } finally {
      await browser.close();
      await service.stop();
    }
  });
});

/** One job, one gateway heartbeat, then a second job: the panel as the server renders it and as the script redraws it. */
async function panelTest(browser: Browser, service: RunningService): Promise<void> {
  const now = Date.now();
  const ts = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
  const job = { v: 1, runner: "runner-01", repo: "brentley/cco", workflow: "build", job: "test", runAttempt: 1 };
  const post = async (events: unknown[]) => {
    const res = await fetch(`${service.url}/api/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${TEST_TOKEN}` },
      body: ndjson(events),
    });
    expect(res.status).to.equal(202);
  };
  const beat = (decisions: unknown[]) => ({
    v: 1,
    type: "heartbeat",
    ts: ts(1),
    runner: GATEWAY_STATS_NAME,
    egress: { decisions, truncated: 0 },
  });
  await post([
    { ...job, type: "job_started", runId: 7, ts: ts(300) },
    { ...job, type: "job_completed", runId: 7, ts: ts(200), result: "succeeded" },
    beat([
      { runner: "runner-01", name: "github.com", verdict: "allowed:tls", at: [now - 250_000, now - 240_000] },
      { runner: "runner-01", name: "evil.example", verdict: "refused:name", at: [now - 230_000] },
    ]),
    // A forged name in a runner's own heartbeat: ignored, and never markup.
    { v: 1, type: "heartbeat", ts: ts(1), runner: "runner-01", egress: { decisions: [{ name: EVIL_NAME }] } },
  ]);
  await waitFor("the egress in a pass", async () => {
    const s = await jsonOf(await fetch(`${service.url}/api/stats`));
    return s.egress.decisions === 3 || undefined;
  });

  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  await page.goto(`${service.url}/`);
  const row = page.locator('#egress-job-rows tr[data-job="brentley/cco/7/1/test/runner-01"]');
  // The server's render, before the script redraws it.
  expect(await row.locator(".egress-reached li").allTextContents()).to.deep.equal(["github.com ×2"]);
  await waitFor(
    "the script to draw",
    async () => (await page.locator("#dashboard").getAttribute("data-renders")) ?? undefined,
  );
  const refused = row.locator(".egress-refused li.refused");
  expect(await refused.allTextContents()).to.deep.equal(["evil.example ×1 (name)"]);
  // Highlighted: another colour than the reached names'.
  const colour = (sel: string) =>
    row
      .locator(sel)
      .first()
      .evaluate(
        (e) =>
          (globalThis as unknown as { getComputedStyle: (x: unknown) => { color: string } }).getComputedStyle(e).color,
      );
  expect(await colour(".egress-refused li")).to.not.equal(await colour(".egress-reached li"));
  expect(await page.locator("#egress-summary").textContent()).to.include("Refused, last 24 h: 1: evil.example ×1");
  expect(await page.locator("#egress-summary").textContent()).to.include("1 from other names ignored");

  // A second job arrives: the script redraws the panel from /api/stats, newest first.
  await post([
    { ...job, type: "job_started", runId: 8, ts: ts(100) },
    beat([{ runner: "runner-01", name: "crates.io", verdict: "allowed:tls", at: [now - 50_000] }]),
  ]);
  await waitFor("the new job in the panel", async () => {
    const first = await page.locator("#egress-job-rows tr").first().getAttribute("data-job");
    return first === "brentley/cco/8/1/test/runner-01" || undefined;
  });
  expect(
    await page.locator("#egress-job-rows tr").first().locator(".egress-reached li").allTextContents(),
  ).to.deep.equal(["crates.io ×1"]);
  expect(await page.evaluate("window.__pwned")).to.equal(undefined);
  expect(problems).to.deep.equal([]);
}
