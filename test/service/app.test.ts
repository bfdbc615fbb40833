import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Aggregator } from "../../service/aggregate/aggregator";
import { passResult, warmingUpSnapshot } from "../../service/aggregate/engine";
import { createApp, etagMatches, MAX_BODY_BYTES } from "../../service/app";
import { EventLog } from "../../service/eventlog";
import { silentLogger } from "../../service/log";
import { createMetrics } from "../../service/metrics";
import { SnapshotStore } from "../../service/store";
import { at, completed, controllerReady, heartbeat, jsonOf, ndjson, PASS_INFO, started } from "../helpers/events";
import { useTempDir } from "../helpers/tmp";

const TOKEN = "test-token-0123456789";
const auth = { Authorization: `Bearer ${TOKEN}` };

describe("app: the HTTP API", () => {
  const tmp = useTempDir();
  let store: SnapshotStore;
  let eventLog: EventLog;
  let app: ReturnType<typeof createApp>;

  beforeEach(() => {
    store = new SnapshotStore(warmingUpSnapshot("test"), 5, 1000);
    eventLog = new EventLog(tmp.path);
    app = createApp({ store, eventLog, ingestToken: TOKEN, metrics: createMetrics(store), log: silentLogger });
  });
  afterEach(() => eventLog.close());

  /** Publishes a snapshot made from these events, as a pass would. */
  function publishEvents(events: unknown[], now = Date.now()) {
    const a = new Aggregator({ now: () => now });
    a.consume(ndjson(events));
    const s = a.snapshot(new Date(now), "ok", PASS_INFO);
    store.passSucceeded(passResult(a, s));
  }
  async function storedLines(): Promise<string[]> {
    const names = await readdir(tmp.path);
    const texts = await Promise.all(names.map((n) => readFile(join(tmp.path, n), "utf8")));
    return texts.join("").split("\n").filter(Boolean);
  }
  const post = (body: string, headers: Record<string, string> = auth) =>
    app.request("/api/events", { method: "POST", body, headers });

  describe("GET /api/stats", () => {
    it("answers a marked empty snapshot before the first pass", async () => {
      const res = await app.request("/api/stats");
      expect(res.status).to.equal(200);
      const body = await jsonOf(res);
      expect(body.status).to.equal("warming_up");
      expect(body.jobs.started).to.equal(0);
    });

    it("sends the stored bytes with an ETag, and 304 when it matches", async () => {
      publishEvents([started({ runId: 1 }), completed({ runId: 1 }, 42)]);
      const res = await app.request("/api/stats");
      expect(res.headers.get("content-type")).to.match(/^application\/json/);
      expect(await res.text()).to.equal(store.current.json);
      const etag = res.headers.get("etag")!;
      expect(etag).to.equal(store.current.etag);
      const again = await app.request("/api/stats", { headers: { "If-None-Match": etag } });
      expect(again.status).to.equal(304);
      expect(await again.text()).to.equal("");
      publishEvents([heartbeat("r")]);
      expect((await app.request("/api/stats", { headers: { "If-None-Match": etag } })).status).to.equal(200);
    });

    it("has the contract's fields", async () => {
      publishEvents([started({ runId: 1 }), completed({ runId: 1 }, 42, "failed"), heartbeat("runner-01", 50)]);
      const s = await jsonOf(await app.request("/api/stats"));
      expect(s).to.include.keys("generatedAt", "events", "jobs", "durationSeconds", "runners", "repos", "aggregation");
      expect(s.events).to.include.keys("total", "rejected");
      expect(s.jobs).to.include.keys("started", "completed", "running", "succeeded", "failed", "cancelled");
      expect(s.durationSeconds).to.include({ p50: 42, p95: 42, max: 42 });
      expect(s.runners["runner-01"]).to.include.keys(
        "started",
        "completed",
        "running",
        "busySeconds",
        "lastEventAt",
        "lastHeartbeatAt",
      );
      expect(s.repos["brentley/cco"]).to.include({ completed: 1, failed: 1 });
      expect(s.aggregation).to.include.keys("durationMs", "bytesRead", "files");
    });
  });

  it("etagMatches reads lists, weak tags and *", () => {
    expect(etagMatches('"a", W/"b"', '"b"')).to.equal(true);
    expect(etagMatches("*", '"b"')).to.equal(true);
    expect(etagMatches('"a"', '"b"')).to.equal(false);
    expect(etagMatches(undefined, '"b"')).to.equal(false);
  });

  describe("GET /api/stats/history", () => {
    it("gives the newest N minutes of event time, oldest first, totals as of each minute", async () => {
      // One start a minute, the last one in the minute of the snapshot: 18:00 to 18:03.
      const events = [0, 1, 2, 3].map((m) => started({ runId: m + 1 }, m * 60 + 5));
      publishEvents(events, Date.parse(at(3 * 60 + 30)));
      const all = await jsonOf(await app.request("/api/stats/history"));
      expect(all.slice(-4).map((e: { started: number }) => e.started)).to.deep.equal([1, 2, 3, 4]);
      expect(all.at(-1).at).to.equal(at(3 * 60));
      const two = await jsonOf(await app.request("/api/stats/history?limit=2"));
      expect(two.map((e: { started: number }) => e.started)).to.deep.equal([3, 4]);
    });

    it("refuses a limit that is not a positive whole number", async () => {
      for (const bad of ["0", "-1", "abc", "1.5"]) {
        const res = await app.request(`/api/stats/history?limit=${bad}`);
        expect(res.status, bad).to.equal(400);
      }
    });
  });

  describe("GET /healthz", () => {
    it("is 503 before the first pass and 200 after", async () => {
      const before = await app.request("/healthz");
      expect(before.status).to.equal(503);
      expect((await jsonOf(before)).status).to.equal("warming_up");
      publishEvents([]);
      const after = await app.request("/healthz");
      expect(after.status).to.equal(200);
      expect((await jsonOf(after)).status).to.equal("ok");
    });
  });

  describe("GET /metrics", () => {
    it("exposes the snapshot in Prometheus text format", async () => {
      publishEvents([
        started({ runId: 1 }),
        completed({ runId: 1 }, 90, "failed"),
        started({ runId: 2, runner: "runner-02" }),
        heartbeat("runner-02", 100),
      ]);
      const res = await app.request("/metrics");
      expect(res.headers.get("content-type")).to.match(/^text\/plain; version=0.0.4/);
      const text = await res.text();
      expect(text).to.include("cco_jobs_started_total 2");
      expect(text).to.include('cco_jobs_completed_total{result="failed"} 1');
      expect(text).to.include("cco_jobs_running 1");
      expect(text).to.include('cco_job_duration_seconds_bucket{le="60"} 0');
      expect(text).to.include('cco_job_duration_seconds_bucket{le="120"} 1');
      expect(text).to.include('cco_job_duration_seconds_bucket{le="+Inf"} 1');
      expect(text).to.include("cco_job_duration_seconds_sum 90");
      expect(text).to.include("cco_events_rejected_total 0");
      expect(text).to.include('cco_runner_last_heartbeat_timestamp_seconds{runner="runner-02"} 1795716100');
      expect(text).to.match(/^cco_aggregation_duration_seconds 0.002$/m);
      expect(text).to.include("process_resident_memory_bytes");
    });

    it("exposes the controllers' lives: time to ready per window, lives, failures", async () => {
      publishEvents(
        [controllerReady(10, 4.5), controllerReady(20, 2.5, { slot: "runner-02", failures: 1 })],
        Date.parse(at(60)),
      );
      const text = await (await app.request("/metrics")).text();
      expect(text).to.include("cco_lives_total 2");
      expect(text).to.include("cco_lives_failures_total 1");
      expect(text).to.include('cco_lives_ready_seconds{window="1h",quantile="0.5"} 2.5');
      expect(text).to.include('cco_lives_ready_seconds{window="1h",quantile="1"} 4.5');
      expect(text).to.include('cco_lives_window{window="24h"} 2');
      expect(text).to.include(
        `cco_controller_last_heartbeat_timestamp_seconds{controller="cco-controller-pve"} ${Date.parse(at(20)) / 1000}`,
      );
      expect(text).to.not.match(/runner="cco-controller-pve"/);
    });
  });

  describe("POST /api/events", () => {
    it("needs the bearer token", async () => {
      const body = JSON.stringify(heartbeat("r"));
      const none = await post(body, {});
      expect(none.status).to.equal(401);
      expect(none.headers.get("www-authenticate")).to.match(/^Bearer/);
      expect((await post(body, { Authorization: "Bearer wrong" })).status).to.equal(401);
      expect((await post(body, { Authorization: `Basic ${TOKEN}` })).status).to.equal(401);
      expect((await post(body, { Authorization: `Bearer ${TOKEN}x` })).status).to.equal(401);
      expect(await storedLines()).to.deep.equal([]);
    });

    it("appends one event and answers 202 with the count", async () => {
      const event = { ...started({ runId: 5 }), actor: "octocat", sha: "f00", ref: "refs/heads/main", event: "push" };
      const res = await post(JSON.stringify(event));
      expect(res.status).to.equal(202);
      expect(await jsonOf(res)).to.deep.equal({ accepted: 1 });
      expect((await storedLines()).map((l) => JSON.parse(l))).to.deep.equal([event]);
    });

    it("appends an NDJSON batch", async () => {
      const events = [started({ runId: 1 }), completed({ runId: 1 }, 3), heartbeat("runner-01")];
      const res = await post(ndjson(events));
      expect(await jsonOf(res)).to.deep.equal({ accepted: 3 });
      expect((await storedLines()).map((l) => JSON.parse(l))).to.deep.equal(events);
    });

    it("refuses a whole batch for one bad line, naming the line and field", async () => {
      const body = ndjson([
        started({ runId: 1 }),
        started({ runId: 2 }),
        { ...completed({ runId: 1 }, 3), result: "maybe" },
      ]);
      const res = await post(body);
      expect(res.status).to.equal(400);
      expect(await jsonOf(res)).to.include({ line: 3, field: "result" });
      expect(await storedLines()).to.deep.equal([]);
    });

    it("answers 413 above 1 MiB and stores nothing", async () => {
      const line = `${JSON.stringify({ ...heartbeat("r"), pad: "x".repeat(1000) })}\n`;
      const body = line.repeat(Math.ceil(MAX_BODY_BYTES / line.length) + 1);
      const res = await post(body);
      expect(res.status).to.equal(413);
      expect(await storedLines()).to.deep.equal([]);
    });

    it("answers 413 above 10,000 events", async () => {
      const res = await post(`${JSON.stringify(heartbeat("r"))}\n`.repeat(10_001));
      expect(res.status).to.equal(413);
      expect(await storedLines()).to.deep.equal([]);
    });

    it("counts accepted events and refusals in /metrics", async () => {
      await post(JSON.stringify(heartbeat("r")));
      await post("{nope");
      const text = await (await app.request("/metrics")).text();
      expect(text).to.include("cco_ingest_events_accepted_total 1");
      expect(text).to.include('cco_ingest_requests_rejected_total{reason="invalid"} 1');
    });
  });

  it("answers unknown routes with a JSON 404", async () => {
    const res = await app.request("/nope");
    expect(res.status).to.equal(404);
    expect(await jsonOf(res)).to.deep.equal({ error: "not found" });
  });
});
