/**
 * The event contract (DESIGN.md, "Event"): one JSON object per line.
 *
 * The rules live here once, as constants, and are applied by two checkers:
 * - `eventProblems` at the door (`POST /api/events`): every problem of a
 *   bad line, in plain words (field, what was expected, what came);
 * - `validEventTime` in the aggregation hot path, as fast as it can be.
 * `EventSchema` (zod) states the same rules a third time, declaratively: the
 * job hook's tests check their events against it, and
 * test/service/events.test.ts proves all three agree on mutated events.
 */
import { z } from "zod";

export const EVENT_VERSION = 1;
export const EVENT_TYPES = ["job_started", "job_completed", "heartbeat"] as const;
/**
 * `unknown`: the job hook found no final job state in the runner's Worker log
 * (infra/runners/files/job-hook.sh); counted as completed, under no result.
 */
export const JOB_RESULTS = ["succeeded", "failed", "cancelled", "unknown"] as const;
/** What a heartbeat may say of the runner's listener (the Actions runner service). */
export const LISTENER_STATES = ["running", "stopped", "failed", "refused"] as const;
/** Longest runner, repository, workflow or job name accepted (UTF-16 units). */
export const MAX_NAME_LENGTH = 256;
/** ISO-8601 date-time with a zone (Z or ±hh:mm), as `Date.toISOString()` writes it. */
export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
/** `owner/name`, neither part empty nor containing a slash or whitespace. */
export const REPO_NAME = /^[^/\s]+\/[^/\s]+$/;

export type EventType = (typeof EVENT_TYPES)[number];
export type JobResult = (typeof JOB_RESULTS)[number];
export type ListenerState = (typeof LISTENER_STATES)[number];

interface BaseEvent {
  v: 1;
  ts: string;
  runner: string;
  [extra: string]: unknown;
}
interface JobFields extends BaseEvent {
  repo: string;
  workflow: string;
  job: string;
  runId: number;
  runAttempt: number;
}
export interface JobStartedEvent extends JobFields {
  type: "job_started";
}
export interface JobCompletedEvent extends JobFields {
  type: "job_completed";
  result: JobResult;
}
export type JobEvent = JobStartedEvent | JobCompletedEvent;
export interface HeartbeatEvent extends BaseEvent {
  type: "heartbeat";
  /** Optional: the state of the runner's listener, and its last exit code. */
  listener?: ListenerState;
  listenerExitCode?: number | null;
}
export type CcoEvent = JobEvent | HeartbeatEvent;

const name = z.string().min(1).max(MAX_NAME_LENGTH);
const timestamp = z
  .string()
  .regex(ISO_TIMESTAMP, "must be an ISO-8601 time with a zone, like 2026-11-26T18:00:00.000Z")
  .refine((s) => !Number.isNaN(parseIsoTime(s)), "is not a real date (or is before 1970)");
const positiveInt = z.number().int().min(1);
const base = { v: z.literal(EVENT_VERSION), ts: timestamp, runner: name };
const job = {
  ...base,
  repo: name.regex(REPO_NAME, "must be owner/name"),
  workflow: name,
  job: name,
  runId: positiveInt,
  runAttempt: positiveInt,
};

/** Extra fields (actor, sha, ref, event...) are kept: they are the audit trail. */
export const EventSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("job_started"), ...job }),
  z.looseObject({ type: z.literal("job_completed"), ...job, result: z.enum(JOB_RESULTS) }),
  z.looseObject({
    type: z.literal("heartbeat"),
    ...base,
    listener: z.enum(LISTENER_STATES).optional(),
    listenerExitCode: z.number().int().nullable().optional(),
  }),
]);

/** Two ASCII digits at `at`, as a number, or -1. */
function digits2(s: string, at: number): number {
  const a = s.charCodeAt(at) - 48;
  const b = s.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
function daysInMonth(year: number, month: number): number {
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0);
}

/**
 * The day parsed last, as the number YYYYMMDD, and its ms: events
 * read one after another share their day, so Date.UTC and the calendar checks
 * run about once per file, not once per event.
 */
let lastDay = -1;
let lastDayMs = 0;

/**
 * ms since the epoch of a timestamp in the `ISO_TIMESTAMP` format, or NaN when
 * the text is not in that format or not a real time (Feb 30, 24:00, before 1970).
 * Stricter than Date.parse, and much faster: it runs once per event read.
 */
export function parseIsoTime(s: string): number {
  const n = s.length;
  if (n < 20 || n > 35) return NaN;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84) return NaN; // - - T
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return NaN; // : :
  const century = digits2(s, 0);
  const yy = digits2(s, 2);
  const month = digits2(s, 5);
  const day = digits2(s, 8);
  const hour = digits2(s, 11);
  const minute = digits2(s, 14);
  const second = digits2(s, 17);
  // Any -1 (not two digits) makes the bitwise or negative.
  if ((century | yy | month | day | hour | minute | second) < 0) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const year = century * 100 + yy;
  const key = year * 10_000 + month * 100 + day; // one number per YYYY-MM-DD, valid or not
  if (key !== lastDay) {
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
    lastDay = key;
    lastDayMs = Date.UTC(year, month - 1, day);
  }
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    // .fraction: 1 to 9 digits, milliseconds kept
    let k = i + 1;
    for (; k < n; k++) {
      const d = s.charCodeAt(k) - 48;
      if (d < 0 || d > 9) break;
      if (k - i <= 3) ms = ms * 10 + d;
    }
    const count = k - i - 1;
    if (count < 1 || count > 9) return NaN;
    if (count < 3) ms *= count === 1 ? 100 : 10; // ".5" is 500 ms
    i = k;
  }
  let offsetMinutes = 0;
  const zone = s.charCodeAt(i);
  if (zone === 90) {
    if (i + 1 !== n) return NaN; // Z
  } else if (zone === 43 || zone === 45) {
    // +hh:mm or -hh:mm
    if (i + 6 !== n || s.charCodeAt(i + 3) !== 58) return NaN;
    const oh = digits2(s, i + 1);
    const om = digits2(s, i + 4);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return NaN;
    offsetMinutes = (zone === 43 ? 1 : -1) * (oh * 60 + om);
  } else {
    return NaN;
  }
  return lastDayMs + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms - offsetMinutes * 60_000;
}

function isName(x: unknown): x is string {
  return typeof x === "string" && x.length >= 1 && x.length <= MAX_NAME_LENGTH;
}
/** Whitespace above ASCII, as `\s` in a regular expression means it. */
function isWideSpace(c: number): boolean {
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}
/** `REPO_NAME.test(s)` without a regular expression (a call of one costs more than this loop): the hot path. */
function isRepoName(s: string): boolean {
  const n = s.length;
  let slash = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 47) {
      if (slash !== -1) return false;
      slash = i;
    } else if (c <= 32 ? c === 32 || (c >= 9 && c <= 13) : c >= 0xa0 && isWideSpace(c)) {
      return false;
    }
  }
  return slash > 0 && slash < n - 1;
}
function isPositiveInt(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 1;
}

/**
 * The fast checker of the aggregation loop: exactly the rules of `EventSchema`.
 * Returns the event's time in ms since the epoch, or NaN when the value is not
 * a valid event (the caller needs the time anyway, so it is parsed once).
 */
export function validEventTime(o: unknown): number {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return NaN;
  const e = o as Record<string, unknown>;
  if (e.v !== EVENT_VERSION || !isName(e.runner) || typeof e.ts !== "string") return NaN;
  const type = e.type;
  if (type === "heartbeat") {
    const l = e.listener;
    if (l !== undefined && l !== "running" && l !== "stopped" && l !== "failed" && l !== "refused") return NaN;
    const x = e.listenerExitCode;
    if (x !== undefined && x !== null && !Number.isSafeInteger(x)) return NaN;
  } else {
    if (type !== "job_started" && type !== "job_completed") return NaN;
    if (!isName(e.repo) || !isRepoName(e.repo) || !isName(e.workflow) || !isName(e.job)) return NaN;
    if (!isPositiveInt(e.runId) || !isPositiveInt(e.runAttempt)) return NaN;
    if (
      type === "job_completed" &&
      e.result !== "succeeded" &&
      e.result !== "failed" &&
      e.result !== "cancelled" &&
      e.result !== "unknown"
    ) {
      return NaN;
    }
  }
  return parseIsoTime(e.ts);
}

export function isValidEvent(o: unknown): o is CcoEvent {
  return !Number.isNaN(validEventTime(o));
}

/** Where a batch is wrong: 1-based line number, the field, and why. */
export interface BatchError {
  line: number;
  /** The first field named in `problems`. */
  field: string;
  /** Every problem of the line, in one sentence. */
  message: string;
  problems: Problem[];
}

export type BatchResult = { ok: true; events: CcoEvent[] } | { ok: false; error: BatchError };

/** NDJSON batches hold at most this many events (a second bound after the 1 MiB body limit). */
export const MAX_BATCH_EVENTS = 10_000;

export class BatchTooLargeError extends Error {}

/** One thing wrong with an event, in plain words. */
export interface Problem {
  field: string;
  expected: string;
  /** What came, shown short: `"12"`, `1.5`, `nothing`. */
  got: string;
}

/** A value as a short piece of JSON, for messages. */
export function shown(x: unknown): string {
  if (x === undefined) return "nothing";
  // JSON.stringify gives undefined for what JSON cannot hold (a function, a symbol).
  const text = JSON.stringify(x) ?? `a ${typeof x}`;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const A_NAME = `a text of 1 to ${MAX_NAME_LENGTH} characters`;

/**
 * Every problem of one value against the contract (the same rules as
 * `validEventTime`; test/service/events.test.ts checks they agree), worded
 * for the person who reads the refusal, not in a schema library's words.
 */
export function eventProblems(o: unknown): Problem[] {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    return [{ field: "(event)", expected: "a JSON object", got: shown(o) }];
  }
  const e = o as Record<string, unknown>;
  const out: Problem[] = [];
  const need = (field: string, ok: boolean, expected: string) => {
    if (!ok) out.push({ field, expected, got: shown(e[field]) });
  };
  const type = e.type;
  need(
    "type",
    type === "job_started" || type === "job_completed" || type === "heartbeat",
    `one of ${EVENT_TYPES.join(", ")}`,
  );
  need("v", e.v === EVENT_VERSION, String(EVENT_VERSION));
  need(
    "ts",
    typeof e.ts === "string" && !Number.isNaN(parseIsoTime(e.ts)),
    "an ISO-8601 time with a zone, like 2026-11-26T18:00:00.000Z (a real date, from 1970)",
  );
  need("runner", isName(e.runner), A_NAME);
  if (type === "job_started" || type === "job_completed") {
    need("repo", isName(e.repo) && REPO_NAME.test(e.repo), `owner/name (${A_NAME}, no spaces)`);
    need("workflow", isName(e.workflow), A_NAME);
    need("job", isName(e.job), A_NAME);
    need("runId", isPositiveInt(e.runId), "a whole number of at least 1");
    need("runAttempt", isPositiveInt(e.runAttempt), "a whole number of at least 1");
    if (type === "job_completed")
      need("result", (JOB_RESULTS as readonly unknown[]).includes(e.result), `one of ${JOB_RESULTS.join(", ")}`);
  } else if (type === "heartbeat") {
    need(
      "listener",
      e.listener === undefined || (LISTENER_STATES as readonly unknown[]).includes(e.listener),
      `absent or one of ${LISTENER_STATES.join(", ")}`,
    );
    const x = e.listenerExitCode;
    need(
      "listenerExitCode",
      x === undefined || x === null || Number.isSafeInteger(x),
      "absent, null or a whole number",
    );
  }
  return out;
}

function lineProblems(value: unknown, line: number): BatchError | undefined {
  const problems = eventProblems(value);
  if (problems.length === 0) return undefined;
  const message = problems.map((p) => `${p.field}: expected ${p.expected}, got ${p.got}`).join("; ");
  return { line, field: problems[0]!.field, message: `line ${line}: ${message}`, problems };
}

/**
 * Parses a POST body: one JSON event (it may span lines), or NDJSON with one
 * event per line (blank lines ignored). All or nothing: the first bad line
 * fails the whole batch. Throws `BatchTooLargeError` above `MAX_BATCH_EVENTS`.
 */
export function parseBatch(body: string): BatchResult {
  const trimmed = body.trim();
  if (trimmed === "")
    return {
      ok: false,
      error: {
        line: 1,
        field: "(body)",
        message: "body is empty",
        problems: [{ field: "(body)", expected: "one JSON event or NDJSON lines", got: "nothing" }],
      },
    };
  if (trimmed.startsWith("{")) {
    let single: unknown;
    try {
      single = JSON.parse(trimmed);
    } catch {
      single = undefined; // not one document: read it as NDJSON below
    }
    if (single !== undefined) {
      const error = lineProblems(single, 1);
      return error ? { ok: false, error } : { ok: true, events: [single as CcoEvent] };
    }
  }
  const lines = body.split("\n");
  const events: CcoEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === "") continue;
    if (events.length === MAX_BATCH_EVENTS) {
      throw new BatchTooLargeError(`a batch holds at most ${MAX_BATCH_EVENTS} events`);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const problems = [{ field: "(json)", expected: "one JSON object on the line", got: shown(text) }];
      return {
        ok: false,
        error: {
          line: i + 1,
          field: "(json)",
          message: `line ${i + 1}: not valid JSON (${(err as Error).message})`,
          problems,
        },
      };
    }
    const error = lineProblems(value, i + 1);
    if (error) return { ok: false, error };
    events.push(value as CcoEvent);
  }
  return { ok: true, events };
}
