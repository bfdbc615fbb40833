/** Event builders for tests and the bench. */
import type { AggregationInfo } from "../../service/aggregate/aggregator";
import type { JobResult } from "../../service/events";

export interface JobSpec {
  runner?: string;
  repo?: string;
  workflow?: string;
  job?: string;
  runId: number;
  runAttempt?: number;
}

const T0 = Date.parse("2026-11-26T18:00:00.000Z");

export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

export function started(spec: JobSpec, atSeconds = 0): Record<string, unknown> {
  return {
    v: 1,
    type: "job_started",
    ts: at(atSeconds),
    runner: spec.runner ?? "runner-01",
    repo: spec.repo ?? "brentley/cco",
    workflow: spec.workflow ?? "build",
    job: spec.job ?? "test",
    runId: spec.runId,
    runAttempt: spec.runAttempt ?? 1,
  };
}

export function completed(spec: JobSpec, atSeconds: number, result: JobResult = "succeeded"): Record<string, unknown> {
  return { ...started(spec, atSeconds), type: "job_completed", result };
}

export function heartbeat(runner: string, atSeconds = 0): Record<string, unknown> {
  return { v: 1, type: "heartbeat", ts: at(atSeconds), runner };
}

export function ndjson(events: unknown[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join("");
}

/** A response's JSON, typed loosely: tests assert its shape field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function jsonOf(res: Response): Promise<any> {
  return res.json();
}

/** What a pass reports about itself, for snapshots made by hand in tests. */
export const PASS_INFO: AggregationInfo = {
  durationMs: 2,
  bytesRead: 10,
  files: 1,
  passes: 1,
  totalBytesRead: 10,
  mode: "test",
  heapUsedBytes: 0,
};

/** What controller/metrics.ts postHeartbeat sends when a slot's new life is ready. */
export function controllerReady(
  atSeconds: number,
  resetSeconds: number,
  o: { slot?: string; life?: number; failures?: number; runner?: string } = {},
): Record<string, unknown> {
  const slot = o.slot ?? "runner-01";
  return {
    ...heartbeat(o.runner ?? "cco-controller-pve", atSeconds),
    source: "cco-controller",
    slot,
    life: o.life ?? 1,
    lifeRunner: `${slot}-m1abc${o.life ?? 1}`,
    resetSeconds,
    failures: o.failures ?? 0,
  };
}
