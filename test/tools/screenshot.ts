/**
 * `npm run screenshot [-- --out OUT.png --size WIDTHxHEIGHT]`: the dashboard with sample
 * data (test/helpers/sample-fleet.ts), as served by the real app and drawn by
 * its script in Debian's chromium, written to docs/dashboard.png.
 */
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { createApp } from "../../service/app";
import { EventLog } from "../../service/eventlog";
import { silentLogger } from "../../service/log";
import { createMetrics } from "../../service/metrics";
import { parseCommandLine, runCli, UsageError, type CliSpec } from "../../infra/tools/cli";
import { chromiumUnavailable, launchChromium } from "../helpers/browser";
import { sampleFleetStore } from "../helpers/sample-fleet";

const SCREENSHOT_CLI = {
  command: "npm run screenshot --",
  summary: "Draws the dashboard with two hours of sample data in Debian's chromium.",
  options: {
    out: { type: "string", value: "FILE", description: "the PNG to write (default docs/dashboard.png)" },
    size: { type: "string", value: "WxH", description: "the viewport (default 1280x900); the whole page is drawn" },
  },
} satisfies CliSpec;

async function main(): Promise<number> {
  const { values } = parseCommandLine(SCREENSHOT_CLI, process.argv.slice(2));
  const out = resolve(values.out ?? join(__dirname, "..", "..", "docs", "dashboard.png"));
  const size = /^(\d{2,5})x(\d{2,5})$/.exec(values.size ?? "1280x900");
  if (!size) throw new UsageError(`--size takes WIDTHxHEIGHT in pixels, like 1280x900, not ${values.size}`);
  const [width, height] = [Number(size[1]), Number(size[2])];
  const missing = chromiumUnavailable();
  if (missing) throw new UsageError(missing);

  const dir = await mkdtemp(join(tmpdir(), "cco-screenshot-"));
  const store = sampleFleetStore();
  const eventLog = new EventLog(dir);
  const app = createApp({
    store,
    eventLog,
    ingestToken: "screenshot-token-unused",
    metrics: createMetrics(store),
    log: silentLogger,
  });
  const server = await new Promise<Server>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => ok(s as Server));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({
      viewport: { width, height },
      locale: "en-US",
      timezoneId: "UTC",
      colorScheme: "light",
    });
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.locator("#dashboard[data-renders]").waitFor({ state: "attached" });
    if (errors.length) throw new Error(`the page logged errors:\n${errors.join("\n")}`);
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`${out} written (${width}x${height} viewport, full page)\n`);
  } finally {
    await browser.close();
    server.close();
    await eventLog.close();
    await rm(dir, { recursive: true, force: true });
  }
  return 0;
}

runCli("screenshot", main);
