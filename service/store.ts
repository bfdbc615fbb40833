/**
 * What requests read: the latest published snapshot and a bounded ring of
 * compact history entries, each serialized once when it arrives.
 */
import type { CompactSnapshot, Snapshot } from "./aggregate/aggregator";
import type { PassResult, Published } from "./aggregate/engine";

export interface Health {
  healthy: boolean;
  body: {
    status: "ok" | "warming_up" | "stale";
    lastPassAt: string | null;
    ageMs: number | null;
    passes: number;
    failedPasses: number;
    lastError: string | null;
    intervalMs: number;
  };
}

/** A pass older than this many intervals makes the service unhealthy. */
export const STALE_AFTER_INTERVALS = 3;

export class SnapshotStore {
  private published: Published;
  private complete = false;
  private lastGoodAt: number | null = null;
  private passes = 0;
  private failedPasses = 0;
  private lastError: string | null = null;

  /** Ring buffer of compact entries: at most `historyLimit`, however long the service runs. */
  private readonly ring: CompactSnapshot[];
  private ringStart = 0;
  private ringSize = 0;
  /** The last history answer, reused until the next pass (dashboards all ask the same thing). */
  private historyMemo: { limit: number; json: string } | null = null;

  constructor(
    initial: Published,
    readonly historyLimit: number,
    readonly intervalMs: number,
  ) {
    this.published = initial;
    this.ring = new Array<CompactSnapshot>(historyLimit);
  }

  get current(): Published {
    return this.published;
  }

  get snapshot(): Snapshot {
    return this.published.snapshot;
  }

  /** A partial snapshot from a first pass still reading; ignored once a complete one exists. */
  progress(p: Published): void {
    if (!this.complete) this.published = p;
  }

  passSucceeded(result: PassResult, now = Date.now()): void {
    this.published = { snapshot: result.snapshot, json: result.json, etag: result.etag };
    this.complete = true;
    this.lastGoodAt = now;
    this.passes++;
    const slot = (this.ringStart + this.ringSize) % this.historyLimit;
    this.ring[slot] = result.history;
    if (this.ringSize < this.historyLimit) this.ringSize++;
    else this.ringStart = (this.ringStart + 1) % this.historyLimit;
    this.historyMemo = null;
  }

  passFailed(err: unknown): void {
    this.failedPasses++;
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  get historyLength(): number {
    return this.ringSize;
  }

  /** The newest `limit` entries, oldest first. */
  history(limit = this.ringSize): CompactSnapshot[] {
    const n = Math.min(limit, this.ringSize);
    const out = new Array<CompactSnapshot>(n);
    for (let i = 0; i < n; i++) out[i] = this.ring[(this.ringStart + this.ringSize - n + i) % this.historyLimit]!;
    return out;
  }

  /** `history(limit)` as JSON, serialized at most once per pass for a given limit. */
  historyJson(limit = this.ringSize): string {
    const n = Math.min(limit, this.ringSize);
    if (this.historyMemo?.limit !== n) this.historyMemo = { limit: n, json: JSON.stringify(this.history(n)) };
    return this.historyMemo.json;
  }

  health(now = Date.now()): Health {
    const ageMs = this.lastGoodAt === null ? null : now - this.lastGoodAt;
    const status =
      this.lastGoodAt === null ? "warming_up" : ageMs! > STALE_AFTER_INTERVALS * this.intervalMs ? "stale" : "ok";
    return {
      healthy: status === "ok",
      body: {
        status,
        lastPassAt: this.lastGoodAt === null ? null : new Date(this.lastGoodAt).toISOString(),
        ageMs,
        passes: this.passes,
        failedPasses: this.failedPasses,
        lastError: this.lastError,
        intervalMs: this.intervalMs,
      },
    };
  }
}
