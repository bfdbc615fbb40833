import { AggregationEngine, type EngineOptions, type PassInput, type PassResult, type Published } from "./engine";

/** Where passes run. The refresher only sees this. */
export interface AggregationBackend {
  readonly mode: "worker" | "inline";
  pass(onProgress?: (p: Published) => void, input?: PassInput): Promise<PassResult>;
  close(): Promise<void>;
}

/** Bytes parsed per synchronous step on the main thread: about 1 ms of work. */
export const INLINE_CHUNK_BYTES = 64 * 1024;

/**
 * Passes on the main thread (the default). Parsing happens in 64 KiB steps
 * between asynchronous reads, so a request waits at most one step (~0.5 ms).
 *
 * Measured against the worker (npm run bench, figure 3: 2 cores shared with
 * the load generator, 3 alternated rounds per mode, 4 runs): p99 of
 * /api/stats during a cold pass over 1M events was 2.7-3.5x the bare server's
 * inline and 2.8-3.1x with the worker, lower inline in 3 of 4 runs. The worker
 * finishes a cold pass twice as fast (2.5 vs 5.3 s) and has the lower maximum;
 * steady passes take ~20 ms either way. A small container has one or two
 * cores, so inline is the default and the worker an option.
 */
export class InlineBackend implements AggregationBackend {
  readonly mode = "inline";
  private readonly engine: AggregationEngine;

  constructor(dataDir: string, options: EngineOptions = {}) {
    this.engine = new AggregationEngine(dataDir, this.mode, { chunkBytes: INLINE_CHUNK_BYTES, ...options });
  }

  pass(onProgress?: (p: Published) => void, input?: PassInput): Promise<PassResult> {
    return this.engine.pass(onProgress, input);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
