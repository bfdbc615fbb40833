import { expect } from "chai";
import { Aggregator, type SeriesPoint } from "../../service/aggregate/aggregator";
import { passResult, warmingUpSnapshot } from "../../service/aggregate/engine";
import { createApp } from "../../service/app";
import { EventLog } from "../../service/eventlog";
import { silentLogger } from "../../service/log";
import { createMetrics } from "../../service/metrics";
import { SnapshotStore } from "../../service/store";
import { charts, escapeHtml, h, niceCeil, niceSeconds, toHtml } from "../../service/dashboard/markup";
import { ASSETS, SCRIPT, STYLE } from "../../service/dashboard/page";
import { formatDuration, repoRows, runnerRows, STALE_AFTER_SECONDS } from "../../service/dashboard/view";
import { at, completed, heartbeat, ndjson, PASS_INFO, started } from "../helpers/events";
import { useTempDir } from "../helpers/tmp";

/** Names an attacker could give a runner, a repository, a workflow or a job. */
const EVIL = {
  runner: "<script>alert(1)</script>",
  repo: `evil/<iframe>&amp;"'`,
  workflow: '"><svg/onload=alert(3)>',
  job: "'&amp;'",
};

/** Chart points a minute apart with these completed counts. */
function seriesOf(completedCounts: Array<number>): SeriesPoint[] {
  return completedCounts.map((n, i) => ({
    at: at(i * 60),
    started: n,
    completed: n,
    failed: 0,
    running: n / 2,
    p50: null,
    p95: null,
    queueP50: null,
    queueP95: null,
  }));
}

function aggregated(events: unknown[], generatedAtSeconds: number) {
  const a = new Aggregator({ now: () => Date.parse(at(generatedAtSeconds)) });
  a.consume(ndjson(events));
  return { a, s: a.snapshot(new Date(at(generatedAtSeconds)), "ok", PASS_INFO) };
}
function snapshotOf(events: unknown[], generatedAtSeconds: number) {
  return aggregated(events, generatedAtSeconds).s;
}

describe("dashboard: what the page computes", () => {
  it("formats durations short enough for a tile", () => {
    expect([null, 4.25, 42, 60, 250, 3600, 7500].map(formatDuration)).to.deep.equal([
      "–",
      "4.3s",
      "42s",
      "1m",
      "4m 10s",
      "1h 00m",
      "2h 05m",
    ]);
  });

  it("draws charts from the window's points, with axis labels that never repeat", () => {
    const c = charts(seriesOf([0, 1, 2, 3, 0, 0, 1, 0, 0, 2]), "1h");
    const rateLine = c["chart-rate"]!.find((e) => e.tag === "svg")!.children.find(
      (e) => typeof e !== "string" && e.tag === "path",
    );
    expect(rateLine)
      .to.have.nested.property("attrs.d")
      .that.matches(/^M\S+ \S+(L\S+ \S+){9}$/);
    const labels = (id: string, cls: string) =>
      (c[id]!.find((e) => e.attrs.class === cls)!.children as Array<{ children: string[] }>).map((e) => e.children[0]);
    expect(labels("chart-rate", "x-axis")).to.deep.equal(["18:00", "18:04", "18:09"]);
    expect(labels("chart-rate", "y-axis")).to.deep.equal(["5", "2.5", "0"]);
    // One point: the first, middle and last time are the same, and shown once; an empty chart says so.
    const one = charts(seriesOf([0]), "1h");
    expect(
      (one["chart-running"]!.find((e) => e.attrs.class === "x-axis")!.children as Array<{ children: string[] }>).map(
        (e) => e.children[0],
      ),
    ).to.deep.equal(["18:00"]);
    expect(toHtml(charts([], "24h")["chart-duration"]![3]!)).to.include("no data yet");
  });

  it("marks runners stale after 5 minutes without a heartbeat, and shares the busy time", () => {
    const now = 3600;
    const s = snapshotOf(
      [
        heartbeat("fresh", now - 60),
        heartbeat("late", now - STALE_AFTER_SECONDS - 1),
        started({ runner: "fresh", runId: 1 }, 0),
        completed({ runner: "fresh", runId: 1 }, 300),
        started({ runner: "silent", runId: 2 }, 0),
        completed({ runner: "silent", runId: 2 }, 100),
      ],
      now,
    );
    const rows = Object.fromEntries(runnerRows(s).map((r) => [r.name, r]));
    expect(rows.fresh).to.include({
      stale: false,
      heartbeatAgeSeconds: 60,
      busyShare: 0.75,
      lastJob: "brentley/cco · build / test",
    });
    expect(rows.late).to.include({ stale: true, heartbeatAgeSeconds: STALE_AFTER_SECONDS + 1, busyShare: 0 });
    expect(rows.silent).to.include({ stale: true, heartbeatAgeSeconds: null, busyShare: 0.25 });
  });

  it("shows runners no longer declared as removed (never stale), then not at all", () => {
    const a = new Aggregator({ declaredRunners: ["runner-01"], now: () => Date.parse(at(100_000)) });
    a.consume(ndjson([heartbeat("runner-01", 99_990), heartbeat("runner-07", 99_000), heartbeat("runner-08", 1_000)]));
    const rows = runnerRows(a.snapshot(new Date(at(100_000)), "ok", PASS_INFO));
    expect(rows.map((r) => [r.name, r.removed, r.stale])).to.deep.equal([
      ["runner-01", false, false],
      ["runner-07", true, false],
    ]); // runner-08: removed over a day ago, gone
  });

  it("counts a failed or refused listener as not healthy", () => {
    const s = snapshotOf(
      [
        { ...heartbeat("runner-01", 590), listener: "refused", listenerExitCode: 2 },
        { ...heartbeat("runner-02", 590), listener: "running" },
      ],
      600,
    );
    const rows = Object.fromEntries(runnerRows(s).map((r) => [r.name, r]));
    expect(rows["runner-01"]).to.include({ stale: false, healthy: false, listener: "refused", listenerExitCode: 2 });
    expect(rows["runner-02"]).to.include({ healthy: true });
  });

  it("orders repositories by failures", () => {
    const s = snapshotOf(
      [
        completed({ repo: "a/quiet", runId: 1 }, 10),
        completed({ repo: "b/bad", runId: 2 }, 10, "failed"),
        completed({ repo: "b/bad", runId: 3 }, 10, "failed"),
        completed({ repo: "c/some", runId: 4 }, 10, "failed"),
        completed({ repo: "c/some", runId: 5 }, 10),
      ],
      20,
    );
    expect(repoRows(s).map((r) => [r.name, r.failed, r.failureRate])).to.deep.equal([
      ["b/bad", 2, 1],
      ["c/some", 1, 0.5],
      ["a/quiet", 0, 0],
    ]);
  });

  it("picks readable axis maxima", () => {
    expect([0, 0.3, 3, 6, 10, 11, 4200].map(niceCeil)).to.deep.equal([1, 0.5, 5, 10, 10, 20, 5000]);
    expect([0.5, 40, 290, 3000].map(niceSeconds)).to.deep.equal([1, 60, 300, 3600]);
  });

  it("escapes text and attribute values, and takes no markup for names", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).to.equal(
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
    );
    expect(toHtml(h("td", { "data-runner": EVIL.workflow, hidden: true, title: null }, EVIL.runner))).to.equal(
      '<td data-runner="&quot;&gt;&lt;svg/onload=alert(3)&gt;" hidden>&lt;script&gt;alert(1)&lt;/script&gt;</td>',
    );
    expect(() => h("img onerror=x")).to.throw(/bad tag name/);
    expect(() => h("a", { "on click": "x" })).to.throw(/bad attribute name/);
  });
});

describe("dashboard: GET / and its assets", () => {
  const tmp = useTempDir();
  let store: SnapshotStore;
  let eventLog: EventLog;
  let app: ReturnType<typeof createApp>;

  beforeEach(() => {
    store = new SnapshotStore(warmingUpSnapshot("test"), 100, 30_000);
    eventLog = new EventLog(tmp.path);
    app = createApp({
      store,
      eventLog,
      ingestToken: "unused-token-0123456789",
      metrics: createMetrics(store),
      log: silentLogger,
    });
  });
  afterEach(() => eventLog.close());

  /** A pass over these events at `nowSeconds` (test event time). */
  function publishEvents(events: unknown[], nowSeconds: number) {
    const { a, s } = aggregated(events, nowSeconds);
    store.passSucceeded(passResult(a, s));
    return s;
  }
  const page = async () => {
    const res = await app.request("/");
    return { res, html: await res.text() };
  };
  /** The text of an element found by a unique attribute, tags stripped (what a reader without JS sees). */
  const textOf = (html: string, attr: string) => {
    const m = new RegExp(`<(\\w+) [^>]*${attr}[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
    expect(m, attr).to.not.equal(null);
    return m![2]!.replace(/<[^>]*>/g, "");
  };

  const fleet = [
    heartbeat("runner-01", 590),
    heartbeat(EVIL.runner, 595),
    heartbeat("runner-03", 100), // stale at 600
    started({ runner: "runner-01", runId: 1 }, 0),
    completed({ runner: "runner-01", runId: 1 }, 120),
    started({ runner: "runner-01", runId: 2 }, 200),
    completed({ runner: "runner-01", runId: 2 }, 440, "failed"),
    started({ runner: EVIL.runner, repo: EVIL.repo, workflow: EVIL.workflow, job: EVIL.job, runId: 3 }, 300),
    completed(
      { runner: EVIL.runner, repo: EVIL.repo, workflow: EVIL.workflow, job: EVIL.job, runId: 3 },
      360,
      "failed",
    ),
    started({ runner: "runner-03", runId: 4 }, 500),
  ];

  it("sets the page's security headers: no inline script, no framing, no referrer, no sniffing", async () => {
    const { res } = await page();
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy")!;
    const directives = Object.fromEntries(
      csp.split(/;\s*/).map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]),
    );
    expect(directives).to.include({
      "default-src": "'none'",
      "script-src": "'self'",
      "style-src": "'self'",
      "connect-src": "'self'",
      "frame-ancestors": "'none'",
      "base-uri": "'none'",
    });
    expect(csp).to.not.match(/unsafe-|\*|data:/);
    expect(res.headers.get("x-content-type-options")).to.equal("nosniff");
    expect(res.headers.get("x-frame-options")).to.equal("DENY");
    expect(res.headers.get("referrer-policy")).to.equal("no-referrer");
    expect(res.headers.get("cache-control")).to.equal("no-cache");
  });

  it("leaves the JSON API's headers as they were", async () => {
    publishEvents(fleet, 600);
    const res = await app.request("/api/stats");
    expect([...res.headers.keys()].sort()).to.deep.equal([
      "cache-control",
      "content-length",
      "content-type",
      "etag",
      "x-content-type-options",
    ]);
  });

  it("serves each asset with its type, the same headers, and a cache-forever name", async () => {
    expect(ASSETS.map((a) => a.path)).to.have.length(3);
    for (const asset of ASSETS) {
      expect(asset.path).to.match(/^\/assets\/[a-z]+-[\w-]{12}\.(js|css|svg)$/);
      const res = await app.request(asset.path);
      expect(res.status, asset.path).to.equal(200);
      expect(await res.text()).to.equal(asset.body);
      expect(res.headers.get("content-type")).to.equal(asset.headers["Content-Type"]);
      expect(res.headers.get("cache-control")).to.equal("public, max-age=31536000, immutable");
      expect(res.headers.get("content-security-policy")).to.include("frame-ancestors 'none'");
      expect(res.headers.get("x-content-type-options")).to.equal("nosniff");
    }
    expect(SCRIPT.headers["Content-Type"]).to.match(/^text\/javascript/);
    expect(STYLE.headers["Content-Type"]).to.match(/^text\/css/);
    expect((await app.request("/assets/dashboard-000000000000.js")).status).to.equal(404);
    const { html } = await page();
    expect(html).to.include(`<script src="${SCRIPT.path}" defer></script>`).and.include(`href="${STYLE.path}"`);
  });

  it("escapes runner, repository, workflow and job names; its only script is the asset", async () => {
    publishEvents(fleet, 600);
    const { html } = await page();
    for (const raw of Object.values(EVIL)) expect(html).to.not.include(raw);
    expect(html).to.include("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).to.include("evil/&lt;iframe&gt;&amp;amp;&quot;&#39;");
    expect(html).to.include(
      `evil/&lt;iframe&gt;&amp;amp;&quot;&#39; · &quot;&gt;&lt;svg/onload=alert(3)&gt; / &#39;&amp;amp;&#39;`,
    );
    expect(html.match(/<script/g)).to.have.length(1);
    // Nothing the CSP would refuse: no inline handlers or styles, no javascript: links.
    expect(html).to.not.match(/\son[a-z]+=|\sstyle=|<style|javascript:/i);
  });

  it("shows the latest numbers without JavaScript", async () => {
    publishEvents(fleet, 600);
    const { html } = await page();
    expect(textOf(html, 'data-stat="running"')).to.equal("Running now1on 1 of 3 runners");
    // Tiles over the window (24 h by default) beside all-time figures.
    expect(textOf(html, 'data-stat="completed"')).to.equal("Completed, last 24 h30.1 an hour · all time 3");
    expect(textOf(html, 'data-stat="failed"')).to.equal("Failed, last 24 h267 % of completed · all time 2");
    // Window quantiles come from 10%-wide buckets (within 5%); all-time ones are exact.
    expect(textOf(html, 'data-stat="p50"')).to.equal("Duration p50, last 24 h2m 03sp95 4m · all time p50 2m");
    expect(textOf(html, 'data-stat="utilisation"')).to.equal(
      "Utilisation, last 24 h0.2 %busy 8m 40s of 3 runners × 24 h",
    );
    expect(textOf(html, 'data-stat="lastJob"')).to.equal(
      "Last jobfailed2m 40s ago · brentley/cco · build / test on runner-01",
    );
    expect(textOf(html, 'data-stat="stale"')).to.equal(
      "Runners not healthy11 without a heartbeat for 5 min · 0 listener failed or refused",
    );
    expect(textOf(html, 'data-stat="abandoned"')).to.equal(
      "Abandoned jobs0started over 5 days ago, never completed · 0 dropped by limits",
    );
    expect(textOf(html, 'id="freshness"')).to.equal(
      "Up to 1m 30s behind the runners: forwarders send every 60 s, a pass runs every 30 s.",
    );
    expect(textOf(html, 'id="generated-at"')).to.equal(`${at(600).slice(0, 10)} ${at(600).slice(11, 19)} UTC`);
    // Runners, in name order, the stale one marked in words, not only in color.
    const rows = [...html.matchAll(/<tr (?:class="stale" )?data-runner="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => [
      m[1],
      m[2]!.replace(/<[^>]*>/g, "|"),
    ]);
    expect(rows.map((r) => r[0])).to.deep.equal(["&lt;script&gt;alert(1)&lt;/script&gt;", "runner-01", "runner-03"]);
    expect(rows[1]![1]).to.match(/\|idle\|.*\|86 %\|.*\|2\|.*\|1\|.*\|10s ago\|/);
    expect(rows[2]![1]).to.match(/\|stale\|.*\|busy\|.*\|8m 20s ago\|/);
    expect(html).to.match(/<tr class="stale" data-runner="runner-03">/);
    // Failures by repository, the worst first.
    expect([...html.matchAll(/<tr data-repo="([^"]*)">/g)].map((m) => m[1])).to.deep.equal([
      "evil/&lt;iframe&gt;&amp;amp;&quot;&#39;",
      "brentley/cco",
    ]);
    // The charts are there too, from the history.
    expect(html).to.match(/<path class="line running" d="M[^"]+" data-series="running">/);
    expect(html).to.match(/<p class="visually-hidden">Over the last [^<]*: running jobs now [^<]*<\/p>/);
    // And the page reloads itself.
    expect(html).to.include('<noscript><meta http-equiv="refresh" content="30"></noscript>');
  });

  it("says when the first pass has not finished", async () => {
    const { html } = await page();
    expect(html).to.match(/<p id="status" class="banner warn" role="status">Warming up/);
    expect(textOf(html, 'data-stat="running"')).to.equal("Running now0on 0 of 0 runners");
    expect(html).to.include("No runner has sent an event yet.");
    publishEvents(fleet, 600);
    expect((await page()).html).to.match(/<p id="status" class="banner warn" role="status" hidden><\/p>/);
  });

  it("renders the page once per pass", async () => {
    publishEvents(fleet, 600);
    const first = (await page()).html;
    expect((await page()).html).to.equal(first);
    publishEvents([...fleet, completed({ runner: "runner-03", runId: 4 }, 610)], 620);
    expect(textOf((await page()).html, 'data-stat="running"')).to.equal("Running now0on 0 of 3 runners");
  });
});
