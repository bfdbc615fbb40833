/**
 * Passes in a worker thread (STATS_AGGREGATION=worker): the main thread only
 * receives finished snapshots (already serialized), so requests never wait
 * for parsing. Faster cold passes on hosts with cores to spare; see
 * InlineBackend for why it is not the default.
 *
 * This file is both sides. Loaded in the worker (the role in workerData says
 * so) it runs the engine; loaded on the main thread it exports the backend.
 * Bundled by esbuild into one file, `__filename` is that file, so the worker
 * starts from the bundle itself.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import type { AggregationBackend } from "./backend";
import { AggregationEngine, type EngineOptions, type PassInput, type PassResult, type Published } from "./engine";

const ROLE = "cco-stats-aggregator";

interface WorkerInit {
  role: typeof ROLE;
  dataDir: string;
  options: Omit<EngineOptions, "now">;
}
type ToWorker = { id: number; input?: PassInput };
type FromWorker =
  | { kind: "progress"; published: Published }
  | { kind: "done"; id: number; result: PassResult }
  | { kind: "failed"; id: number; message: string };

/** Nice value of the aggregation thread: requests (nice 0) always run first. */
export const AGGREGATION_NICE = 10;

/**
 * Lowers the priority of this thread only. Linux schedules threads, and
 * setpriority() given a thread id applies to that thread; /proc/thread-self
 * names it. Without this, on a 2-core host a cold pass competes with the HTTP
 * thread as an equal and p99 of /api/stats doubled while it ran.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, AGGREGATION_NICE);
  } catch {
    // Not Linux, or not allowed: aggregation keeps normal priority.
  }
}

/** Bytes parsed per step in the worker: larger steps are faster and block nothing. */
export const WORKER_CHUNK_BYTES = 1024 * 1024;

function runWorker(init: WorkerInit): void {
  lowerThreadPriority();
  const engine = new AggregationEngine(init.dataDir, "worker", { ...init.options, chunkBytes: WORKER_CHUNK_BYTES });
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  port.on("message", ({ id, input }: ToWorker) => {
    engine
      .pass((published) => send({ kind: "progress", published }), input)
      .then(
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

  /**
   * `heapMb` bounds the worker's old generation. JSON.parse at hundreds of
   * thousands of lines per second makes V8 grow an unbounded heap far past the
   * live set (about 25 MB after 1M events): RSS swung from 200 to 360 MB between
   * identical cold passes. With a limit V8 collects sooner, for ~3% throughput.
   */
  constructor(
    private readonly dataDir: string,
    private readonly heapMb: number,
    private readonly options: Omit<EngineOptions, "now" | "chunkBytes"> = {},
  ) {}

  pass(onProgress?: (p: Published) => void, input?: PassInput): Promise<PassResult> {
    const worker = this.worker ?? this.start();
    this.onProgress = onProgress;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, input } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    const init: WorkerInit = { role: ROLE, dataDir: this.dataDir, options: this.options };
    // Under tsx (tests, `npm start`) the file is TypeScript; workers do not inherit
    // tsx's hooks in Node 20, so the worker registers them itself.
    const options = { workerData: init, resourceLimits: { maxOldGenerationSizeMb: this.heapMb } };
    const worker = __filename.endsWith(".ts")
      ? new Worker(`require("tsx/cjs"); require(${JSON.stringify(__filename)});`, { ...options, eval: true })
      : new Worker(__filename, options);
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
    worker.on("error", (err: NodeJS.ErrnoException) =>
      fail(
        err.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? new Error(`aggregation worker ran out of memory (${this.heapMb} MB heap): raise STATS_WORKER_HEAP_MB`)
          : err,
      ),
    );
    worker.on("exit", (code) => fail(new Error(`aggregation worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}
