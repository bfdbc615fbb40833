/**
 * The background task: one pass at start, then one every interval. Passes
 * never overlap (the next is scheduled when one ends), and a failed pass is
 * logged while the previous snapshot stays served.
 */
import type { AggregationBackend } from "./aggregate/backend";
import type { PassInput } from "./aggregate/engine";
import type { Logger } from "./log";
import type { SnapshotStore } from "./store";

export class Refresher {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly backend: AggregationBackend,
    private readonly store: SnapshotStore,
    private readonly log: Logger,
    /** What each pass is handed besides the files (ingest refusals, GitHub's jobs). */
    private readonly input: () => PassInput = () => ({}),
  ) {}

  start(): void {
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.backend.close();
  }

  private run(): void {
    const startedAt = Date.now();
    // Never rejects: a failed pass is recorded and the next one is scheduled.
    void this.backend
      .pass((partial) => this.store.progress(partial), this.input())
      .then(
        (result) => this.store.passSucceeded(result),
        (err: unknown) => {
          if (this.stopped) return; // the worker was terminated on purpose
          this.store.passFailed(err);
          this.log.error("aggregation pass failed; the previous snapshot is still served", {
            error: err instanceof Error ? err.message : String(err),
          });
        },
      )
      .finally(() => {
        if (this.stopped) return;
        const wait = Math.max(0, this.store.intervalMs - (Date.now() - startedAt));
        this.timer = setTimeout(() => this.run(), wait);
      });
  }
}
