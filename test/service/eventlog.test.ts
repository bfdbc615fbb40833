import { expect } from "chai";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { dailyFileName, EventLog } from "../../service/eventlog";
import { useTempDir } from "../helpers/tmp";

describe("eventlog: durable appends with group commit", () => {
  const tmp = useTempDir();

  it("names files by UTC day", () => {
    expect(dailyFileName(new Date("2026-11-26T23:59:59.999-05:00"))).to.equal("events-2026-11-27.jsonl");
  });

  it("appends whole batches and groups concurrent ones into fewer syncs", async () => {
    const log = new EventLog(tmp.path, () => "events.jsonl");
    const batches = Array.from({ length: 50 }, (_, i) => `{"n":${i}}\n{"n":${i},"second":true}\n`);
    await Promise.all(batches.map((b) => log.append(b)));
    await log.close();
    const lines = (await readFile(join(tmp.path, "events.jsonl"), "utf8")).split("\n").filter(Boolean);
    expect(lines).to.have.length(100);
    // Each batch's two lines stay together: one write per group, never interleaved.
    for (let i = 0; i < lines.length; i += 2) expect(JSON.parse(lines[i + 1]!).n).to.equal(JSON.parse(lines[i]!).n);
    expect(log.stats.batches).to.equal(50);
    expect(log.stats.syncs).to.be.below(50);
  });

  it("ends a fragment left by a crash before appending", async () => {
    await writeFile(join(tmp.path, "events.jsonl"), '{"complete":1}\n{"torn":');
    const log = new EventLog(tmp.path, () => "events.jsonl");
    await log.append('{"after":1}\n');
    await log.close();
    const text = await readFile(join(tmp.path, "events.jsonl"), "utf8");
    expect(text).to.equal('{"complete":1}\n{"torn":\n{"after":1}\n');
  });

  it("creates the directory and files readable by the group only", async () => {
    const dir = join(tmp.path, "nested", "stats");
    const log = new EventLog(dir);
    await log.append("{}\n");
    await log.close();
    const [name] = await readdir(dir);
    expect(name).to.match(/^events-\d{4}-\d{2}-\d{2}\.jsonl$/);
    expect((await stat(join(dir, name!))).mode & 0o777).to.equal(0o640 & ~process.umask());
  });

  it("fails the batch, not the process, when the directory cannot be written", async () => {
    await writeFile(join(tmp.path, "a-file"), "");
    const log = new EventLog(join(tmp.path, "a-file", "stats"), () => "events.jsonl"); // ENOTDIR
    let failed: unknown;
    await log.append("{}\n").catch((err) => (failed = err));
    expect(failed).to.be.instanceOf(Error);
  });
});
