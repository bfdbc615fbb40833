import { expect } from "chai";
import { appendFile, rename, symlink, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DirectoryTailer, type LineSink } from "../../service/aggregate/tailer";
import { useTempDir } from "../helpers/tmp";

/** Records what the tailer hands on, line by line. */
class Recorder implements LineSink {
  lines: string[] = [];
  rejected = 0;
  consume(text: string): void {
    expect(text.endsWith("\n"), "consume() gets complete lines only").to.equal(true);
    for (const l of text.split("\n").slice(0, -1)) this.lines.push(l);
  }
  line(text: string): void {
    this.lines.push(text);
  }
  reject(): void {
    this.rejected++;
  }
}

describe("tailer: incremental reading of *.jsonl files", () => {
  const tmp = useTempDir();
  let rec: Recorder;
  let tailer: DirectoryTailer;
  const file = (name: string) => join(tmp.path, name);

  beforeEach(() => {
    rec = new Recorder();
    tailer = new DirectoryTailer(tmp.path, rec);
  });
  afterEach(() => tailer.close());

  it("parses a large read in small steps at line boundaries, letting the event loop run between them", async () => {
    const lines = Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? "x".repeat(20) : `line-${i}`));
    await writeFile(file("a.jsonl"), `${lines.join("\n")}\n`);
    const steps: string[] = [];
    const sink: LineSink = {
      consume: (t) => (steps.push(t), rec.consume(t)),
      line: (t) => rec.line(t),
      reject: () => rec.reject(),
    };
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const t = new DirectoryTailer(tmp.path, sink, { chunkBytes: 16, readBytes: 256, maxLineBytes: 1024 });
    try {
      await t.pass();
    } finally {
      clearInterval(ticker);
      await t.close();
    }
    expect(rec.lines).to.deep.equal(lines);
    // Each step at most 16 bytes, unless it is one line longer than that.
    for (const step of steps)
      expect(step.length <= 16 || step.split("\n").length === 2, JSON.stringify(step)).to.equal(true);
    expect(steps.length).to.be.greaterThan(10);
    expect(turns, "the event loop turned between steps").to.be.greaterThan(0);
  });

  it("reads only the bytes appended since the last pass", async () => {
    await writeFile(file("a.jsonl"), "one\ntwo\n");
    expect(await tailer.pass()).to.deep.equal({ bytesRead: 8, files: 1 });
    await appendFile(file("a.jsonl"), "three\n");
    expect(await tailer.pass()).to.deep.equal({ bytesRead: 6, files: 1 });
    expect((await tailer.pass()).bytesRead).to.equal(0);
    expect(rec.lines).to.deep.equal(["one", "two", "three"]);
  });

  it("ignores files that are not *.jsonl", async () => {
    await writeFile(file("notes.txt"), "x\n");
    await writeFile(file("ingest-token"), "secret\n");
    expect(await tailer.pass()).to.deep.equal({ bytesRead: 0, files: 0 });
  });

  it("handles an empty file", async () => {
    await writeFile(file("empty.jsonl"), "");
    expect(await tailer.pass()).to.deep.equal({ bytesRead: 0, files: 1 });
    expect(rec.lines).to.deep.equal([]);
  });

  it("waits for the newline of a last partial line", async () => {
    await writeFile(file("a.jsonl"), 'first\n{"half":');
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["first"]);
    await appendFile(file("a.jsonl"), "true}\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["first", '{"half":true}']);
  });

  it("keeps a UTF-8 character split across reads intact", async () => {
    // 3-byte characters with 4-byte reads: every character is cut by some read.
    tailer = new DirectoryTailer(tmp.path, rec, { chunkBytes: 4, maxLineBytes: 64 });
    await writeFile(file("u.jsonl"), "€€€ ✓ café\nnaïve ☃\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["€€€ ✓ café", "naïve ☃"]);
  });

  it("keeps a character split between two writes intact", async () => {
    const bytes = Buffer.from("snow ☃\n");
    await writeFile(file("u.jsonl"), bytes.subarray(0, 6)); // "snow " and the first byte of ☃
    await tailer.pass();
    await appendFile(file("u.jsonl"), bytes.subarray(6));
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["snow ☃"]);
  });

  it("reads a truncated file again from the start", async () => {
    await writeFile(file("a.jsonl"), "old-1\nold-2\nold-3\n");
    await tailer.pass();
    await truncate(file("a.jsonl"), 0);
    await appendFile(file("a.jsonl"), "new-1\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["old-1", "old-2", "old-3", "new-1"]);
  });

  it("finishes a rotated file (renamed away, new one created) and reads the new one", async () => {
    await writeFile(file("events.jsonl"), "a\n");
    await tailer.pass();
    await appendFile(file("events.jsonl"), "b\n"); // written before the rotation, not yet read
    await rename(file("events.jsonl"), file("events.jsonl.1"));
    await writeFile(file("events.jsonl"), "c\n");
    await tailer.pass();
    expect(rec.lines).to.have.members(["a", "b", "c"]);
    expect(rec.lines).to.have.length(3);
    await tailer.pass();
    expect((await tailer.pass()).files).to.equal(1);
  });

  it("follows a file renamed to another *.jsonl name without reading it again", async () => {
    await writeFile(file("today.jsonl"), "a\nb\n");
    await tailer.pass();
    await rename(file("today.jsonl"), file("2026-11-26.jsonl"));
    await appendFile(file("2026-11-26.jsonl"), "c\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["a", "b", "c"]);
  });

  it("takes the unterminated last line of a finished file as it is", async () => {
    await writeFile(file("old.jsonl"), "a\nlast-without-newline");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["a"]);
    await unlink(file("old.jsonl"));
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["a", "last-without-newline"]);
    expect((await tailer.pass()).files).to.equal(0);
  });

  it("rejects a line longer than the limit and goes on after it", async () => {
    tailer = new DirectoryTailer(tmp.path, rec, { chunkBytes: 16, maxLineBytes: 32 });
    await writeFile(file("a.jsonl"), `ok-1\n${"x".repeat(100)}\nok-2\n`);
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["ok-1", "ok-2"]);
    expect(rec.rejected).to.equal(1);
  });

  it("reads files in name order", async () => {
    await writeFile(file("events-2026-11-27.jsonl"), "second\n");
    await writeFile(file("events-2026-11-26.jsonl"), "first\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["first", "second"]);
  });

  it("caps open descriptors and still reads idle files when they grow", async () => {
    tailer = new DirectoryTailer(tmp.path, rec, { maxOpenFiles: 2 });
    for (const n of ["a", "b", "c", "d"]) await writeFile(file(`${n}.jsonl`), `${n}1\n`);
    await tailer.pass();
    await appendFile(file("a.jsonl"), "a2\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal(["a1", "b1", "c1", "d1", "a2"]);
  });

  it("a pass that fails part way (the sink threw) loses nothing: the next pass reads on from there", async () => {
    // Many files, each read ahead while the one before is parsed: the failure leaves a read in flight.
    for (let i = 0; i < 6; i++) await writeFile(file(`f${i}.jsonl`), `f${i}-1\nf${i}-2\n`);
    let fail = true;
    const sink: LineSink = {
      consume: (t) => {
        if (fail && t.startsWith("f2-")) throw new Error("sink failed");
        rec.consume(t);
      },
      line: (t) => rec.line(t),
      reject: () => rec.reject(),
    };
    tailer = new DirectoryTailer(tmp.path, sink, { maxLineBytes: 64 });
    let error: unknown;
    await tailer.pass().catch((e: unknown) => (error = e));
    expect(String(error)).to.contain("sink failed");
    expect(rec.lines).to.deep.equal(["f0-1", "f0-2", "f1-1", "f1-2"]);
    fail = false;
    for (let pass = 0; pass < 3; pass++) await tailer.pass(); // buffers all given back: passes go on
    await appendFile(file("f5.jsonl"), "f5-3\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal([
      ...["f0-1", "f0-2", "f1-1", "f1-2"],
      ...["f2-1", "f2-2", "f3-1", "f3-2", "f4-1", "f4-2", "f5-1", "f5-2", "f5-3"],
    ]);
  });

  it("a file that cannot be looked at fails the pass, read ahead or not, and the pass after it reads on", async () => {
    // a.jsonl parsed in many small steps: loop.jsonl's stat (ELOOP) fails while they run.
    const lines = Array.from({ length: 20_000 }, (_, i) => `a${i}`);
    await writeFile(file("a.jsonl"), `${lines.join("\n")}\n`);
    await symlink("loop.jsonl", file("loop.jsonl"));
    tailer = new DirectoryTailer(tmp.path, rec, { chunkBytes: 256 });
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", note);
    let error: unknown;
    try {
      await tailer.pass().catch((e: unknown) => (error = e));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("unhandledRejection", note);
    }
    expect(unhandled).to.deep.equal([]);
    expect((error as NodeJS.ErrnoException).code).to.equal("ELOOP");
    await unlink(file("loop.jsonl"));
    await appendFile(file("a.jsonl"), "last\n");
    await tailer.pass();
    expect(rec.lines).to.deep.equal([...lines, "last"]);
  });
});
