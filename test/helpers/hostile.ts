/**
 * A hostile event stream (issue 15, "Bounds"): what one job, or a broken
 * forwarder, could append to the event files. Used by the hostile-input test
 * and the bench (which runs a bigger one).
 */
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface HostileCounts {
  /** Lines that are valid events and within the clock limit. */
  valid: number;
  /** Valid events stamped far in the future (dropped by reason "future"). */
  future: number;
  /** Lines that cannot be events (over the maximum line length). */
  rejected: number;
  lines: number;
  bytes: number;
}

/** The longest line the service reads (the tailer's buffer: 1 MiB). */
export const MAX_LINE_BYTES = 1024 * 1024;

async function writeLines(
  path: string,
  count: number,
  line: (i: number) => string,
  counts: HostileCounts,
): Promise<void> {
  await writeFile(path, "");
  for (let i = 0; i < count;) {
    const n = Math.min(50_000, count - i);
    let text = "";
    for (let k = 0; k < n; k++) text += `${line(i + k)}\n`;
    await appendFile(path, text);
    counts.bytes += Buffer.byteLength(text);
    counts.lines += n;
    i += n;
  }
}

/**
 * Writes the stream into `dir`: `scale` 1 is a million job_started from one
 * runner without a completion, 100,000 distinct repository names (and job
 * names), 100,000 runner names, 10,000 events far in the future and 10,000
 * far in the past, and lines at and over the maximum length.
 */
export async function writeHostile(dir: string, runner: string, nowMs: number, scale = 1): Promise<HostileCounts> {
  const c: HostileCounts = { valid: 0, future: 0, rejected: 0, lines: 0, bytes: 0 };
  const ts = (ms: number) => new Date(ms).toISOString();
  const recent = nowMs - 3600_000;
  const starts = 1_000_000 * scale;
  const names = 100_000 * scale;
  const job = (i: number, extra: string) =>
    `{"v":1,"type":"job_started","ts":"${ts(recent + (i % 3_000_000))}","runner":"${runner}","repo":"o/r","workflow":"w","job":"j","runId":${i + 1},"runAttempt":1${extra}}`;
  await writeLines(join(dir, "hostile-1-starts.jsonl"), starts, (i) => job(i, ""), c);
  c.valid += starts;
  await writeLines(
    join(dir, "hostile-2-repos.jsonl"),
    names,
    (i) =>
      `{"v":1,"type":"job_completed","ts":"${ts(recent + i)}","runner":"${runner}","repo":"owner-${i}/repository-with-a-long-name-${i}","workflow":"w-${i}","job":"job-name-${i}","runId":${i + 1},"runAttempt":2,"result":"failed"}`,
    c,
  );
  c.valid += names;
  await writeLines(
    join(dir, "hostile-3-runners.jsonl"),
    names,
    (i) => `{"v":1,"type":"heartbeat","ts":"${ts(recent + i)}","runner":"forged-runner-${i}","listener":"running"}`,
    c,
  );
  c.valid += names;
  await writeLines(
    join(dir, "hostile-4-times.jsonl"),
    20_000,
    (i) =>
      i % 2
        ? `{"v":1,"type":"job_started","ts":"${ts(Date.UTC(2999, 0, 1) + i)}","runner":"${runner}","repo":"o/r","workflow":"w","job":"j","runId":${9_000_000 + i},"runAttempt":1}`
        : `{"v":1,"type":"job_completed","ts":"${ts(Date.UTC(1970, 0, 1) + i)}","runner":"${runner}","repo":"o/r","workflow":"w","job":"j","runId":${9_000_000 + i},"runAttempt":1,"result":"succeeded"}`,
    c,
  );
  c.valid += 10_000;
  c.future += 10_000;
  // Lines at the limit: the longest valid one (a huge extra field), and ones just over it.
  const head = job(8_999_999, ',"pad":"');
  const longest = `${head}${"x".repeat(MAX_LINE_BYTES - 1 - Buffer.byteLength(head) - 2)}"}`;
  const over = `${head}${"x".repeat(MAX_LINE_BYTES + 10)}"}`;
  await writeLines(join(dir, "hostile-5-long.jsonl"), 6, (i) => (i % 2 ? over : longest), c);
  c.valid += 3;
  c.rejected += 3;
  return c;
}
