/**
 * The fleet over time, in event time: one bucket per minute of the events'
 * own `ts`, so a batch that arrives late (a forwarder catching up) lands in
 * the minutes it happened, and a restart that re-reads the files rebuilds the
 * very same buckets. Memory is fixed: a ring of typed arrays covering the
 * last `RETAIN_MINUTES` (7 days and an hour), whatever arrives.
 *
 * Busy time (jobs running) is kept as the starts and ends of completed jobs
 * with their offsets inside their minute; the jobs running in a minute are the
 * running count at its start plus what starts minus what ends within it. Jobs
 * still open are added at read time (the caller knows them; they are few).
 */
export const MINUTE_MS = 60_000;
/** 7 days (the widest window) and an hour of margin. */
export const RETAIN_MINUTES = 7 * 24 * 60 + 60;
/** Slots of the ring: what is retained plus room for a little clock skew ahead of now. */
const SLOTS = RETAIN_MINUTES + 60;

/** Durations fall into logarithmic buckets: 1 s to 5 days, each 10% wider than the last (values within 5%). */
const HIST_GAMMA = 1.1;
const HIST_MIN_S = 1;
const HIST_KEYS = Math.ceil(Math.log((5 * 86400) / HIST_MIN_S) / Math.log(HIST_GAMMA)) + 1;

function histKey(seconds: number): number {
  if (seconds <= HIST_MIN_S) return 0;
  return Math.min(HIST_KEYS - 1, Math.ceil(Math.log(seconds / HIST_MIN_S) / Math.log(HIST_GAMMA)));
}
/** A value that represents bucket `k`: the geometric middle of its bounds. */
function histValue(k: number): number {
  if (k === 0) return HIST_MIN_S;
  return HIST_MIN_S * Math.pow(HIST_GAMMA, k - 0.5);
}

/** Nearest-rank quantile of a merged histogram, or null when empty. */
export function histQuantile(hist: Uint32Array, count: number, q: number): number | null {
  if (count === 0) return null;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let k = 0; k < hist.length; k++) {
    seen += hist[k]!;
    if (seen >= rank) return histValue(k);
  }
  return null;
}

export function newHist(): Uint32Array {
  return new Uint32Array(HIST_KEYS);
}

/** The sums of a span of minutes. */
export interface Span {
  started: number;
  completed: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  events: number;
  /** Milliseconds of job time inside the span (completed jobs only; add open ones yourself). */
  busyMs: number;
  /** Durations of the jobs completed in the span. */
  durations: Uint32Array;
  /** Queue times (GitHub's created -> started) of the jobs started in the span. */
  queue: Uint32Array;
  queueCount: number;
}

export type ResultKey = "succeeded" | "failed" | "cancelled";

export class Timeline {
  /** The oldest minute kept (minutes since the epoch). */
  private lo = -1;
  private base = 0; // jobs running at the start of minute `lo` (completed pairs only)
  private readonly started = new Uint32Array(SLOTS);
  private readonly completed = new Uint32Array(SLOTS);
  private readonly succeeded = new Uint32Array(SLOTS);
  private readonly failed = new Uint32Array(SLOTS);
  private readonly cancelled = new Uint32Array(SLOTS);
  private readonly events = new Uint32Array(SLOTS);
  private readonly startN = new Uint32Array(SLOTS);
  private readonly startOff = new Float64Array(SLOTS);
  private readonly endN = new Uint32Array(SLOTS);
  private readonly endOff = new Float64Array(SLOTS);
  private readonly durations = new Array<Uint32Array | undefined>(SLOTS);
  private readonly queue = new Array<Uint32Array | undefined>(SLOTS);
  private readonly queueN = new Uint32Array(SLOTS);

  /** The first minute kept. */
  get firstMinute(): number {
    return this.lo;
  }

  /** Moves the kept range so that it ends at `nowMs`' minute (plus the skew room); never backwards. */
  advance(nowMs: number): void {
    const lo = Math.floor(nowMs / MINUTE_MS) - RETAIN_MINUTES + 1;
    if (this.lo === -1 || lo - this.lo >= SLOTS) {
      if (this.lo !== -1) this.clearAll();
      this.lo = lo;
      return;
    }
    for (; this.lo < lo; this.lo++) {
      const s = this.lo % SLOTS;
      this.base += this.startN[s]! - this.endN[s]!;
      this.clearSlot(s);
    }
  }

  /** Whether minute `m` is inside the ring (older: only the all-time totals count it). */
  private slot(ms: number): number {
    const m = Math.floor(ms / MINUTE_MS);
    if (m < this.lo || m >= this.lo + SLOTS) return -1;
    return m % SLOTS;
  }

  event(ms: number): void {
    const s = this.slot(ms);
    if (s >= 0) this.events[s]!++;
  }

  start(ms: number): void {
    const s = this.slot(ms);
    if (s >= 0) this.started[s]!++;
  }

  completion(ms: number, result: ResultKey | "unknown"): void {
    const s = this.slot(ms);
    if (s < 0) return;
    this.completed[s]!++;
    // Named properties, not this[result]: a keyed access by a string takes a generic lookup each time.
    if (result === "succeeded") this.succeeded[s]!++;
    else if (result === "failed") this.failed[s]!++;
    else if (result === "cancelled") this.cancelled[s]!++;
  }

  /** A job whose start and end are both known (in either order of arrival). */
  pair(startMs: number, endMs: number): void {
    const e = this.slot(endMs);
    if (e < 0 || endMs < startMs) return;
    const loMs = this.lo * MINUTE_MS;
    const from = Math.max(startMs, loMs);
    const s = Math.floor(from / MINUTE_MS) % SLOTS;
    this.startN[s]!++;
    this.startOff[s]! += from - Math.floor(from / MINUTE_MS) * MINUTE_MS;
    this.endN[e]!++;
    this.endOff[e]! += endMs - Math.floor(endMs / MINUTE_MS) * MINUTE_MS;
    const h = (this.durations[e] ??= newHist());
    h[histKey((endMs - startMs) / 1000)]!++;
  }

  /** A queue time (GitHub's created -> started), placed at the start. */
  queued(startMs: number, seconds: number): void {
    const s = this.slot(startMs);
    if (s < 0 || !(seconds >= 0)) return;
    (this.queue[s] ??= newHist())[histKey(seconds)]!++;
    this.queueN[s]!++;
  }

  /** Forgets queue times (they are recomputed from GitHub's answers each pass). */
  clearQueue(): void {
    this.queue.fill(undefined);
    this.queueN.fill(0);
  }

  /**
   * Calls `visit` for each minute from `fromMinute` (inclusive) to `toMinute`
   * (exclusive) with the busy ms of completed jobs in it.
   */
  private walk(fromMinute: number, toMinute: number, visit: (slot: number, busyMs: number) => void): void {
    let running = this.base;
    for (let m = this.lo; m < toMinute && m < this.lo + SLOTS; m++) {
      const s = m % SLOTS;
      const busy =
        running * MINUTE_MS +
        (this.startN[s]! * MINUTE_MS - this.startOff[s]!) -
        (this.endN[s]! * MINUTE_MS - this.endOff[s]!);
      running += this.startN[s]! - this.endN[s]!;
      if (m >= fromMinute) visit(s, busy);
    }
  }

  /** Sums over consecutive spans of `stepMinutes` from `fromMinute`, `count` of them. */
  spans(fromMinute: number, stepMinutes: number, count: number): Span[] {
    const out: Span[] = [];
    for (let i = 0; i < count; i++) {
      out.push({
        started: 0,
        completed: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        events: 0,
        busyMs: 0,
        durations: newHist(),
        queue: newHist(),
        queueCount: 0,
      });
    }
    this.walk(fromMinute, fromMinute + stepMinutes * count, (s, busy) => {
      const m = this.minuteOf(s);
      const sp = out[Math.floor((m - fromMinute) / stepMinutes)]!;
      sp.started += this.started[s]!;
      sp.completed += this.completed[s]!;
      sp.succeeded += this.succeeded[s]!;
      sp.failed += this.failed[s]!;
      sp.cancelled += this.cancelled[s]!;
      sp.events += this.events[s]!;
      sp.busyMs += busy;
      const d = this.durations[s];
      if (d) for (let k = 0; k < d.length; k++) sp.durations[k]! += d[k]!;
      const q = this.queue[s];
      if (q) for (let k = 0; k < q.length; k++) sp.queue[k]! += q[k]!;
      sp.queueCount += this.queueN[s]!;
    });
    return out;
  }

  /** The minute that slot `s` holds, given the range kept now. */
  private minuteOf(s: number): number {
    const loSlot = this.lo % SLOTS;
    return this.lo + ((s - loSlot + SLOTS) % SLOTS);
  }

  private clearSlot(s: number): void {
    this.started[s] = 0;
    this.completed[s] = 0;
    this.succeeded[s] = 0;
    this.failed[s] = 0;
    this.cancelled[s] = 0;
    this.events[s] = 0;
    this.startN[s] = 0;
    this.startOff[s] = 0;
    this.endN[s] = 0;
    this.endOff[s] = 0;
    this.durations[s] = undefined;
    this.queue[s] = undefined;
    this.queueN[s] = 0;
  }

  private clearAll(): void {
    for (let s = 0; s < SLOTS; s++) this.clearSlot(s);
    this.base = 0;
  }
}
