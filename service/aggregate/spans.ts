/**
 * One runner's newest job spans for per-job egress, ordered by start (a span
 * whose completion was read first sorts by its end until its start arrives).
 *
 * Every job event of a cold pass comes through here, a million times, so the
 * order is kept by inserting in place rather than by sorting, and the search
 * reads two arrays of numbers (runIds, sort keys) next to the spans instead
 * of the spans themselves: 32 spans scattered in the heap cost 32 cache
 * misses per event. Files read out of time order (history-100 before
 * history-11) made push-then-sort the hook's main cost: a sort of 33 spans
 * for each event older than the ones kept.
 */

/** What a span needs to be found and ordered (the ledger's spans carry more). */
export interface SpanKey {
  repo: string;
  job: string;
  runId: number;
  runAttempt: number;
  /** NaN until the job's start is read. */
  startMs: number;
  /** NaN until its completion is read. */
  doneMs: number;
}

/** What a span is ordered by: its start, or its end while the start is not known. */
export function sortKey(j: SpanKey): number {
  return Number.isNaN(j.startMs) ? j.doneMs : j.startMs;
}

export class JobSpans<T extends SpanKey> {
  /** Oldest first. Read it, never change it: the arrays below follow it. */
  readonly list: T[] = [];
  private readonly ids: number[] = [];
  private readonly keys: number[] = [];
  /** No span of a larger runId was ever added: a start of a newer run (runIds grow) needs no search. */
  private maxRunId = 0;
  /** The span last let go, reused by the next one (spans outlive a scavenge: each dropped one was old-space garbage). */
  private spare: T | null = null;

  constructor(
    private readonly limit: number,
    /** A new span, for when there is no spare to reuse. */
    private readonly blank: () => T,
  ) {}

  /** The span of that job, if kept. */
  find(runId: number, runAttempt: number, job: string, repo: string): T | undefined {
    if (runId > this.maxRunId) return undefined;
    const ids = this.ids;
    for (let i = ids.length - 1; i >= 0; i--) {
      if (ids[i] !== runId) continue;
      const j = this.list[i]!;
      if (j.runAttempt === runAttempt && j.job === job && j.repo === repo) return j;
    }
    return undefined;
  }

  /** The span that starts last (the end of `list`), if any. */
  newest(): T | undefined {
    return this.list[this.list.length - 1];
  }

  /** A span to fill for a job not kept yet (a reused one: set every field), then to `add`. */
  take(): T {
    const span = this.spare ?? this.blank();
    this.spare = null;
    return span;
  }

  /**
   * Keeps `span` (from `take`, its times set) in order; false when the list
   * is full and it would be older than every span kept, the next to go.
   * `dropped.jobs` counts each span let go.
   */
  add(span: T, dropped: { jobs: number }): boolean {
    if (span.runId > this.maxRunId) this.maxRunId = span.runId;
    const key = sortKey(span);
    const p = this.position(key);
    if (p === 0 && this.list.length >= this.limit) {
      this.spare = span;
      dropped.jobs++;
      return false;
    }
    this.insert(p, span, key);
    if (this.list.length > this.limit) {
      this.spare = this.list.shift()!;
      this.ids.shift();
      this.keys.shift();
      dropped.jobs++;
    }
    return true;
  }

  /** After `span`'s times changed (a start read after its completion): back in order. */
  moved(span: T): void {
    const i = this.list.indexOf(span);
    const key = sortKey(span);
    if (i < 0 || this.keys[i] === key) return;
    this.list.splice(i, 1);
    this.ids.splice(i, 1);
    this.keys.splice(i, 1);
    this.insert(this.position(key), span, key);
  }

  /** Where a span of `key` goes: after every span of the same key (arrival order among equals). */
  private position(key: number): number {
    const keys = this.keys;
    let p = keys.length;
    while (p > 0 && keys[p - 1]! > key) p--;
    return p;
  }

  private insert(p: number, span: T, key: number): void {
    if (p === this.list.length) {
      this.list.push(span);
      this.ids.push(span.runId);
      this.keys.push(key);
    } else {
      this.list.splice(p, 0, span);
      this.ids.splice(p, 0, span.runId);
      this.keys.splice(p, 0, key);
    }
  }
}
