/**
 * The fleet statistics, updated one event at a time: every structure here is
 * bounded or grows only with the number of runners and repositories, so the
 * cost of a pass follows the new bytes, not the history.
 */
import {
  validEventTime,
  type CcoEvent,
  type JobCompletedEvent,
  type JobEvent,
  type JobResult,
  type JobStartedEvent,
  type HeartbeatEvent,
  type ListenerState,
} from "../events";
import type { GitHubInput, PassInput } from "./input";
import { DurationStats, round3, type DurationSummary } from "./durations";
import { histQuantile, MINUTE_MS, RETAIN_MINUTES, Timeline, type Span } from "./timeline";
import { EgressLedger, type EgressSnapshot } from "./egress";
import { isControllerName } from "../controller-names";
import { Lives, type LivesStats } from "./lives";
import { ownCopy } from "./own";
import { sortedEntries } from "./sorted";

/** How many completed jobs are remembered to drop re-sent events (the forwarder delivers at least once). */
export const RECENT_COMPLETIONS = 65_536;
/** GitHub cancels a self-hosted job after 5 days: a start older than that will never complete. */
export const ABANDON_AFTER_MS = 5 * 24 * 3600 * 1000;

/**
 * What the aggregator keeps at most, whatever arrives (test/service/hostile.test.ts).
 * Past a limit the newest is kept and the oldest let go, and the snapshot
 * counts what was let go, by reason, in `events.dropped`.
 */
export const LIMITS = {
  /** Open jobs per runner: a runner runs one job at a time, so older open ones lost their completion. */
  openJobsPerRunner: 4,
  /** Runners not declared in STATS_RUNNERS (ephemeral lives, removed runners): the least recently heard-from go first. */
  undeclaredRunners: 256,
  /** Repositories counted apart; the rest are counted together as OTHER. */
  repos: 1000,
  /** Distinct job names; the rest share the name OTHER. */
  jobNames: 2000,
} as const;
/** Events stamped further ahead of the service's clock than this are dropped (a wrong clock, or a forgery). */
export const FUTURE_TOLERANCE_MS = 15 * 60_000;
/** Where what is past a limit is counted. */
export const OTHER = "(other)";

/** What was let go, by reason. */
/** A type, not an interface: Object.values and Object.entries of it are numbers. */
export type Dropped = {
  /** Events stamped more than FUTURE_TOLERANCE_MS ahead of the service's clock. */
  future: number;
  /** Open jobs let go because their runner started more than LIMITS.openJobsPerRunner. */
  openJobs: number;
  /** Undeclared runners forgotten (their open jobs with them) to make room for newer ones. */
  runners: number;
  /** Job events of repositories past LIMITS.repos, counted under OTHER. */
  repos: number;
  /** Job events whose job name is past LIMITS.jobNames, counted under OTHER. */
  jobNames: number;
  /**
   * Events under a controller's name (cco-controller-<node>) that gave no life
   * figures: a heartbeat whose fields do not validate (service/aggregate/lives.ts
   * lifeFigures), or a job event (a controller runs no jobs). The event counts; its figures do not.
   */
  lifeFigures: number;
  /** Slots and controllers of the lives forgotten to make room (LIVES_LIMITS). */
  lives: number;
  /** Events under the gateway's name (cco-gateway) without egress: it runs no jobs, it is no runner. */
  gatewayEvents: number;
};

import { SERIES_STEP_MINUTES, WINDOW_KEYS, WINDOWS, type WindowKey } from "./windows";
export { SERIES_STEP_MINUTES, WINDOW_KEYS, WINDOWS, type WindowKey };

export interface Quantiles {
  count: number;
  p50: number | null;
  p95: number | null;
}

/** The fleet over one window ending at the snapshot's time (event time). */
export interface WindowStats {
  minutes: number;
  started: number;
  completed: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  jobsPerMinute: number;
  /** Job time inside the window, running jobs included. */
  busySeconds: number;
  /** busySeconds over the window's wall time times the runners (declared, or else heard from); null without runners. */
  utilisation: number | null;
  runners: number;
  durationSeconds: Quantiles;
  /** From GitHub (created -> started), when the service polls it; count 0 otherwise. */
  queueSeconds: Quantiles;
}

/** One point of a chart: a span of event time. */
export interface SeriesPoint {
  at: string;
  started: number;
  completed: number;
  failed: number;
  /** Jobs running, on average over the span. */
  running: number;
  p50: number | null;
  p95: number | null;
  queueP50: number | null;
  queueP95: number | null;
}

/** GitHub's view of the same jobs, and how it agrees with the hooks'. */
export interface GitHubStats {
  polledAt: string | null;
  error: string | null;
  /** Jobs queued now, waiting for a runner. */
  waiting: number;
  /** Completed jobs GitHub reported on runners this service knows. */
  compared: number;
  /** Of those, how many the hooks reported with the same result. */
  matched: number;
  /** The hooks reported another result. */
  resultMismatch: number;
  /** The hooks never reported a completion (lost, or a job that could not run its hook). */
  missingHook: number;
  requests: number;
  notModified: number;
  rateLimitRemaining: number | null;
}

export type SnapshotStatus = "warming_up" | "partial" | "ok";

export interface LastJob {
  repo: string;
  workflow: string;
  job: string;
  runId: number;
  runAttempt: number;
  /** Absent while the job runs. */
  result?: JobResult;
  at: string;
}

/** Jobs by state and result: the shape shared by the fleet, each runner and each repository. */
export interface JobCounts {
  started: number;
  completed: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

interface RunnerCounts extends JobCounts {
  busySeconds: number;
}

export interface RunnerStats extends RunnerCounts {
  lastEventAt: string | null;
  lastHeartbeatAt: string | null;
  lastJob: LastJob | null;
  /** From the newest heartbeat that said so; null when none did. */
  listener: ListenerState | null;
  listenerExitCode: number | null;
  /** In STATS_RUNNERS (true for every runner when that list is not given). */
  declared: boolean;
}

export type RepoStats = Omit<JobCounts, "running">;

export interface AggregationInfo {
  /** Wall time of the pass that produced this snapshot. */
  durationMs: number;
  /** Bytes read by that pass (only what was appended since the pass before). */
  bytesRead: number;
  /** `*.jsonl` files followed. */
  files: number;
  /** Passes completed since the service started. */
  passes: number;
  /** Bytes read since the service started. */
  totalBytesRead: number;
  /** Where aggregation runs: a worker thread or the main thread. */
  mode: string;
  /** V8 heap in use by the thread that aggregates, after the pass. */
  heapUsedBytes: number;
}

export interface Snapshot {
  generatedAt: string;
  status: SnapshotStatus;
  events: { total: number; rejected: number; duplicates: number; dropped: Dropped };
  fleet: {
    /** STATS_RUNNERS, or null when not given. */
    declared: string[] | null;
    /** The newest completion (by its event time). */
    lastJob: (LastJob & { runner: string }) | null;
  };
  windows: Record<WindowKey, WindowStats>;
  /** POST /api/events requests refused since the service started, by reason (forged_runner, invalid, ...). */
  ingest: { refused: Record<string, number> };
  /** Null unless the service polls GitHub (STATS_GITHUB_TOKEN). */
  github: GitHubStats | null;
  jobs: JobCounts & {
    /** Completed, but the hook could not tell with what result (`result: "unknown"`). */
    unknown: number;
    /** Started more than 5 days ago and never completed. */
    abandoned: number;
  };
  durationSeconds: DurationSummary;
  /** Runners only: a controller's name (cco-controller-<node>) is never one; its heartbeats feed `lives`. */
  runners: Record<string, RunnerStats>;
  repos: Record<string, RepoStats>;
  /** Ephemeral mode's lives, from the controllers' heartbeats (all zero without them). */
  lives: LivesStats;
  aggregation: AggregationInfo;
  /** Per-job egress through the gateway (service/aggregate/egress.ts). */
  egress: EgressSnapshot;
}

/**
 * One entry of `/api/stats/history`: a minute of event time, derived from the
 * files (a restart rebuilds the same entries). Counts are all-time totals as
 * of the end of that minute; `running` is the average over the minute; p50
 * and p95 are of the jobs that completed in it.
 */
export interface CompactSnapshot extends Omit<JobCounts, "running"> {
  at: string;
  events: number;
  running: number;
  p50: number | null;
  p95: number | null;
}

interface RunnerState extends RunnerCounts {
  name: string;
  declared: boolean;
  /** Its jobs started and not completed, oldest first (at most LIMITS.openJobsPerRunner). */
  open: JobEntry[];
  listener: ListenerState | null;
  listenerExitCode: number | null;
  lastListenerMs: number;
  lastEventMs: number;
  lastHeartbeatMs: number;
  /** The newest job event of the text being consumed (kept as read: no copy per event; settled into lastJob at its end). */
  lastJobEvent: JobEvent | null;
  lastJobMs: number;
  /** That event in the snapshot's shape, made (with owned strings) at the end of the pass. */
  lastJob: LastJob | null;
}

/**
 * A job, identified (DESIGN.md) by repo, runId, runAttempt, job and runner.
 * Open while only its start is known; once completed it is kept (a bounded
 * number of them) so that re-sent events count once, and so that a start read
 * after its completion still gets its duration.
 */
interface JobEntry {
  runId: number;
  runAttempt: number;
  /** Interned: compared by identity, and never a slice of a read chunk. */
  job: string;
  repo: RepoStats;
  runner: RunnerState;
  /** NaN until the start is seen. */
  startMs: number;
  /** NaN until the completion is seen. */
  doneMs: number;
  result: JobResult | null;
  /** The next job of the same runId (a run has a few jobs). */
  next: JobEntry | null;
}

function isoOrNull(ms: number): string | null {
  return ms === -Infinity ? null : new Date(ms).toISOString();
}

export interface AggregatorOptions {
  /** Runner names of the stack (STATS_RUNNERS); others are kept within LIMITS.undeclaredRunners. */
  declaredRunners?: readonly string[] | null;
  /** The service's clock (tests set it). */
  now?: () => number;
}

export class Aggregator {
  private declared: ReadonlySet<string> | null;
  private declaredList: string[] | null;
  private readonly clock: () => number;
  /** The clock read at the start of the current pass: the future limit and the timeline's end. */
  private nowMs: number;
  private undeclared = 0;
  private readonly dropped: Dropped = {
    future: 0,
    openJobs: 0,
    runners: 0,
    repos: 0,
    jobNames: 0,
    lifeFigures: 0,
    lives: 0,
    gatewayEvents: 0,
  };
  private readonly lives = new Lives();
  private readonly timeline = new Timeline();
  private readonly egress = new EgressLedger();
  private lastCompletion: { ms: number; e: JobCompletedEvent | null; job: (LastJob & { runner: string }) | null } = {
    ms: -Infinity,
    e: null,
    job: null,
  };

  constructor(options: AggregatorOptions = {}) {
    this.declaredList = options.declaredRunners ? runnersOnly(options.declaredRunners) : null;
    this.declared = this.declaredList ? new Set(this.declaredList) : null;
    this.clock = options.now ?? Date.now;
    this.nowMs = this.clock();
    this.timeline.advance(this.nowMs);
    for (const name of this.declaredList ?? []) this.runner(name);
  }

  /** Reads the clock: called at the start of each pass. */
  tick(): void {
    this.nowMs = Math.max(this.nowMs, this.clock());
    this.timeline.advance(this.nowMs);
  }
  private total = 0;
  private rejected = 0;
  private duplicates = 0;
  private started = 0;
  private completed = 0;
  private running = 0;
  private abandoned = 0;
  private readonly results = { succeeded: 0, failed: 0, cancelled: 0 };
  /** Completions whose hook could not tell the result (see JOB_RESULTS). */
  private unknownResults = 0;
  private readonly durations = new DurationStats();
  private readonly runners = new Map<string, RunnerState>();
  private readonly repos = new Map<string, RepoStats>();
  private readonly jobNames = new Map<string, string>();
  /**
   * Open jobs and the last RECENT_COMPLETIONS completed ones, chained by runId.
   * A number key and a short chain walk cost much less than building and
   * hashing a string key of five fields for every event.
   */
  private readonly jobs = new Map<number, JobEntry>();
  /**
   * Completed jobs in the order they completed, as a ring: the oldest is
   * forgotten when a new one arrives. (Evicting through a Map's own iterator
   * costs O(deleted entries) per call: V8 keeps tombstones at the front of the
   * table until it rehashes, which made cold passes quadratic.)
   */
  private readonly completedOrder = new Array<JobEntry | undefined>(RECENT_COMPLETIONS);
  private completedNext = 0;
  /** An evicted entry waiting to be reused. */
  private spare: JobEntry | null = null;
  /** Runners whose lastJobEvent is set (see settle). */
  private readonly unsettled: RunnerState[] = [];
  private latestMs = -Infinity;
  /**
   * No job of a larger runId was ever added to `jobs`: a start of a newer run
   * (runIds grow) is known to be new without a lookup in that large Map,
   * whose lookups (cache misses) cost more than anything else per job.
   */
  private maxRunId = 0;
  /** The repository of the event before, while its text is being consumed (see repo). */
  private recentRepoName: string | null = null;
  private recentRepo: RepoStats | null = null;

  /**
   * Feeds complete lines (the text ends at a line boundary). Blank lines are
   * ignored; a line that is not JSON or not a valid event counts as rejected.
   */
  consume(text: string): number {
    let lines = 0;
    let start = 0;
    const end = text.length;
    while (start < end) {
      let nl = text.indexOf("\n", start);
      if (nl === -1) nl = end;
      if (nl > start) {
        lines++;
        this.line(text.slice(start, nl));
      }
      start = nl + 1;
    }
    this.settle();
    return lines;
  }

  /** One line of a file. */
  line(text: string): void {
    const last = text.charCodeAt(text.length - 1);
    if (last !== 125 && last > 32 && last < 0x7f) {
      // Neither `}` nor space at its end (a torn line): not a JSON object, so rejected without the cost of a SyntaxError.
      this.rejected++;
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (text.trim() !== "") this.rejected++;
      return;
    }
    const ms = validEventTime(value);
    if (Number.isNaN(ms)) {
      this.rejected++;
      return;
    }
    this.apply(value as CcoEvent, ms);
  }

  /** A line that could not even be read (longer than the reader accepts). */
  reject(): void {
    this.rejected++;
  }

  /** Counts one valid event; `ms` is its `ts` in ms since the epoch. */
  apply(e: CcoEvent, ms: number): void {
    if (ms > this.nowMs + FUTURE_TOLERANCE_MS) {
      this.dropped.future++;
      return;
    }
    this.total++;
    this.timeline.event(ms);
    this.egress.time(ms);
    if (ms > this.latestMs) this.latestMs = ms;
    if (isControllerName(e.runner)) {
      if (e.type !== "heartbeat" || !this.lives.heartbeat(e.runner, e, ms)) this.dropped.lifeFigures++;
      return;
    }
    if (this.egress.isGateway(e.runner)) {
      // The gateway is no runner (nothing of it goes stale): its heartbeats carry egress only.
      if (e.type === "heartbeat" && e.egress !== undefined) this.egress.heartbeat(e.runner, e.egress, ms);
      else this.dropped.gatewayEvents++;
      return;
    }
    const runner = this.runner(e.runner);
    if (ms > runner.lastEventMs) runner.lastEventMs = ms;
    if (e.type === "heartbeat") {
      if (ms > runner.lastHeartbeatMs) runner.lastHeartbeatMs = ms;
      if (e.listener !== undefined && ms >= runner.lastListenerMs) this.noteListener(runner, e, ms);
      if (e.egress !== undefined) this.egress.heartbeat(e.runner, e.egress, ms);
    } else {
      this.egress.job(e, ms);
      if (e.type === "job_started") this.jobStarted(e, ms, runner);
      else this.jobCompleted(e, ms, runner);
    }
  }

  /**
   * Where the job `e` names is in its runner's open jobs, or -1. Most
   * completions end one of these few; every open job is also in `jobs`, so
   * this finds what findJob would, without the lookup in that large Map.
   */
  private static openIndex(runner: RunnerState, e: JobEvent, repo: RepoStats, job: string): number {
    const open = runner.open;
    for (let k = 0; k < open.length; k++) {
      const j = open[k]!;
      if (j.runId === e.runId && j.runAttempt === e.runAttempt && j.repo === repo && j.job === job) return k;
    }
    return -1;
  }

  private findJob(e: JobEvent, runner: RunnerState, repo: RepoStats, job: string): JobEntry | undefined {
    for (let j: JobEntry | null | undefined = this.jobs.get(e.runId); j; j = j.next) {
      if (j.runAttempt === e.runAttempt && j.runner === runner && j.repo === repo && j.job === job) return j;
    }
    return undefined;
  }

  private addJob(
    e: JobEvent,
    runner: RunnerState,
    repo: RepoStats,
    job: string,
    startMs: number,
    doneMs: number,
  ): JobEntry {
    let next: JobEntry | null = null;
    if (e.runId > this.maxRunId) this.maxRunId = e.runId;
    else next = this.jobs.get(e.runId) ?? null;
    let entry = this.spare;
    if (entry) {
      this.spare = null;
      entry.runId = e.runId;
      entry.runAttempt = e.runAttempt;
      entry.job = job;
      entry.repo = repo;
      entry.runner = runner;
      entry.startMs = startMs;
      entry.doneMs = doneMs;
      entry.result = null;
      entry.next = next;
    } else {
      entry = { runId: e.runId, runAttempt: e.runAttempt, job, repo, runner, startMs, doneMs, result: null, next };
    }
    this.jobs.set(e.runId, entry);
    return entry;
  }

  private removeJob(entry: JobEntry): void {
    const head = this.jobs.get(entry.runId);
    if (head === entry) {
      if (entry.next) this.jobs.set(entry.runId, entry.next);
      else this.jobs.delete(entry.runId);
      return;
    }
    for (let j: JobEntry | null | undefined = head; j; j = j.next) {
      if (j.next === entry) {
        j.next = entry.next;
        return;
      }
    }
  }

  private jobStarted(e: JobStartedEvent, ms: number, runner: RunnerState): void {
    const repo = this.repo(e.repo);
    const jobName = this.jobName(e.job);
    const job = e.runId > this.maxRunId ? undefined : this.findJob(e, runner, repo, jobName);
    if (job && !Number.isNaN(job.startMs)) {
      this.duplicates++;
      return;
    }
    this.started++;
    runner.started++;
    repo.started++;
    this.timeline.start(ms);
    this.noteLastJob(runner, e, ms);
    if (job) {
      // Its completion was read first (files are read one after another).
      job.startMs = ms;
      this.countDuration(ms, job.doneMs, runner);
      return;
    }
    if (runner.open.length >= LIMITS.openJobsPerRunner) {
      this.dropOpen(runner.open[0]!);
      this.dropped.openJobs++;
    }
    runner.open.push(this.addJob(e, runner, repo, jobName, ms, NaN));
    runner.running++;
    this.running++;
  }

  /** Forgets an open job (the caller counts why). */
  private dropOpen(j: JobEntry): void {
    this.removeJob(j);
    const open = j.runner.open;
    const i = open.indexOf(j);
    if (i >= 0) open.splice(i, 1);
    j.runner.running--;
    this.running--;
  }

  private jobCompleted(e: JobCompletedEvent, ms: number, runner: RunnerState): void {
    const repo = this.repo(e.repo);
    const jobName = this.jobName(e.job);
    let i = Aggregator.openIndex(runner, e, repo, jobName);
    let job = i >= 0 ? runner.open[i] : this.findJob(e, runner, repo, jobName);
    if (job && !Number.isNaN(job.doneMs)) {
      this.duplicates++;
      return;
    }
    if (job) {
      job.doneMs = ms;
      if (i < 0) i = runner.open.indexOf(job);
      if (i >= 0) runner.open.splice(i, 1);
      runner.running--;
      this.running--;
      this.countDuration(job.startMs, ms, runner);
    } else {
      job = this.addJob(e, runner, repo, jobName, NaN, ms);
    }
    this.rememberCompleted(job);
    const result = e.result;
    job.result = result;
    this.timeline.completion(ms, result);
    const c = this.lastCompletion;
    if (ms >= c.ms) {
      c.ms = ms;
      c.e = e;
      c.job = null;
    }
    this.completed++;
    runner.completed++;
    repo.completed++;
    // Named properties, not [result]: a keyed access by a string goes through a generic lookup each time.
    if (result === "succeeded") {
      this.results.succeeded++;
      runner.succeeded++;
      repo.succeeded++;
    } else if (result === "failed") {
      this.results.failed++;
      runner.failed++;
      repo.failed++;
    } else if (result === "cancelled") {
      this.results.cancelled++;
      runner.cancelled++;
      repo.cancelled++;
    } else {
      this.unknownResults++;
    }
    this.noteLastJob(runner, e, ms);
  }

  private countDuration(startMs: number, doneMs: number, runner: RunnerState): void {
    const ms = doneMs - startMs;
    if (ms < 0) return; // clocks disagree: no honest duration
    this.timeline.pair(startMs, doneMs);
    const seconds = ms / 1000;
    this.durations.add(seconds);
    runner.busySeconds += seconds;
  }

  private rememberCompleted(job: JobEntry): void {
    const oldest = this.completedOrder[this.completedNext];
    if (oldest) {
      this.removeJob(oldest);
      // Reused by the next job: entries live long enough to reach the old
      // generation, and dropping one per job filled it with garbage.
      this.spare = oldest;
    }
    this.completedOrder[this.completedNext] = job;
    this.completedNext = (this.completedNext + 1) % RECENT_COMPLETIONS;
  }

  private noteLastJob(runner: RunnerState, e: JobEvent, ms: number): void {
    if (ms < runner.lastJobMs) return;
    runner.lastJobMs = ms;
    if (runner.lastJobEvent === null) this.unsettled.push(runner);
    runner.lastJobEvent = e;
  }

  /**
   * Turns the events kept as read into owned copies, once per text consumed:
   * an event's strings may be slices of the text, which the tailer decodes a
   * whole read (up to 1 MiB) at a time; kept until the end of a pass, the
   * last events of 256 runners could pin 256 such reads.
   */
  private settle(): void {
    this.recentRepoName = null; // may be a slice of the text consumed
    for (const r of this.unsettled) this.settleLastJob(r);
    this.unsettled.length = 0;
    this.settleFleetLastJob();
  }

  private noteListener(runner: RunnerState, e: HeartbeatEvent, ms: number): void {
    runner.lastListenerMs = ms;
    runner.listener = e.listener!;
    runner.listenerExitCode = typeof e.listenerExitCode === "number" ? e.listenerExitCode : null;
  }

  /** Makes room for one more undeclared runner: the one heard from least recently goes. */
  private evictRunner(): void {
    let oldest: RunnerState | null = null;
    for (const r of this.runners.values()) {
      if (!r.declared && (oldest === null || r.lastEventMs < oldest.lastEventMs)) oldest = r;
    }
    if (!oldest) return;
    for (const j of [...oldest.open]) this.dropOpen(j);
    this.runners.delete(oldest.name);
    this.undeclared--;
    this.dropped.runners++;
  }

  private runner(name: string): RunnerState {
    let r = this.runners.get(name);
    if (!r) {
      const declared = this.declared === null ? false : this.declared.has(name);
      if (!declared && this.undeclared >= LIMITS.undeclaredRunners) this.evictRunner();
      if (!declared) this.undeclared++;
      const own = ownCopy(name);
      r = {
        name: own,
        declared,
        open: [],
        listener: null,
        listenerExitCode: null,
        lastListenerMs: -Infinity,
        started: 0,
        completed: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        busySeconds: 0,
        lastEventMs: -Infinity,
        lastHeartbeatMs: -Infinity,
        lastJobEvent: null,
        lastJobMs: -Infinity,
        lastJob: null,
      };
      this.runners.set(own, r);
    }
    return r;
  }

  private repo(name: string): RepoStats {
    // A job's start and completion are often next to each other: one string compare instead of hashing the name again.
    if (name === this.recentRepoName) return this.recentRepo!;
    let r = this.repos.get(name);
    if (r) {
      this.recentRepoName = name;
      this.recentRepo = r;
      return r;
    }
    if (!r && this.repos.size >= LIMITS.repos) {
      this.dropped.repos++;
      name = OTHER;
      r = this.repos.get(name);
    }
    if (!r) {
      r = { started: 0, completed: 0, succeeded: 0, failed: 0, cancelled: 0 };
      this.repos.set(ownCopy(name), r);
    }
    return r;
  }

  private jobName(name: string): string {
    let own = this.jobNames.get(name);
    if (own === undefined && this.jobNames.size >= LIMITS.jobNames) {
      this.dropped.jobNames++;
      own = this.jobNames.get(OTHER);
      name = OTHER;
    }
    if (own === undefined) {
      own = ownCopy(name);
      this.jobNames.set(own, own);
    }
    return own;
  }

  /** Drops starts older than GitHub's job limit, measured against the newest event seen. */
  private expireAbandoned(): void {
    if (this.running === 0) return;
    const cutoff = this.latestMs - ABANDON_AFTER_MS;
    const expired: JobEntry[] = [];
    for (const head of this.jobs.values()) {
      for (let j: JobEntry | null = head; j; j = j.next) {
        if (j.startMs < cutoff && Number.isNaN(j.doneMs)) expired.push(j);
      }
    }
    for (const j of expired) {
      this.dropOpen(j);
      this.abandoned++;
    }
  }

  /** A job event in the snapshot's shape, with strings of its own (none pins a read chunk). */
  private static lastJobOf(e: JobEvent): LastJob {
    return {
      repo: ownCopy(e.repo),
      workflow: ownCopy(e.workflow),
      job: ownCopy(e.job),
      runId: e.runId,
      runAttempt: e.runAttempt,
      ...(e.type === "job_completed" ? { result: e.result } : {}),
      at: ownCopy(e.ts),
    };
  }

  /** Turns the last job event read into its snapshot shape, letting go of the event (and its chunk). */
  private settleLastJob(r: RunnerState): LastJob | null {
    const e = r.lastJobEvent;
    if (e) {
      r.lastJobEvent = null;
      r.lastJob = Aggregator.lastJobOf(e);
    }
    return r.lastJob;
  }

  private settleFleetLastJob(): (LastJob & { runner: string }) | null {
    const c = this.lastCompletion;
    if (c.e) {
      c.job = { ...Aggregator.lastJobOf(c.e), runner: ownCopy(c.e.runner) };
      c.e = null;
    }
    return c.job;
  }

  private ingestRefused: Record<string, number> = {};
  private github: GitHubInput | null = null;

  /** What the main thread knows and the files do not (see PassInput). */
  setInput(input: PassInput): void {
    this.ingestRefused = { ...input.ingestRefused };
    if (input.declaredRunners !== undefined) this.setDeclared(input.declaredRunners);
    if (input.github) {
      this.github = input.github;
      this.setQueueTimes(input.github.queueTimes);
    }
  }

  /** The fleet changed (a scale up or down): runners move between declared and not. */
  private setDeclared(names: string[] | null): void {
    const list = names ? runnersOnly(names) : null;
    if (JSON.stringify(list) === JSON.stringify(this.declaredList)) return;
    this.declaredList = list;
    this.declared = list ? new Set(list) : null;
    let undeclared = 0;
    for (const r of this.runners.values()) {
      r.declared = this.declared !== null && this.declared.has(r.name);
      if (!r.declared) undeclared++;
    }
    this.undeclared = undeclared;
    for (const name of list ?? []) this.runner(name);
  }

  /** Compares GitHub's completed jobs with the hooks' (a job is identified as DESIGN.md says). */
  private reconcile(g: GitHubInput): GitHubStats {
    let compared = 0;
    let matched = 0;
    let resultMismatch = 0;
    let missingHook = 0;
    for (const j of g.completed) {
      const runner = this.runners.get(j.runner);
      if (!runner) continue; // not one of ours (or forgotten)
      compared++;
      const repo = this.repos.get(j.repo);
      const job = this.jobNames.get(j.job);
      let entry: JobEntry | undefined;
      if (repo && job) {
        for (let e: JobEntry | null | undefined = this.jobs.get(j.runId); e; e = e.next) {
          if (e.runAttempt === j.runAttempt && e.runner === runner && e.repo === repo && e.job === job) entry = e;
        }
      }
      if (!entry || entry.result === null) missingHook++;
      else if (entry.result === j.result) matched++;
      else resultMismatch++;
    }
    return {
      polledAt: g.polledAt,
      error: g.error,
      waiting: g.waiting,
      compared,
      matched,
      resultMismatch,
      missingHook,
      requests: g.requests,
      notModified: g.notModified,
      rateLimitRemaining: g.rateLimitRemaining,
    };
  }

  /** GitHub's queue times (job started at `startMs` after waiting `seconds`), replacing the previous set. */
  setQueueTimes(times: ReadonlyArray<readonly [number, number]>): void {
    this.timeline.clearQueue();
    for (const [startMs, seconds] of times) this.timeline.queued(startMs, seconds);
  }

  /**
   * Sums over `count` spans of `step` minutes ending with the minute of
   * `endMs`, open jobs' time up to `endMs` included.
   */
  private spans(endMs: number, stepMinutes: number, count: number, aligned = false): { from: number; spans: Span[] } {
    let endMinute = Math.floor(endMs / MINUTE_MS) + 1;
    // Chart points on round times (10:00, 10:10...): the last one is the step under way.
    if (aligned) endMinute = Math.ceil(endMinute / stepMinutes) * stepMinutes;
    const from = Math.max(endMinute - stepMinutes * count, this.timeline.firstMinute);
    // Ending before the minutes kept (asked of a time the clock has left behind): one span, empty.
    const n = Math.max(1, Math.ceil((endMinute - from) / stepMinutes));
    const first = endMinute - n * stepMinutes;
    const spans = this.timeline.spans(first, stepMinutes, n);
    const stepMs = stepMinutes * MINUTE_MS;
    for (const r of this.runners.values()) {
      for (const j of r.open) {
        if (Number.isNaN(j.startMs)) continue;
        for (let i = 0; i < n; i++) {
          const a = Math.max(j.startMs, first * MINUTE_MS + i * stepMs);
          const b = Math.min(endMs, first * MINUTE_MS + (i + 1) * stepMs);
          if (b > a) spans[i]!.busyMs += b - a;
        }
      }
    }
    return { from: first, spans };
  }

  private window(endMs: number, key: WindowKey): WindowStats {
    const minutes = WINDOWS[key];
    const { spans } = this.spans(endMs, minutes, 1);
    const sp = spans[0]!;
    let runners = this.declaredList?.length ?? 0;
    if (this.declaredList === null) {
      const since = endMs - minutes * MINUTE_MS;
      for (const r of this.runners.values()) if (r.lastEventMs >= since) runners++;
    }
    const wallSeconds = (minutes * MINUTE_MS) / 1000;
    const durCount = sp.completed > 0 ? sp.durations.reduce((a, b) => a + b, 0) : 0;
    return {
      minutes,
      started: sp.started,
      completed: sp.completed,
      succeeded: sp.succeeded,
      failed: sp.failed,
      cancelled: sp.cancelled,
      jobsPerMinute: round3(sp.completed / minutes),
      busySeconds: round3(sp.busyMs / 1000),
      utilisation: runners > 0 ? round3(sp.busyMs / 1000 / (wallSeconds * runners)) : null,
      runners,
      durationSeconds: quantiles(sp.durations, durCount),
      queueSeconds: quantiles(sp.queue, sp.queueCount),
    };
  }

  /** The chart of one window: one point per SERIES_STEP_MINUTES, oldest first. */
  series(endMs: number, key: WindowKey): SeriesPoint[] {
    const step = SERIES_STEP_MINUTES[key];
    const { from, spans } = this.spans(endMs, step, Math.ceil(WINDOWS[key] / step), true);
    return spans.map((sp, i) => {
      const d = sp.durations.reduce((a, b) => a + b, 0);
      return {
        at: new Date((from + i * step) * MINUTE_MS).toISOString(),
        started: sp.started,
        completed: sp.completed,
        failed: sp.failed,
        running: round3(sp.busyMs / (step * MINUTE_MS)),
        p50: roundOrNull(histQuantile(sp.durations, d, 0.5)),
        p95: roundOrNull(histQuantile(sp.durations, d, 0.95)),
        queueP50: roundOrNull(histQuantile(sp.queue, sp.queueCount, 0.5)),
        queueP95: roundOrNull(histQuantile(sp.queue, sp.queueCount, 0.95)),
      };
    });
  }

  /** The newest `limit` minutes of event time (at most the 7 days kept), oldest first. */
  history(endMs: number, limit: number): CompactSnapshot[] {
    const n = Math.min(limit, RETAIN_MINUTES);
    const { from, spans } = this.spans(endMs, 1, n);
    // Totals as of the end of each minute: the all-time totals minus what came later.
    let events = this.total;
    let started = this.started;
    let completed = this.completed;
    let { succeeded, failed, cancelled } = this.results;
    const out = new Array<CompactSnapshot>(spans.length);
    for (let i = spans.length - 1; i >= 0; i--) {
      const sp = spans[i]!;
      const d = sp.durations.reduce((a, b) => a + b, 0);
      out[i] = {
        at: new Date((from + i) * MINUTE_MS).toISOString(),
        events,
        started,
        completed,
        succeeded,
        failed,
        cancelled,
        running: round3(sp.busyMs / MINUTE_MS),
        p50: roundOrNull(histQuantile(sp.durations, d, 0.5)),
        p95: roundOrNull(histQuantile(sp.durations, d, 0.95)),
      };
      events -= sp.events;
      started -= sp.started;
      completed -= sp.completed;
      succeeded -= sp.succeeded;
      failed -= sp.failed;
      cancelled -= sp.cancelled;
    }
    return out;
  }

  snapshot(generatedAt: Date, status: SnapshotStatus, aggregation: AggregationInfo): Snapshot {
    this.expireAbandoned();
    const endMs = generatedAt.getTime();
    const runners = Object.create(null) as Record<string, RunnerStats>;
    for (const [name, r] of sortedEntries(this.runners)) {
      runners[name] = {
        started: r.started,
        completed: r.completed,
        running: r.running,
        succeeded: r.succeeded,
        failed: r.failed,
        cancelled: r.cancelled,
        busySeconds: round3(r.busySeconds),
        lastEventAt: isoOrNull(r.lastEventMs),
        lastHeartbeatAt: isoOrNull(r.lastHeartbeatMs),
        lastJob: this.settleLastJob(r),
        listener: r.listener,
        listenerExitCode: r.listenerExitCode,
        declared: this.declared === null || r.declared,
      };
    }
    const repos = Object.create(null) as Record<string, RepoStats>;
    for (const [name, r] of sortedEntries(this.repos)) {
      repos[name] = { ...r };
    }
    const windows = {} as Record<WindowKey, WindowStats>;
    for (const key of WINDOW_KEYS) windows[key] = this.window(endMs, key);
    return {
      generatedAt: generatedAt.toISOString(),
      status,
      events: {
        total: this.total,
        rejected: this.rejected,
        duplicates: this.duplicates,
        dropped: { ...this.dropped, lives: this.lives.evicted },
      },
      fleet: { declared: this.declaredList, lastJob: this.settleFleetLastJob() },
      windows,
      ingest: { refused: { ...this.ingestRefused } },
      github: this.github ? this.reconcile(this.github) : null,
      jobs: {
        started: this.started,
        completed: this.completed,
        running: this.running,
        ...this.results,
        unknown: this.unknownResults,
        abandoned: this.abandoned,
      },
      durationSeconds: this.durations.summary(),
      runners,
      repos,
      lives: this.lives.stats(endMs),
      aggregation,
      egress: this.egress.snapshot(endMs),
    };
  }
}

function roundOrNull(x: number | null): number | null {
  return x === null ? null : round3(x);
}

function quantiles(hist: Uint32Array, count: number): Quantiles {
  return { count, p50: roundOrNull(histQuantile(hist, count, 0.5)), p95: roundOrNull(histQuantile(hist, count, 0.95)) };
}

/** The declared runners without the controllers (their credentials sit beside the runners'). */
function runnersOnly(names: readonly string[]): string[] {
  return [...new Set(names)].filter((n) => !isControllerName(n)).sort();
}
