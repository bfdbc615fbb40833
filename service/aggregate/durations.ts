/**
 * Job durations: quantiles whose cost per pass does not grow with history.
 *
 * Up to `EXACT_LIMIT` samples are kept as they are, so a young fleet gets exact
 * nearest-rank percentiles. Past that, samples fold into logarithmic buckets
 * (a DDSketch-style sketch): memory and query cost are fixed, and every
 * quantile is within `RELATIVE_ACCURACY` of a true sample.
 */
export const EXACT_LIMIT = 10_000;
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Durations below this (seconds) share bucket 0: nothing in CI is faster. */
const MIN_TRACKED = 0.001;

/** Prometheus buckets for `cco_job_duration_seconds`: CI-scale, up to an hour. */
export const PROMETHEUS_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600] as const;

export interface DurationSummary {
  count: number;
  sumSeconds: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
  /** Cumulative counts per Prometheus upper bound, "+Inf" last. */
  buckets: Record<string, number>;
}

export class DurationStats {
  private exact: number[] | null = [];
  private exactSorted = true;
  private readonly sketch = new Map<number, number>();
  private readonly promCounts = new Array<number>(PROMETHEUS_BUCKETS.length + 1).fill(0);
  private count = 0;
  private sum = 0;
  private max = -Infinity;

  add(seconds: number): void {
    this.count++;
    this.sum += seconds;
    if (seconds > this.max) this.max = seconds;
    let b = 0;
    while (b < PROMETHEUS_BUCKETS.length && seconds > PROMETHEUS_BUCKETS[b]!) b++;
    this.promCounts[b]!++;
    if (this.exact) {
      const last = this.exact[this.exact.length - 1];
      if (last !== undefined && seconds < last) this.exactSorted = false;
      this.exact.push(seconds);
      if (this.exact.length > EXACT_LIMIT) {
        for (const s of this.exact) this.addToSketch(s);
        this.exact = null;
      }
    } else {
      this.addToSketch(seconds);
    }
  }

  private addToSketch(seconds: number): void {
    const key = seconds <= MIN_TRACKED ? 0 : Math.ceil(Math.log(seconds / MIN_TRACKED) / LOG_GAMMA);
    this.sketch.set(key, (this.sketch.get(key) ?? 0) + 1);
  }

  /** Nearest-rank quantile (q in (0, 1]); null without samples. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    if (this.exact) {
      if (!this.exactSorted) {
        // Appends arrive nearly sorted; V8's TimSort makes this close to linear.
        this.exact.sort((a, b) => a - b);
        this.exactSorted = true;
      }
      return this.exact[rank - 1]!;
    }
    const keys = [...this.sketch.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const key of keys) {
      seen += this.sketch.get(key)!;
      if (seen >= rank) {
        if (key === 0) return MIN_TRACKED;
        // The bucket (γ^(k-1), γ^k] * MIN_TRACKED: its midpoint in relative terms.
        const value = (MIN_TRACKED * 2 * Math.pow(GAMMA, key)) / (GAMMA + 1);
        return Math.min(value, this.max);
      }
    }
    return this.max;
  }

  summary(): DurationSummary {
    const buckets: Record<string, number> = {};
    let cumulative = 0;
    PROMETHEUS_BUCKETS.forEach((le, i) => {
      cumulative += this.promCounts[i]!;
      buckets[String(le)] = cumulative;
    });
    buckets["+Inf"] = this.count;
    return {
      count: this.count,
      sumSeconds: round3(this.sum),
      p50: roundOrNull(this.quantile(0.5)),
      p95: roundOrNull(this.quantile(0.95)),
      max: this.count === 0 ? null : round3(this.max),
      buckets,
    };
  }
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
function roundOrNull(x: number | null): number | null {
  return x === null ? null : round3(x);
}
