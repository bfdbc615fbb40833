/**
 * Per-job egress: which names each job reached through the egress gateway,
 * and what the gateway refused. No new event type (DESIGN.md): the gateway's
 * forwarder (infra/gateway/files/egress-forwarder.sh) posts `heartbeat`
 * events under its own stats credential (runner GATEWAY_STATS_NAME) with an
 * extra field, validated here and nowhere else:
 *
 *   "egress": { "decisions": [ { "runner": "runner-01", "name": "github.com",
 *                                "verdict": "allowed:tls", "at": [<ms>, ...] } ],
 *               "truncated": 0 }
 *
 * `at` holds the time of each connection (squid's %ts.%03tu, in ms), so each
 * one is given to the job that ran on that runner at that time, whichever of
 * the job events and the gateway's heartbeat is read first: a decision stays
 * pending (kept with its time) until it is older than SETTLE_AFTER_MS behind
 * the newest event, or pushed out by newer ones, and only then is it counted
 * for good, in its job or "between jobs" of its runner. Everything is bounded
 * (EGRESS_LIMITS) and counted when let go. No Node APIs: the dashboard's
 * bundle reads the types.
 */
import type { JobEvent, JobResult } from "../events";
import { MINUTE_MS } from "./timeline";
import { JobSpans, sortKey, type SpanKey } from "./spans";
import { WINDOW_KEYS, WINDOWS, type WindowKey } from "./windows";
import { ownCopy } from "./own";

/** The runner name of the gateway's own stats credential (infra/gateway/gateway.ts registers it). */
export const GATEWAY_STATS_NAME = "cco-gateway";
/** The verdicts squid.conf writes (`annotate_transaction verdict=...`). */
export const EGRESS_VERDICTS = [
  "allowed:tls",
  "allowed:http",
  "refused:name",
  "refused:sni",
  "refused:port",
  "refused:method",
  "refused:private-address",
  "refused:not-tls",
  "refused:not-a-runner",
] as const;
export type EgressVerdict = (typeof EGRESS_VERDICTS)[number];
const VERDICTS: ReadonlySet<string> = new Set(EGRESS_VERDICTS);
/** A host name or an IPv4 address (a refused CONNECT may name one), lower case, at most 253 characters. */
export const EGRESS_NAME =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
/** Runner names the gateway's map gives (runner-01, ...), or `unknown`. */
const RUNNER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const EGRESS_LIMITS = {
  /** Groups in one heartbeat (the forwarder sends at most EGRESS_BATCH_LINES decisions per heartbeat). */
  decisionsPerHeartbeat: 5000,
  /** Connection times in one heartbeat, over all its groups. */
  timesPerHeartbeat: 5000,
  /** Jobs shown, newest first. */
  jobs: 50,
  /** Jobs remembered per runner, to attribute late decisions. */
  jobsPerRunner: 32,
  /** Runners followed; the least recently heard-from goes first. */
  runners: 64,
  /** Decisions waiting for their job per runner; past it the oldest is settled. */
  pendingPerRunner: 4000,
  /** (name, verdict) kept per job and per runner between jobs; the rest counted as otherNames. */
  namesPerJob: 200,
  /** Refused connections remembered for the windows (7 days at most). */
  refusedTimes: 50_000,
  /** Names listed per window. */
  refusedNamesShown: 20,
} as const;
/** How far after its heartbeat a connection's time may be (clock skew between the gateway's two readers: none). */
const MAX_SKEW_MS = 5 * MINUTE_MS;
/** A decision is counted for good once the newest event is this far past it: job events may come later. */
export const SETTLE_AFTER_MS = 60 * MINUTE_MS;

export interface EgressName {
  name: string;
  verdict: EgressVerdict;
  count: number;
}

export interface EgressJob {
  runner: string;
  repo: string;
  workflow: string;
  job: string;
  runId: number;
  runAttempt: number;
  startedAt: string | null;
  completedAt: string | null;
  result: JobResult | null;
  /** Allowed connections by name (most first). */
  reached: EgressName[];
  /** Refused connections by name and verdict (most first). */
  refused: EgressName[];
  /** Connections whose name was past EGRESS_LIMITS.namesPerJob. */
  otherNames: number;
}

export interface EgressSnapshot {
  /** The runner name whose heartbeats carry the figures. */
  gateway: string;
  /** Heartbeats with egress figures taken, and the decisions in them. */
  heartbeats: number;
  decisions: number;
  /** Heartbeats with an `egress` field from any other runner (a forgery, or a mistake): not counted. */
  ignored: number;
  /** The gateway's heartbeats whose `egress` field did not validate: not counted. */
  invalid: number;
  /** Decisions the gateway's forwarder could not send (it says so in `truncated`). */
  truncated: number;
  /** The newest jobs (by start), newest first. */
  jobs: EgressJob[];
  /** Per runner, connections outside any job known. */
  betweenJobs: Record<string, { allowed: number; refused: number; names: EgressName[] }>;
  /** Refused connections in each window ending at the snapshot's time. */
  refused: Record<WindowKey, { total: number; names: Array<{ name: string; count: number }> }>;
  /** What was let go to stay bounded, by reason. */
  dropped: { jobs: number; runners: number; names: number; pending: number; refusedTimes: number };
}

interface Decision {
  ms: number;
  name: string;
  verdict: EgressVerdict;
}

/** Counts by (verdict, name), bounded. */
class NameCounts {
  readonly counts = new Map<string, EgressName>();
  other = 0;
  allowed = 0;
  refused = 0;
  add(d: Decision, n: number, dropped: { names: number }): void {
    if (d.verdict.startsWith("allowed")) this.allowed += n;
    else this.refused += n;
    const key = `${d.verdict} ${d.name}`;
    const c = this.counts.get(key);
    if (c) c.count += n;
    else if (this.counts.size < EGRESS_LIMITS.namesPerJob)
      this.counts.set(key, { name: d.name, verdict: d.verdict, count: n });
    else {
      this.other += n;
      dropped.names++;
    }
  }
}

interface JobSpan extends SpanKey {
  workflow: string;
  result: JobResult | null;
  /** Made on the first decision settled into it: most spans of a cold pass never get one. */
  settled: NameCounts | null;
}

function blankSpan(): JobSpan {
  return {
    repo: "",
    workflow: "",
    job: "",
    runId: 0,
    runAttempt: 0,
    startMs: NaN,
    doneMs: NaN,
    result: null,
    settled: null,
  };
}

interface RunnerEgress {
  name: string;
  /** By start time, oldest first (a completion read first has startMs NaN: sorted by its end). */
  jobs: JobSpans<JobSpan>;
  /** Decisions not yet counted for good, by time. */
  pending: Decision[];
  between: NameCounts;
  lastMs: number;
}

export class EgressLedger {
  private readonly runners = new Map<string, RunnerEgress>();
  /** Interned names (a slice of a read chunk must not be kept). */
  private readonly names = new Map<string, string>();
  /** Refused connections' [ms, name], oldest first (a ring would lose order on late arrivals: trimmed by time). */
  private refusedTimes: Array<[number, string]> = [];
  private latestMs = -Infinity;
  private heartbeats = 0;
  private decisions = 0;
  private ignored = 0;
  private invalid = 0;
  private truncated = 0;
  private readonly dropped = { jobs: 0, runners: 0, names: 0, pending: 0, refusedTimes: 0 };

  constructor(private readonly gateway: string = GATEWAY_STATS_NAME) {}

  /** Whether `name` is the gateway's own (its heartbeats are egress, it is no runner). */
  isGateway(name: string): boolean {
    return name === this.gateway;
  }

  /** Every valid event's time passes here: it moves the settling edge. */
  time(ms: number): void {
    if (ms > this.latestMs) this.latestMs = ms;
  }

  /**
   * A job event of `runner` (the aggregator's hook). Re-sent events change
   * nothing. Every job event of a cold pass comes here: see JobSpans for
   * what keeps that cheap.
   */
  job(e: JobEvent, ms: number): void {
    const jobs = this.runner(e.runner).jobs;
    const found = jobs.find(e.runId, e.runAttempt, e.job, e.repo);
    const span = found ?? jobs.take();
    if (!found) {
      // The runner's newest span most often names the same job again (its next run): its copies serve.
      const last = jobs.newest() ?? span;
      span.repo = e.repo === last.repo ? last.repo : ownCopy(e.repo);
      span.workflow = e.workflow === last.workflow ? last.workflow : ownCopy(e.workflow);
      span.job = e.job === last.job ? last.job : ownCopy(e.job);
      span.runId = e.runId;
      span.runAttempt = e.runAttempt;
      span.startMs = NaN;
      span.doneMs = NaN;
      span.result = null;
      span.settled = null;
    }
    if (e.type === "job_started") span.startMs = ms;
    else {
      span.doneMs = ms;
      span.result = e.result === "unknown" ? null : e.result;
    }
    if (found) jobs.moved(span);
    else jobs.add(span, this.dropped);
  }

  /** A heartbeat carrying `egress`; taken only from the gateway's own name. */
  heartbeat(runner: string, egress: unknown, ms: number): void {
    if (runner !== this.gateway) {
      this.ignored++;
      return;
    }
    const decisions = parseEgress(egress, ms);
    if (!decisions) {
      this.invalid++;
      return;
    }
    this.heartbeats++;
    this.truncated += decisions.truncated;
    for (const g of decisions.groups) {
      const r = this.runner(g.runner);
      const name = this.name(g.name);
      for (const ms of g.at) {
        this.decisions++;
        const d: Decision = { ms, name, verdict: g.verdict };
        insertByTime(r.pending, d);
        if (ms > r.lastMs) r.lastMs = ms;
        if (d.verdict.startsWith("refused")) this.noteRefused(ms, name);
      }
      while (r.pending.length > EGRESS_LIMITS.pendingPerRunner) {
        this.settle(r, r.pending.shift()!);
        this.dropped.pending++;
      }
    }
  }

  /** Counts for good what no job event can still claim. */
  private settleOld(): void {
    const edge = this.latestMs - SETTLE_AFTER_MS;
    for (const r of this.runners.values()) {
      let n = 0;
      while (n < r.pending.length && r.pending[n]!.ms < edge) this.settle(r, r.pending[n++]!);
      if (n > 0) r.pending.splice(0, n);
    }
    const week = this.latestMs - WINDOWS["7d"] * MINUTE_MS;
    let old = 0;
    while (old < this.refusedTimes.length && this.refusedTimes[old]![0] < week) old++;
    if (old > 0) this.refusedTimes.splice(0, old);
  }

  private settle(r: RunnerEgress, d: Decision): void {
    const span = spanAt(r, d.ms);
    (span ? (span.settled ??= new NameCounts()) : r.between).add(d, 1, this.dropped);
  }

  private noteRefused(ms: number, name: string): void {
    insertByTime<[number, string]>(this.refusedTimes, [ms, name], (x) => x[0]);
    if (this.refusedTimes.length > EGRESS_LIMITS.refusedTimes) {
      this.refusedTimes.shift();
      this.dropped.refusedTimes++;
    }
  }

  private runner(name: string): RunnerEgress {
    let r = this.runners.get(name);
    if (!r) {
      if (this.runners.size >= EGRESS_LIMITS.runners) {
        let oldest: RunnerEgress | null = null;
        for (const x of this.runners.values()) if (!oldest || x.lastMs < oldest.lastMs) oldest = x;
        this.runners.delete(oldest!.name);
        this.dropped.runners++;
      }
      r = {
        name: ownCopy(name),
        jobs: new JobSpans(EGRESS_LIMITS.jobsPerRunner, blankSpan),
        pending: [],
        between: new NameCounts(),
        lastMs: -Infinity,
      };
      this.runners.set(r.name, r);
    }
    return r;
  }

  private name(n: string): string {
    let s = this.names.get(n);
    if (s === undefined) {
      s = ownCopy(n);
      // Bounded like the rest: past it, names are not interned (still counted).
      if (this.names.size < 8192) this.names.set(s, s);
    }
    return s;
  }

  snapshot(endMs: number): EgressSnapshot {
    this.settleOld();
    const spans: Array<{ r: RunnerEgress; j: JobSpan }> = [];
    for (const r of this.runners.values()) for (const j of r.jobs.list) spans.push({ r, j });
    spans.sort((a, b) => sortKey(b.j) - sortKey(a.j));
    const shown = spans.slice(0, EGRESS_LIMITS.jobs);
    // Pending decisions, attributed as things stand now (settled ones already are).
    const live = new Map<JobSpan, NameCounts>();
    const betweenLive = new Map<RunnerEgress, NameCounts>();
    const scratch = { names: 0 };
    for (const r of this.runners.values()) {
      for (const d of r.pending) {
        const span = spanAt(r, d.ms);
        const map = span ? live : betweenLive;
        const key = span ?? r;
        let c = (map as Map<typeof key, NameCounts>).get(key);
        if (!c) (map as Map<typeof key, NameCounts>).set(key, (c = new NameCounts()));
        c.add(d, 1, scratch);
      }
    }
    const jobs = shown.map(({ r, j }): EgressJob => {
      const names = merge(j.settled, live.get(j));
      return {
        runner: r.name,
        repo: j.repo,
        workflow: j.workflow,
        job: j.job,
        runId: j.runId,
        runAttempt: j.runAttempt,
        startedAt: Number.isNaN(j.startMs) ? null : new Date(j.startMs).toISOString(),
        completedAt: Number.isNaN(j.doneMs) ? null : new Date(j.doneMs).toISOString(),
        result: j.result,
        reached: names.list.filter((n) => n.verdict.startsWith("allowed")),
        refused: names.list.filter((n) => n.verdict.startsWith("refused")),
        otherNames: names.other,
      };
    });
    const betweenJobs = Object.create(null) as EgressSnapshot["betweenJobs"];
    for (const r of [...this.runners.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const m = merge(r.between, betweenLive.get(r));
      if (m.list.length === 0 && m.other === 0) continue;
      betweenJobs[r.name] = { allowed: m.allowed, refused: m.refused, names: m.list };
    }
    const refused = {} as EgressSnapshot["refused"];
    for (const key of WINDOW_KEYS) {
      const since = endMs - WINDOWS[key] * MINUTE_MS;
      const byName = new Map<string, number>();
      let total = 0;
      for (const [ms, name] of this.refusedTimes) {
        if (ms < since || ms > endMs) continue;
        total++;
        byName.set(name, (byName.get(name) ?? 0) + 1);
      }
      const names = [...byName]
        .map(([name, count]) => ({ name, count }))
        .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1))
        .slice(0, EGRESS_LIMITS.refusedNamesShown);
      refused[key] = { total, names };
    }
    return {
      gateway: this.gateway,
      heartbeats: this.heartbeats,
      decisions: this.decisions,
      ignored: this.ignored,
      invalid: this.invalid,
      truncated: this.truncated,
      jobs,
      betweenJobs,
      refused,
      dropped: { ...this.dropped },
    };
  }
}

/** The job of `r` that ran at `ms`: started at or before it and not completed before it. */
function spanAt(r: RunnerEgress, ms: number): JobSpan | undefined {
  // A runner runs one job at a time: the newest start at or before `ms` is the only candidate.
  let best: JobSpan | undefined;
  for (const j of r.jobs.list) {
    if (Number.isNaN(j.startMs) || j.startMs > ms) continue;
    if (!best || j.startMs > best.startMs) best = j;
  }
  if (best && (Number.isNaN(best.doneMs) || ms <= best.doneMs)) return best;
  // A job whose start is not known yet, but whose end is: it cannot be told apart; leave it.
  return undefined;
}

function merge(
  a: NameCounts | null,
  b: NameCounts | undefined,
): { list: EgressName[]; other: number; allowed: number; refused: number } {
  const all = new Map<string, EgressName>();
  for (const c of [a, b]) {
    if (!c) continue;
    for (const [k, v] of c.counts) {
      const x = all.get(k);
      if (x) x.count += v.count;
      else all.set(k, { ...v });
    }
  }
  const list = [...all.values()].sort((x, y) => y.count - x.count || (x.name < y.name ? -1 : 1));
  return {
    list,
    other: (a?.other ?? 0) + (b?.other ?? 0),
    allowed: (a?.allowed ?? 0) + (b?.allowed ?? 0),
    refused: (a?.refused ?? 0) + (b?.refused ?? 0),
  };
}

/** Inserts keeping `list` ordered by time; arrivals are nearly in order, so it searches from the end. */
function insertByTime<T>(list: T[], item: T, time: (x: T) => number = (x) => (x as Decision).ms): void {
  const t = time(item);
  let i = list.length;
  while (i > 0 && time(list[i - 1]!) > t) i--;
  list.splice(i, 0, item);
}

interface ParsedEgress {
  groups: Array<{ runner: string; name: string; verdict: EgressVerdict; at: number[] }>;
  truncated: number;
}

/** The `egress` field of a gateway heartbeat, or null when any part of it is out of shape or bounds. */
export function parseEgress(value: unknown, heartbeatMs: number): ParsedEgress | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const truncated = v.truncated ?? 0;
  if (!Number.isSafeInteger(truncated) || (truncated as number) < 0) return null;
  const list = v.decisions;
  if (!Array.isArray(list) || list.length > EGRESS_LIMITS.decisionsPerHeartbeat) return null;
  let times = 0;
  const groups: ParsedEgress["groups"] = [];
  for (const g of list as unknown[]) {
    if (typeof g !== "object" || g === null) return null;
    const { runner, name, verdict, at } = g as Record<string, unknown>;
    if (typeof runner !== "string" || !RUNNER_NAME.test(runner)) return null;
    if (typeof name !== "string" || !EGRESS_NAME.test(name)) return null;
    if (typeof verdict !== "string" || !VERDICTS.has(verdict)) return null;
    if (!Array.isArray(at) || at.length === 0) return null;
    times += at.length;
    if (times > EGRESS_LIMITS.timesPerHeartbeat) return null;
    // Connections before the heartbeat (by a little clock skew at most), within the week kept.
    for (const ms of at as unknown[]) {
      if (!Number.isSafeInteger(ms)) return null;
      if ((ms as number) > heartbeatMs + MAX_SKEW_MS || (ms as number) < heartbeatMs - WINDOWS["7d"] * MINUTE_MS)
        return null;
    }
    groups.push({ runner, name, verdict: verdict as EgressVerdict, at: at as number[] });
  }
  return { groups, truncated: truncated as number };
}
