/**
 * Passes in a worker thread: the main thread only receives finished snapshots
 * (already serialized), so requests never wait for parsing.
 *
 * This file is both sides. Loaded in the worker (the role in workerData says
 * so) it runs the engine; loaded on the main thread it exports the backend.
 * Bundled by esbuild into one file, `__filename` is that file, so the worker
 * starts from the bundle itself.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { AggregationBackend } from "./backend";
import { AggregationEngine, type PassResult, type Published } from "./engine";

const ROLE = "cco-stats-aggregator";

interface WorkerInit {
  role: typeof ROLE;
  dataDir: string;
}
type ToWorker = { id: number };
type FromWorker =
  | { kind: "progress"; published: Published }
  | { kind: "done"; id: number; result: PassResult }
  | { kind: "failed"; id: number; message: string };

function runWorker(init: WorkerInit): void {
  const engine = new AggregationEngine(init.dataDir, "worker", { chunkBytes: 1024 * 1024 });
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  port.on("message", ({ id }: ToWorker) => {
    engine.pass((published) => send({ kind: "progress", published })).then(
      (result) => send({ kind: "done", id, result }),
      (err: unknown) => send({ kind: "failed", id, message: err instanceof Error ? err.message : String(err) }),
    );
  });
}

if (!isMainThread && (workerData as WorkerInit | undefined)?.role === ROLE) runWorker(workerData as WorkerInit);

export class WorkerBackend implements AggregationBackend {
  readonly mode = "worker";
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: PassResult) => void; reject: (e: Error) => void }>();
  private onProgress: ((p: Published) => void) | undefined;

  constructor(private readonly dataDir: string) {}

  pass(onProgress?: (p: Published) => void): Promise<PassResult> {
    const worker = this.worker ?? this.start();
    this.onProgress = onProgress;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    const init: WorkerInit = { role: ROLE, dataDir: this.dataDir };
    // Under tsx (tests, `npm start`) the file is TypeScript; workers do not inherit
    // tsx's hooks in Node 20, so the worker registers them itself.
    const worker = __filename.endsWith(".ts")
      ? new Worker(`require("tsx/cjs"); require(${JSON.stringify(__filename)});`, { eval: true, workerData: init })
      : new Worker(__filename, { workerData: init });
    worker.on("message", (m: FromWorker) => {
      if (m.kind === "progress") {
        this.onProgress?.(m.published);
        return;
      }
      const waiter = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.kind === "done") waiter?.resolve(m.result);
      else waiter?.reject(new Error(m.message));
    });
    // A worker that dies (out of memory, a bug) fails the passes it owed; the next
    // pass starts a fresh one, which re-reads the files from the start.
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`aggregation worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}
