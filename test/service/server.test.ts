import { expect } from "chai";
import { request } from "node:http";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completed, jsonOf, ndjson, started } from "../helpers/events";
import { spawnService, startTestService, TEST_TOKEN, testConfig, waitFor } from "../helpers/service";
import { createLogger } from "../../service/log";
import { startService } from "../../service/server";
import { TOKEN_FILE } from "../../service/token";
import { useTempDir } from "../helpers/tmp";
import type { RunningService } from "../../service/server";

const auth = { Authorization: `Bearer ${TEST_TOKEN}` };
const postEvents = (url: string, body: string) => fetch(`${url}/api/events`, { method: "POST", headers: auth, body });
const getJson = async (url: string) => jsonOf(await fetch(url));

async function storedLines(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".jsonl"));
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  return texts.join("").split("\n").filter(Boolean);
}

describe("server: real HTTP on 127.0.0.1", function () {
  this.timeout(60_000);
  const tmp = useTempDir();
  let service: RunningService | undefined;
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  for (const aggregation of ["worker", "inline"] as const) {
    it(`counts 200 concurrent POSTs exactly (${aggregation} aggregation)`, async () => {
      service = await startTestService(tmp.path, { aggregation });
      expect(service.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          postEvents(service!.url, ndjson([started({ runId: i + 1 }, 0), completed({ runId: i + 1 }, 10 + (i % 50))])),
        ),
      );
      expect(responses.map((r) => r.status)).to.deep.equal(new Array(200).fill(202));
      expect(await storedLines(tmp.path)).to.have.length(400);
      const stats = await waitFor("a pass that sees every event", async () => {
        const s = await getJson(`${service!.url}/api/stats`);
        return s.events.total === 400 ? s : undefined;
      });
      expect(stats.jobs).to.include({ started: 200, completed: 200, running: 0, succeeded: 200 });
      expect(stats.durationSeconds).to.include({ count: 200, max: 59 });
      expect(stats.aggregation.mode).to.equal(aggregation);
    });
  }

  describe("while a cold start aggregates a large history", () => {
    before(async function () {
      // ~60 MB of history: long enough that the first pass is still reading below.
      this.timeout(60_000);
      coldDir = await mkdtemp(join(tmpdir(), "cco-cold-"));
      const lines: string[] = [];
      for (let i = 1; i <= 100_000; i++) {
        lines.push(JSON.stringify(started({ runId: i, runner: `runner-0${i % 8}` }, i)));
        lines.push(JSON.stringify(completed({ runId: i, runner: `runner-0${i % 8}` }, i + 30)));
      }
      const chunk = `${lines.join("\n")}\n`;
      for (let f = 0; f < 3; f++)
        await writeFile(join(coldDir, `history-${f}.jsonl`), chunk.replaceAll('"build"', `"build-${f}"`));
    });
    after(() => rm(coldDir, { recursive: true, force: true }));
    let coldDir = "";

    for (const aggregation of ["inline", "worker"] as const) {
      it(`answers /api/stats at once, marked as not complete, until the pass ends (${aggregation})`, async () => {
        service = await startTestService(coldDir, { aggregation, intervalMs: 60_000 });
        const seen = new Set<string>();
        let answered = 0;
        const deadline = Date.now() + 50_000;
        for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
          const health = (await fetch(`${service.url}/healthz`)).status;
          const res = await fetch(`${service.url}/api/stats`);
          expect(res.status).to.equal(200);
          const s = await jsonOf(res);
          answered++;
          seen.add(s.status);
          if (s.status === "ok") break;
          // Asked before a snapshot that is still not complete: the pass had not ended.
          expect(health).to.equal(503);
          await new Promise((r) => setTimeout(r, 5));
        }
        // Requests were answered while the pass ran, with a snapshot marked as not complete.
        expect(answered).to.be.greaterThan(5);
        expect([...seen].filter((x) => x !== "ok")).to.not.be.empty;
        expect(seen.has("ok")).to.equal(true);
        const final = await getJson(`${service.url}/api/stats`);
        expect(final.jobs).to.include({ started: 300_000, completed: 300_000 });
        expect((await fetch(`${service.url}/healthz`)).status).to.equal(200);
      });
    }
  });

  it("stops on SIGTERM after finishing a request in flight, exit code 0", async () => {
    const svc = await spawnService({
      STATS_DATA_DIR: tmp.path,
      STATS_INGEST_TOKEN: TEST_TOKEN,
      STATS_INTERVAL_MS: "100",
    });
    const { port } = new URL(svc.url);
    const body = ndjson([started({ runId: 1 })]);
    // Send the headers and half the body, then SIGTERM, then the rest.
    const reply = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/api/events",
          method: "POST",
          headers: { ...auth, "Content-Length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res
            .setEncoding("utf8")
            .on("data", (d) => (text += d))
            .on("end", () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        svc.child.kill("SIGTERM");
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 300);
    });
    const r = await reply;
    expect(r.status).to.equal(202);
    expect(await svc.exited).to.deep.equal({ code: 0, signal: null });
    expect(await storedLines(tmp.path)).to.have.length(1);
  });

  it("loses no acknowledged event when killed with SIGKILL right after 202s", async () => {
    const env = { STATS_DATA_DIR: tmp.path, STATS_INGEST_TOKEN: TEST_TOKEN, STATS_INTERVAL_MS: "100" };
    const svc = await spawnService(env);
    const acked: number[] = [];
    let killed = false;
    // Posters keep sending until the kill; each batch carries unique run ids.
    const poster = async (p: number) => {
      for (let b = 0; b < 1000 && !killed; b++) {
        const ids = Array.from({ length: 5 }, (_, k) => p * 100_000 + b * 10 + k + 1);
        try {
          const res = await postEvents(svc.url, ndjson(ids.map((runId) => started({ runId }))));
          if (res.status === 202) acked.push(...ids);
          if (acked.length >= 500 && !killed) {
            killed = true;
            svc.child.kill("SIGKILL");
          }
        } catch {
          return; // connection cut by the kill: not acknowledged
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, p) => poster(p)));
    expect(killed).to.equal(true);
    expect((await svc.exited).signal).to.equal("SIGKILL");

    const again = await spawnService(env);
    try {
      const s = await waitFor("the first pass after restart", async () => {
        const snap = await getJson(`${again.url}/api/stats`);
        return snap.status === "ok" ? snap : undefined;
      });
      const stored = new Set((await storedLines(tmp.path)).map((l) => JSON.parse(l).runId));
      const missing = acked.filter((id) => !stored.has(id));
      expect(missing, "acknowledged but not on disk").to.deep.equal([]);
      expect(s.jobs.started).to.be.at.least(acked.length);
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  });
});

describe("server: ingest token and failing passes", function () {
  this.timeout(30_000);
  const tmp = useTempDir();

  it("generates a token once (mode 0600), logs where it is but never the token, and reuses it", async () => {
    const lines: string[] = [];
    const log = createLogger((l) => lines.push(l));
    const config = { ...testConfig(tmp.path), ingestToken: undefined };
    const first = await startService(config, log);
    await first.stop();
    const path = join(tmp.path, TOKEN_FILE);
    const token = (await readFile(path, "utf8")).trim();
    expect(token).to.have.length.greaterThan(30);
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    expect(lines.join("")).to.include(path).and.not.include(token);

    const second = await startService(config, log);
    try {
      const body = ndjson([started({ runId: 1 })]);
      const ok = await fetch(`${second.url}/api/events`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        body,
      });
      expect(ok.status).to.equal(202);
    } finally {
      await second.stop();
    }
  });

  it("keeps serving the last snapshot when a pass fails, and recovers", async () => {
    const dir = join(tmp.path, "data");
    const lines: string[] = [];
    const service = await startService(
      testConfig(dir),
      createLogger((l) => lines.push(l)),
    );
    try {
      await writeFile(join(dir, "a.jsonl"), ndjson([started({ runId: 1 })]));
      await waitFor(
        "the event",
        async () => (await getJson(`${service.url}/api/stats`)).jobs.started === 1 || undefined,
      );
      await rm(dir, { recursive: true }); // every pass now fails: readdir ENOENT
      await waitFor("a failed pass", () => service.store.health().body.failedPasses > 0 || undefined);
      expect((await getJson(`${service.url}/api/stats`)).jobs.started).to.equal(1);
      expect(lines.join("")).to.include("aggregation pass failed");
      await mkdir(dir);
      await writeFile(join(dir, "b.jsonl"), ndjson([started({ runId: 2 })]));
      await waitFor(
        "recovery",
        async () => (await getJson(`${service.url}/api/stats`)).jobs.started === 2 || undefined,
      );
    } finally {
      await service.stop();
    }
  });
});
