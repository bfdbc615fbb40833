/**
 * One aggregation pass: read what was appended, update the statistics, and
 * serialize the snapshot once (requests only ever send these bytes).
 * The same engine runs in a worker thread or, inline, on the main thread.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { Aggregator, compact, type AggregationInfo, type CompactSnapshot, type Snapshot } from "./aggregator";
import { DirectoryTailer } from "./tailer";

/** A snapshot as served: the object (for /metrics and the page), its JSON and its ETag. */
export interface Published {
  snapshot: Snapshot;
  json: string;
  etag: string;
}

export interface PassResult extends Published {
  history: CompactSnapshot;
}

export interface EngineOptions {
  /** Bytes parsed per synchronous step (see DirectoryTailer). */
  chunkBytes?: number;
  /** During the first pass, publish a partial snapshot this often. */
  progressEveryMs?: number;
}

export function publish(snapshot: Snapshot): Published {
  const json = JSON.stringify(snapshot);
  const etag = `"${createHash("sha1").update(json).digest("base64url")}"`;
  return { snapshot, json, etag };
}

/** What a snapshot says of aggregation before any pass has completed. */
function noPassYet(mode: string): AggregationInfo {
  return { durationMs: 0, bytesRead: 0, files: 0, passes: 0, totalBytesRead: 0, mode, heapUsedBytes: 0 };
}

/** What `/api/stats` says before the first pass has published anything. */
export function warmingUpSnapshot(mode: string, now = new Date()): Published {
  return publish(new Aggregator().snapshot(now, "warming_up", noPassYet(mode)));
}

export class AggregationEngine {
  private readonly aggregator = new Aggregator();
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
    this.tailer = new DirectoryTailer(
      dataDir,
      {
        consume: (text) => this.aggregator.consume(text),
        line: (text) => this.aggregator.line(text),
        reject: () => this.aggregator.reject(),
      },
      { chunkBytes: options.chunkBytes, afterChunk: () => this.maybeReportProgress() },
    );
  }

  /**
   * Runs one pass. `onProgress` receives partial snapshots while a pass that
   * starts from nothing (the first one) is still reading.
   */
  async pass(onProgress?: (p: Published) => void): Promise<PassResult> {
    const passStart = performance.now();
    this.progress = onProgress && this.passes === 0 ? { report: onProgress, lastAt: passStart, passStart } : null;
    try {
      const { bytesRead, files } = await this.tailer.pass();
      this.passes++;
      this.totalBytesRead += bytesRead;
      const snapshot = this.aggregator.snapshot(new Date(), "ok", {
        durationMs: round2(performance.now() - passStart),
        bytesRead,
        files,
        passes: this.passes,
        totalBytesRead: this.totalBytesRead,
        mode: this.mode,
        heapUsedBytes: getHeapStatistics().used_heap_size,
      });
      return { ...publish(snapshot), history: compact(snapshot) };
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
        this.aggregator.snapshot(new Date(), "partial", {
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
