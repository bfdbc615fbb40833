/**
 * The append-only event files written by `POST /api/events`.
 *
 * Durability: a batch is acknowledged only after its bytes are written with a
 * single `write` (O_APPEND) and `fdatasync` has returned; a new file's
 * directory entry is fsynced too. Group commit: batches that arrive while a
 * sync is under way are written and synced together by the next one, so 200
 * concurrent requests cost a handful of syncs, not 200.
 */
import { mkdir, open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";

/** One file per UTC day: `events-2026-11-26.jsonl`. */
export function dailyFileName(now: Date): string {
  return `events-${now.toISOString().slice(0, 10)}.jsonl`;
}

interface Pending {
  data: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface EventLogStats {
  writes: number;
  syncs: number;
  batches: number;
}

export class EventLog {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private handle: FileHandle | null = null;
  private fileName = "";
  /** Set when the file may end inside a line (opened for the first time, or a write failed). */
  private checkTail = true;
  readonly stats: EventLogStats = { writes: 0, syncs: 0, batches: 0 };

  constructor(
    private readonly dir: string,
    private readonly nameFor: (now: Date) => string = dailyFileName,
  ) {}

  /** Appends complete lines (each ending in "\n"); resolves once they are on disk. */
  append(lines: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ data: lines, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Waits for what was accepted, then closes the file. */
  async close(): Promise<void> {
    await this.flushing;
    await this.handle?.close();
    this.handle = null;
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        await this.writeDurably(group.map((p) => p.data).join(""));
        this.stats.batches += group.length;
        for (const p of group) p.resolve();
      } catch (err) {
        this.checkTail = true;
        for (const p of group) p.reject(err as Error);
      }
    }
    this.flushing = null;
  }

  private async writeDurably(data: string): Promise<void> {
    const handle = await this.currentFile();
    let bytes = Buffer.from(data, "utf8");
    if (this.checkTail) {
      // A crash (or a failed write) can leave a line without its newline; appending
      // to it would glue our first event onto that fragment and lose both.
      if (!(await endsWithNewline(handle))) bytes = Buffer.concat([Buffer.from("\n"), bytes]);
      this.checkTail = false;
    }
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
      written += bytesWritten;
      this.stats.writes++;
    }
    await handle.datasync();
    this.stats.syncs++;
  }

  private async currentFile(): Promise<FileHandle> {
    const name = this.nameFor(new Date());
    if (this.handle && name === this.fileName) return this.handle;
    await this.handle?.close();
    this.handle = null;
    await mkdir(this.dir, { recursive: true });
    const handle = await open(join(this.dir, name), "a+", 0o640); // "+" to read the last byte
    try {
      await syncDirectory(this.dir); // the new file's name must survive a crash too
    } catch (err) {
      await handle.close();
      throw err;
    }
    this.handle = handle;
    this.fileName = name;
    this.checkTail = true;
    return handle;
  }
}

async function endsWithNewline(handle: FileHandle): Promise<boolean> {
  const { size } = await handle.stat();
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  await handle.read(last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
