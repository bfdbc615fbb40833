/**
 * The event contract (DESIGN.md, "Event"): one JSON object per line.
 *
 * The rules live here once, as constants, and are applied by two checkers:
 * - `EventSchema` (zod) at the door (`POST /api/events`), where a precise
 *   message naming the field matters more than speed;
 * - `isValidEvent` in the aggregation hot path, where zod's per-object cost
 *   (about 1 µs, more than JSON.parse itself) would halve the throughput.
 * test/service/events.test.ts proves the two agree on valid and mutated events.
 */
import { z } from "zod";

export const EVENT_VERSION = 1;
export const EVENT_TYPES = ["job_started", "job_completed", "heartbeat"] as const;
export const JOB_RESULTS = ["succeeded", "failed", "cancelled"] as const;
/** Longest runner, repository, workflow or job name accepted (UTF-16 units). */
export const MAX_NAME_LENGTH = 256;
/** ISO-8601 date-time with a zone (Z or ±hh:mm), as `Date.toISOString()` writes it. */
export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
/** `owner/name`, neither part empty nor containing a slash or whitespace. */
export const REPO_NAME = /^[^/\s]+\/[^/\s]+$/;

export type EventType = (typeof EVENT_TYPES)[number];
export type JobResult = (typeof JOB_RESULTS)[number];

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
}
export type CcoEvent = JobEvent | HeartbeatEvent;

const name = z.string().min(1).max(MAX_NAME_LENGTH);
const timestamp = z
  .string()
  .regex(ISO_TIMESTAMP, "must be an ISO-8601 time with a zone, like 2026-11-26T18:00:00.000Z")
  .refine((s) => Number.isFinite(Date.parse(s)), "is not a real date");
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
  z.looseObject({ type: z.literal("heartbeat"), ...base }),
]);

function isName(x: unknown): x is string {
  return typeof x === "string" && x.length >= 1 && x.length <= MAX_NAME_LENGTH;
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
  if (type !== "heartbeat") {
    if (type !== "job_started" && type !== "job_completed") return NaN;
    if (!isName(e.repo) || !REPO_NAME.test(e.repo) || !isName(e.workflow) || !isName(e.job)) return NaN;
    if (!isPositiveInt(e.runId) || !isPositiveInt(e.runAttempt)) return NaN;
    if (type === "job_completed" && e.result !== "succeeded" && e.result !== "failed" && e.result !== "cancelled") {
      return NaN;
    }
  }
  if (!ISO_TIMESTAMP.test(e.ts)) return NaN;
  return Date.parse(e.ts);
}

export function isValidEvent(o: unknown): o is CcoEvent {
  return !Number.isNaN(validEventTime(o));
}

/** Where a batch is wrong: 1-based line number, the field, and why. */
export interface BatchError {
  line: number;
  field: string;
  message: string;
}

export type BatchResult = { ok: true; events: CcoEvent[] } | { ok: false; error: BatchError };

/** NDJSON batches hold at most this many events (a second bound after the 1 MiB body limit). */
export const MAX_BATCH_EVENTS = 10_000;

export class BatchTooLargeError extends Error {}

function checkOne(value: unknown, line: number): BatchError | undefined {
  const parsed = EventSchema.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : "(event)";
  return { line, field, message: issue?.message ?? "invalid event" };
}

/**
 * Parses a POST body: one JSON event (it may span lines), or NDJSON with one
 * event per line (blank lines ignored). All or nothing: the first bad line
 * fails the whole batch. Throws `BatchTooLargeError` above `MAX_BATCH_EVENTS`.
 */
export function parseBatch(body: string): BatchResult {
  const trimmed = body.trim();
  if (trimmed === "") return { ok: false, error: { line: 1, field: "(body)", message: "body is empty" } };
  if (trimmed.startsWith("{")) {
    let single: unknown;
    try {
      single = JSON.parse(trimmed);
    } catch {
      single = undefined; // not one document: read it as NDJSON below
    }
    if (single !== undefined) {
      const error = checkOne(single, 1);
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
      return { ok: false, error: { line: i + 1, field: "(json)", message: `not valid JSON: ${(err as Error).message}` } };
    }
    const error = checkOne(value, i + 1);
    if (error) return { ok: false, error };
    events.push(value as CcoEvent);
  }
  return { ok: true, events };
}

/** The key that identifies a job (DESIGN.md): (repo, runId, runAttempt, job, runner). */
export function jobKey(e: JobEvent): string {
  return `${e.repo}\u0000${e.runId}\u0000${e.runAttempt}\u0000${e.job}\u0000${e.runner}`;
}
