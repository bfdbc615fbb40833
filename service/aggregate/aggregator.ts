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
} from "../events";
import { DurationStats, round3, type DurationSummary } from "./durations";

/** How many completed jobs are remembered to drop re-sent events (the forwarder delivers at least once). */
export const RECENT_COMPLETIONS = 65_536;
/** GitHub cancels a self-hosted job after 5 days: a start older than that will never complete. */
export const ABANDON_AFTER_MS = 5 * 24 * 3600 * 1000;

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
  events: { total: number; rejected: number; duplicates: number };
  jobs: JobCounts & {
    /** Started more than 5 days ago and never completed. */
    abandoned: number;
  };
  durationSeconds: DurationSummary;
  runners: Record<string, RunnerStats>;
  repos: Record<string, RepoStats>;
  aggregation: AggregationInfo;
}

/** One entry of `/api/stats/history`: the headline numbers of a snapshot. */
export interface CompactSnapshot extends JobCounts {
  at: string;
  events: number;
  rejected: number;
  p50: number | null;
  p95: number | null;
  /** Runners with at least one job running. */
  busyRunners: number;
}

interface RunnerState extends RunnerCounts {
  lastEventMs: number;
  lastHeartbeatMs: number;
  /** The newest job event read in this pass (kept as read: no copy per event). */
  lastJobEvent: JobEvent | null;
  lastJobMs: number;
  /** That event in the snapshot's shape, made (with owned strings) at the end of the pass. */
  lastJob: LastJob | null;
}

/**
 * A copy of `s` that shares no memory with the text it was parsed from.
 * V8 may return strings from JSON.parse as slices of the source line, itself a
 * slice of the chunk read from disk; a slice kept in long-lived state pins the
 * whole chunk (up to 1 MiB) in the old generation. Everything this class keeps
 * across events goes through here, once per distinct name.
 */
function ownCopy(s: string): string {
  return (" " + s).slice(1);
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
  /** The next job of the same runId (a run has a few jobs). */
  next: JobEntry | null;
}

function isoOrNull(ms: number): string | null {
  return ms === -Infinity ? null : new Date(ms).toISOString();
}

export class Aggregator {
  private total = 0;
  private rejected = 0;
  private duplicates = 0;
  private started = 0;
  private completed = 0;
  private running = 0;
  private abandoned = 0;
  private readonly results = { succeeded: 0, failed: 0, cancelled: 0 };
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
  private latestMs = -Infinity;

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
    return lines;
  }

  /** One line of a file. */
  line(text: string): void {
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
    this.total++;
    if (ms > this.latestMs) this.latestMs = ms;
    const runner = this.runner(e.runner);
    if (ms > runner.lastEventMs) runner.lastEventMs = ms;
    if (e.type === "heartbeat") {
      if (ms > runner.lastHeartbeatMs) runner.lastHeartbeatMs = ms;
    } else if (e.type === "job_started") {
      this.jobStarted(e, ms, runner);
    } else {
      this.jobCompleted(e, ms, runner);
    }
  }

  private findJob(e: JobEvent, runner: RunnerState, repo: RepoStats, job: string): JobEntry | undefined {
    for (let j: JobEntry | null | undefined = this.jobs.get(e.runId); j; j = j.next) {
      if (j.runAttempt === e.runAttempt && j.runner === runner && j.repo === repo && j.job === job) return j;
    }
    return undefined;
  }

  private addJob(e: JobEvent, runner: RunnerState, repo: RepoStats, job: string, startMs: number, doneMs: number): JobEntry {
    const next = this.jobs.get(e.runId) ?? null;
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
      entry.next = next;
    } else {
      entry = { runId: e.runId, runAttempt: e.runAttempt, job, repo, runner, startMs, doneMs, next };
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
    const job = this.findJob(e, runner, repo, jobName);
    if (job && !Number.isNaN(job.startMs)) {
      this.duplicates++;
      return;
    }
    this.started++;
    runner.started++;
    repo.started++;
    this.noteLastJob(runner, e, ms);
    if (job) {
      // Its completion was read first (files are read one after another).
      job.startMs = ms;
      this.countDuration(job.doneMs - ms, runner);
      return;
    }
    this.addJob(e, runner, repo, jobName, ms, NaN);
    runner.running++;
    this.running++;
  }

  private jobCompleted(e: JobCompletedEvent, ms: number, runner: RunnerState): void {
    const repo = this.repo(e.repo);
    const jobName = this.jobName(e.job);
    let job = this.findJob(e, runner, repo, jobName);
    if (job && !Number.isNaN(job.doneMs)) {
      this.duplicates++;
      return;
    }
    if (job) {
      job.doneMs = ms;
      runner.running--;
      this.running--;
      this.countDuration(ms - job.startMs, runner);
    } else {
      job = this.addJob(e, runner, repo, jobName, NaN, ms);
    }
    this.rememberCompleted(job);
    const result = e.result;
    this.completed++;
    this.results[result]++;
    runner.completed++;
    runner[result]++;
    repo.completed++;
    repo[result]++;
    this.noteLastJob(runner, e, ms);
  }

  private countDuration(ms: number, runner: RunnerState): void {
    if (ms < 0) return; // clocks disagree: no honest duration
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
    runner.lastJobEvent = e;
  }

  private runner(name: string): RunnerState {
    let r = this.runners.get(name);
    if (!r) {
      r = {
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
      this.runners.set(ownCopy(name), r);
    }
    return r;
  }

  private repo(name: string): RepoStats {
    let r = this.repos.get(name);
    if (!r) {
      r = { started: 0, completed: 0, succeeded: 0, failed: 0, cancelled: 0 };
      this.repos.set(ownCopy(name), r);
    }
    return r;
  }

  private jobName(name: string): string {
    let own = this.jobNames.get(name);
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
      this.removeJob(j);
      j.runner.running--;
      this.running--;
      this.abandoned++;
    }
  }

  /** Turns the last job event read into its snapshot shape, letting go of the event (and its chunk). */
  private settleLastJob(r: RunnerState): LastJob | null {
    const e = r.lastJobEvent;
    if (e) {
      r.lastJobEvent = null;
      r.lastJob = {
        repo: ownCopy(e.repo),
        workflow: ownCopy(e.workflow),
        job: ownCopy(e.job),
        runId: e.runId,
        runAttempt: e.runAttempt,
        ...(e.type === "job_completed" ? { result: e.result } : {}),
        at: ownCopy(e.ts),
      };
    }
    return r.lastJob;
  }

  snapshot(generatedAt: Date, status: SnapshotStatus, aggregation: AggregationInfo): Snapshot {
    this.expireAbandoned();
    const runners: Record<string, RunnerStats> = Object.create(null);
    for (const [name, r] of [...this.runners].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
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
      };
    }
    const repos: Record<string, RepoStats> = Object.create(null);
    for (const [name, r] of [...this.repos].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      repos[name] = { ...r };
    }
    return {
      generatedAt: generatedAt.toISOString(),
      status,
      events: { total: this.total, rejected: this.rejected, duplicates: this.duplicates },
      jobs: {
        started: this.started,
        completed: this.completed,
        running: this.running,
        ...this.results,
        abandoned: this.abandoned,
      },
      durationSeconds: this.durations.summary(),
      runners,
      repos,
      aggregation,
    };
  }
}

export function compact(s: Snapshot): CompactSnapshot {
  let busyRunners = 0;
  for (const name in s.runners) if (s.runners[name]!.running > 0) busyRunners++;
  return {
    at: s.generatedAt,
    events: s.events.total,
    rejected: s.events.rejected,
    started: s.jobs.started,
    completed: s.jobs.completed,
    running: s.jobs.running,
    succeeded: s.jobs.succeeded,
    failed: s.jobs.failed,
    cancelled: s.jobs.cancelled,
    p50: s.durationSeconds.p50,
    p95: s.durationSeconds.p95,
    busyRunners,
  };
}
