import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { WorkerBackend } from "../../service/aggregate/worker";
import { ndjson, started } from "../helpers/events";
import { useTempDir } from "../helpers/tmp";

describe("worker backend: aggregation in a worker thread", function () {
  this.timeout(60_000);
  const tmp = useTempDir();

  it("runs passes and keeps its state between them", async () => {
    await writeFile(join(tmp.path, "a.jsonl"), ndjson([started({ runId: 1 }), started({ runId: 2 })]));
    const backend = new WorkerBackend(tmp.path, 64);
    try {
      expect((await backend.pass()).snapshot.jobs.started).to.equal(2);
      await writeFile(join(tmp.path, "b.jsonl"), ndjson([started({ runId: 3 })]));
      const second = await backend.pass();
      expect(second.snapshot.jobs.started).to.equal(3);
      expect(second.snapshot.aggregation).to.include({ mode: "worker", passes: 2 });
    } finally {
      await backend.close();
    }
  });

  it("fails a pass with a clear message when its heap limit is hit, and starts afresh", async () => {
    // 100k jobs that never complete: bounded aggregation keeps a handful (see
    // hostile.test.ts), so it passes in 32 MB; an 8 MB heap is too small for any pass.
    const lines: string[] = [];
    for (let i = 1; i <= 100_000; i++)
      lines.push(
        `{"v":1,"type":"job_started","ts":"2026-11-26T18:00:00Z","runner":"r","repo":"o/r","workflow":"w","job":"j${i}","runId":${i},"runAttempt":1}`,
      );
    await writeFile(join(tmp.path, "big.jsonl"), `${lines.join("\n")}\n`);
    const roomy = new WorkerBackend(tmp.path, 32);
    try {
      const result = await roomy.pass();
      expect(result.snapshot.jobs.running).to.equal(4);
      expect(result.snapshot.events.dropped.openJobs).to.equal(100_000 - 4);
    } finally {
      await roomy.close();
    }
    const backend = new WorkerBackend(tmp.path, 8);
    try {
      let error: Error | undefined;
      await backend.pass().catch((e: Error) => (error = e));
      expect(error?.message).to.match(/ran out of memory \(8 MB heap\): raise STATS_WORKER_HEAP_MB/);
      // The next pass gets a new worker (and here fails the same way, visibly, rather than hanging).
      let again: Error | undefined;
      await backend.pass().catch((e: Error) => (again = e));
      expect(again?.message).to.match(/ran out of memory/);
    } finally {
      await backend.close();
    }
  });
});
