/**
 * Synthetic history for the bench: CI-like jobs on 10 runners across 20
 * repositories, with heartbeats, audit fields, and 5% bad lines (half not
 * JSON, half JSON that is not a valid event). Deterministic.
 */
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface Generated {
  lines: number;
  bytes: number;
  malformed: number;
}

/** A small deterministic PRNG (mulberry32): same data in every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.parse("2026-01-01T00:00:00Z");

export class EventGenerator {
  private readonly rand: () => number;
  private runId: number;
  private clockMs = T0;

  constructor(seed = 42, firstRunId = 1) {
    this.rand = prng(seed);
    this.runId = firstRunId;
  }

  /** `n` lines: pairs of job_started/job_completed, heartbeats, and bad lines. */
  lines(n: number): { text: string; malformed: number } {
    const out: string[] = [];
    let malformed = 0;
    while (out.length < n) {
      const r = this.rand();
      this.clockMs += Math.floor(this.rand() * 2000);
      // A job is two lines: 9.3% of draws bad gives 5% of lines bad.
      if (r < 0.0465) {
        out.push(`{"v":1,"type":"job_started","ts":"${new Date(this.clockMs).toISOString()}","runner":`); // torn
        malformed++;
      } else if (r < 0.093) {
        out.push(
          JSON.stringify({ v: 1, type: "job_queued", ts: new Date(this.clockMs).toISOString(), runner: "runner-01" }),
        );
        malformed++;
      } else if (r < 0.143) {
        out.push(
          JSON.stringify({ v: 1, type: "heartbeat", ts: new Date(this.clockMs).toISOString(), runner: this.runner() }),
        );
      } else if (out.length + 2 <= n) {
        const runner = this.runner();
        const repo = `brentley/repo-${Math.floor(this.rand() * 20)}`;
        const runId = this.runId++;
        const base = {
          v: 1,
          runner,
          repo,
          workflow: this.rand() < 0.7 ? "build" : "security",
          job: this.rand() < 0.5 ? "test" : "lint",
          runId,
          runAttempt: 1,
          actor: "octocat",
          sha: (runId * 2654435761).toString(16).padStart(40, "0"),
          ref: "refs/heads/main",
          event: "push",
        };
        const duration = 5000 + Math.floor(this.rand() ** 3 * 3_600_000);
        const result = this.rand() < 0.85 ? "succeeded" : this.rand() < 0.7 ? "failed" : "cancelled";
        out.push(JSON.stringify({ ...base, type: "job_started", ts: new Date(this.clockMs).toISOString() }));
        out.push(
          JSON.stringify({
            ...base,
            type: "job_completed",
            ts: new Date(this.clockMs + duration).toISOString(),
            result,
          }),
        );
      }
    }
    return { text: `${out.join("\n")}\n`, malformed };
  }

  private runner(): string {
    return `runner-${String(1 + Math.floor(this.rand() * 10)).padStart(2, "0")}`;
  }
}

/** Writes `total` lines across `files` files named history-NN.jsonl. */
export async function writeHistory(
  dir: string,
  total: number,
  files = 10,
  gen = new EventGenerator(),
): Promise<Generated> {
  const result: Generated = { lines: 0, bytes: 0, malformed: 0 };
  const perFile = Math.ceil(total / files);
  for (let f = 0; f < files; f++) {
    const path = join(dir, `history-${String(f).padStart(2, "0")}.jsonl`);
    await writeFile(path, "");
    for (let written = 0; written < perFile && result.lines < total;) {
      const n = Math.min(50_000, perFile - written, total - result.lines);
      const { text, malformed } = gen.lines(n);
      await appendFile(path, text);
      written += n;
      result.lines += n;
      result.bytes += Buffer.byteLength(text);
      result.malformed += malformed;
    }
  }
  return result;
}
