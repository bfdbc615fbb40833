/**
 * One aggregation pass: read what was appended, update the statistics, and
 * serialize the snapshot once (requests only ever send these bytes).
 * The same engine runs in a worker thread or, inline, on the main thread.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import {
  Aggregator,
  WINDOW_KEYS,
  type AggregationInfo,
  type CompactSnapshot,
  type Snapshot,
  type WindowKey,
} from "./aggregator";
import type { PassInput } from "./input";
import { DirectoryTailer } from "./tailer";

/** A snapshot as served: the object (for /metrics and the page), its JSON and its ETag. */
export interface Published {
  snapshot: Snapshot;
  json: string;
  etag: string;
}

export interface PassResult extends Published {
  /** Per minute of event time, newest `historyLimit` (derived from the files). */
  history: CompactSnapshot[];
  /** The chart of each window, as JSON (what `/api/stats/series` sends). */
  series: Record<WindowKey, string>;
}

export interface EngineOptions {
  /** Bytes parsed per synchronous step (see DirectoryTailer). */
  chunkBytes?: number;
  /** Bytes read per call (see DirectoryTailer); default 1 MiB. */
  readBytes?: number;
  /** During the first pass, publish a partial snapshot this often. */
  progressEveryMs?: number;
  /** STATS_RUNNERS: the runners the stack declares. */
  declaredRunners?: readonly string[] | null;
  /** Minutes of history a pass returns (STATS_HISTORY_LIMIT). */
  historyLimit?: number;
  /** The service's clock (tests set it). */
  now?: () => number;
}

export type { GitHubInput, PassInput } from "./input";

export function publish(snapshot: Snapshot): Published {
  const json = JSON.stringify(snapshot);
  const etag = `"${createHash("sha1").update(json).digest("base64url")}"`;
  return { snapshot, json, etag };
}

/** A snapshot as a pass publishes it, with its history and charts. */
export function passResult(aggregator: Aggregator, snapshot: Snapshot, historyLimit = 3600): PassResult {
  const at = Date.parse(snapshot.generatedAt);
  const series = {} as Record<WindowKey, string>;
  for (const key of WINDOW_KEYS) series[key] = JSON.stringify(aggregator.series(at, key));
  return { ...publish(snapshot), history: aggregator.history(at, historyLimit), series };
}

/** What a snapshot says of aggregation before any pass has completed. */
function noPassYet(mode: string): AggregationInfo {
  return { durationMs: 0, bytesRead: 0, files: 0, passes: 0, totalBytesRead: 0, mode, heapUsedBytes: 0 };
}

/** What `/api/stats` says before the first pass has published anything. */
export function warmingUpSnapshot(
  mode: string,
  now = new Date(),
  declaredRunners: readonly string[] | null = null,
): Published {
  return publish(
    new Aggregator({ declaredRunners, now: () => now.getTime() }).snapshot(now, "warming_up", noPassYet(mode)),
  );
}

export class AggregationEngine {
  private readonly aggregator: Aggregator;
  private readonly clock: () => number;
  private readonly historyLimit: number;
  private readonly tailer: DirectoryTailer;
  private readonly progressEveryMs: number;
  private passes = 0;
  private totalBytesRead = 0;
  private progress: { report: (p: Published) => void; lastAt: number; passStart: number } | null = null;

  constructor(
    dataDir: string,
    private readonly mode: string,
    options: EngineOptions = {},
  ) {
    this.progressEveryMs = options.progressEveryMs ?? 1000;
    this.clock = options.now ?? Date.now;
    this.historyLimit = options.historyLimit ?? 3600;
    this.aggregator = new Aggregator({ declaredRunners: options.declaredRunners, now: this.clock });
    this.tailer = new DirectoryTailer(
      dataDir,
      {
        consume: (text) => this.aggregator.consume(text),
        line: (text) => this.aggregator.line(text),
        reject: () => this.aggregator.reject(),
      },
      {
        chunkBytes: options.chunkBytes,
        readBytes: options.readBytes ?? 1024 * 1024,
        afterChunk: () => this.maybeReportProgress(),
      },
    );
  }

  /**
   * Runs one pass. `onProgress` receives partial snapshots while a pass that
   * starts from nothing (the first one) is still reading.
   */
  async pass(onProgress?: (p: Published) => void, input: PassInput = {}): Promise<PassResult> {
    const passStart = performance.now();
    this.progress = onProgress && this.passes === 0 ? { report: onProgress, lastAt: passStart, passStart } : null;
    try {
      this.aggregator.tick();
      this.aggregator.setInput(input);
      const { bytesRead, files } = await this.tailer.pass();
      this.passes++;
      this.totalBytesRead += bytesRead;
      const at = new Date(this.clock());
      const snapshot = this.aggregator.snapshot(at, "ok", {
        durationMs: round2(performance.now() - passStart),
        bytesRead,
        files,
        passes: this.passes,
        totalBytesRead: this.totalBytesRead,
        mode: this.mode,
        heapUsedBytes: getHeapStatistics().used_heap_size,
      });
      return passResult(this.aggregator, snapshot, this.historyLimit);
    } finally {
      this.progress = null;
    }
  }

  close(): Promise<void> {
    return this.tailer.close();
  }

  private maybeReportProgress(): void {
    const p = this.progress;
    if (!p) return;
    const now = performance.now();
    if (now - p.lastAt < this.progressEveryMs) return;
    p.lastAt = now;
    p.report(
      publish(
        this.aggregator.snapshot(new Date(this.clock()), "partial", {
          ...noPassYet(this.mode),
          durationMs: round2(now - p.passStart),
          heapUsedBytes: getHeapStatistics().used_heap_size,
        }),
      ),
    );
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
