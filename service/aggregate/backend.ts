import { AggregationEngine, type PassResult, type Published } from "./engine";

/** Where passes run. The refresher only sees this. */
export interface AggregationBackend {
  readonly mode: "worker" | "inline";
  pass(onProgress?: (p: Published) => void): Promise<PassResult>;
  close(): Promise<void>;
}

/**
 * Passes on the main thread. Parsing happens in 64 KiB steps between
 * asynchronous reads, so a request waits at most one step (about 1 ms).
 */
export class InlineBackend implements AggregationBackend {
  readonly mode = "inline";
  private readonly engine: AggregationEngine;

  constructor(dataDir: string) {
    this.engine = new AggregationEngine(dataDir, this.mode, { chunkBytes: 64 * 1024 });
  }

  pass(onProgress?: (p: Published) => void): Promise<PassResult> {
    return this.engine.pass(onProgress);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
