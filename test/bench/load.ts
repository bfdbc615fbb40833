/** HTTP load with autocannon, recording every latency itself (so windows of any length compare). */
import autocannon from "autocannon";

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  connections?: number;
  /** Upper bound of the run in seconds; `until` may end it sooner. */
  seconds: number;
  /** Polled every 100 ms; the run stops once it resolves true. */
  until?: () => Promise<boolean>;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function load(url: string, opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url, connections: opts.connections ?? 50, duration: opts.seconds }, (err) => {
      clearInterval(poll);
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const sorted = Float64Array.from(latencies).sort();
      resolve({
        requests: latencies.length,
        seconds,
        rps: latencies.length / seconds,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted.length ? sorted[sorted.length - 1]! : NaN,
        errors,
        non2xx,
      });
    });
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      latencies.push(ms);
      if (status < 200 || status > 299) non2xx++;
    });
    instance.on("reqError", () => errors++);
    let checking = false;
    const poll = setInterval(() => {
      if (!opts.until || checking) return;
      checking = true;
      opts.until().then(
        (done) => {
          checking = false;
          if (done) instance.stop();
        },
        () => (checking = false),
      );
    }, 100);
  });
}
