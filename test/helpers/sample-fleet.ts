/**
 * A plausible two hours of a runner fleet, for the dashboard's screenshot:
 * six runners, five repositories, jobs arriving faster in the middle, and
 * runner-05 stuck on a job since its heartbeats stopped 22 minutes ago.
 * Every pass goes through the real Aggregator at its own (simulated) time,
 * so the history is what a service running those two hours would hold.
 */
import { Aggregator } from "../../service/aggregate/aggregator";
import { passResult, warmingUpSnapshot } from "../../service/aggregate/engine";
import { SnapshotStore } from "../../service/store";
import { prng } from "../bench/generate";
import { PASS_INFO, ndjson } from "./events";

const RUNNERS = ["runner-01", "runner-02", "runner-03", "runner-04", "runner-05", "runner-06"];
const STUCK = "runner-05";
/** Repository and the chance that one of its jobs fails. */
const REPOS: Array<[string, number]> = [
  ["brentley/cco", 0.06],
  ["brentley/cco-infra", 0.12],
  ["brentley/cco-bench", 0.25],
  ["brentley/cco-docs", 0.02],
  ["brentley/cco-website", 0.05],
];
const WORKFLOWS: Array<[string, string[]]> = [
  ["build", ["test", "lint", "package"]],
  ["security", ["audit", "codeql"]],
  ["release", ["publish"]],
];

export function sampleFleetStore(end = Date.now(), passes = 240, intervalMs = 30_000): SnapshotStore {
  const rand = prng(2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const start = end - passes * intervalMs;
  const from = start - 30 * 60_000; // jobs before the first pass: the counters do not start at zero
  const stuckAt = end - 22 * 60_000;
  const events: Array<{ ms: number; e: Record<string, unknown> }> = [];
  const at = (ms: number) => new Date(ms).toISOString();
  const freeAt = new Map(RUNNERS.map((r) => [r, from]));
  let runId = 8100;
  let queued = 0;

  for (let t = from; t <= end; t += 15_000) {
    for (const r of RUNNERS) {
      if ((t - from) % 60_000 === 0 && (r !== STUCK || t < stuckAt))
        events.push({ ms: t, e: { v: 1, type: "heartbeat", ts: at(t), runner: r } });
    }
    // Busier in the middle of the two hours: about 0.4 to 1.5 jobs a minute.
    const phase = (t - from) / (end - from);
    if (rand() < 0.1 + 0.28 * Math.sin(Math.PI * phase)) queued += rand() < 0.2 ? 2 : 1;
    for (const runner of RUNNERS) {
      if (queued === 0) break;
      if (freeAt.get(runner)! > t) continue;
      queued--;
      const [repo, failRate] = pick(REPOS);
      const [workflow, jobs] = pick(WORKFLOWS);
      const job = {
        v: 1,
        runner,
        repo,
        workflow,
        job: pick(jobs),
        runId: runId++,
        runAttempt: 1,
        actor: "brentley",
        event: "push",
      };
      const startMs = t + Math.floor(rand() * 10_000);
      events.push({ ms: startMs, e: { ...job, type: "job_started", ts: at(startMs) } });
      // The stuck runner's last job never completes.
      if (runner === STUCK && startMs >= stuckAt - 10 * 60_000) {
        freeAt.set(runner, Infinity);
        continue;
      }
      const seconds = 30 + 240 * rand() ** 2 + (rand() < 0.06 ? 600 * rand() : 0);
      const doneMs = startMs + Math.round(seconds * 1000);
      const result = rand() < failRate ? "failed" : rand() < 0.03 ? "cancelled" : "succeeded";
      if (doneMs <= end) events.push({ ms: doneMs, e: { ...job, type: "job_completed", ts: at(doneMs), result } });
      freeAt.set(runner, doneMs + 5_000);
    }
  }
  events.sort((a, b) => a.ms - b.ms);

  // History and charts come from event time, so one pass over the two hours shows them all.
  const store = new SnapshotStore(warmingUpSnapshot("inline", new Date(start), RUNNERS), 3600, intervalMs);
  const aggregator = new Aggregator({ declaredRunners: RUNNERS, now: () => end });
  const text = ndjson(events.map((x) => x.e));
  aggregator.consume(text);
  const bytes = Buffer.byteLength(text);
  const info = {
    ...PASS_INFO,
    durationMs: 1 + Math.round(bytes / 2000),
    bytesRead: bytes,
    totalBytesRead: bytes,
    passes: passes,
    mode: "inline",
  };
  store.passSucceeded(passResult(aggregator, aggregator.snapshot(new Date(end), "ok", info)), end);
  return store;
}
