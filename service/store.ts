/**
 * What requests read: the latest published snapshot, the history and charts
 * of the same pass (derived from the event files in event time, so a restart
 * serves the same ones once its first pass ends), serialized at most once.
 */
import type { CompactSnapshot, Snapshot, WindowKey } from "./aggregate/aggregator";
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

  /** The last pass's history, per minute of event time, oldest first. */
  private historyEntries: CompactSnapshot[] = [];
  private seriesJson: Partial<Record<WindowKey, string>> = {};
  /** The last history answer, reused until the next pass (dashboards all ask the same thing). */
  private historyMemo: { limit: number; json: string } | null = null;

  constructor(
    initial: Published,
    readonly historyLimit: number,
    readonly intervalMs: number,
  ) {
    this.published = initial;
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
    this.historyEntries =
      result.history.length > this.historyLimit ? result.history.slice(-this.historyLimit) : result.history;
    this.seriesJson = result.series;
    this.historyMemo = null;
  }

  passFailed(err: unknown): void {
    this.failedPasses++;
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  get historyLength(): number {
    return this.historyEntries.length;
  }

  /** The newest `limit` entries, oldest first. */
  history(limit = this.historyEntries.length): CompactSnapshot[] {
    return limit >= this.historyEntries.length ? this.historyEntries : this.historyEntries.slice(-limit);
  }

  /** `history(limit)` as JSON, serialized at most once per pass for a given limit. */
  historyJson(limit = this.historyEntries.length): string {
    const n = Math.min(limit, this.historyEntries.length);
    if (this.historyMemo?.limit !== n) this.historyMemo = { limit: n, json: JSON.stringify(this.history(n)) };
    return this.historyMemo.json;
  }

  /** The chart of a window as JSON ("[]" before the first pass). */
  series(key: WindowKey): string {
    return this.seriesJson[key] ?? "[]";
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
