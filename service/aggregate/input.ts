/**
 * What the main thread hands each pass besides the files. No Node APIs here:
 * the dashboard's browser bundle reads these types too.
 */
/** What the main thread hands a pass: facts aggregation cannot read from the files. */
export interface PassInput {
  /** What POST /api/events refused since the service started, by reason. */
  ingestRefused?: Record<string, number>;
  /** The runners the stack declares now (STATS_RUNNERS, or those holding a credential); absent: unchanged. */
  declaredRunners?: string[] | null;
  /** GitHub's view, when the service polls it (see service/github.ts). */
  github?: GitHubInput;
}

/** The jobs GitHub reported, reduced to what aggregation needs. */
export interface GitHubInput {
  /** When the last poll ended, and whether it worked. */
  polledAt: string | null;
  error: string | null;
  /** Jobs waiting for a runner now (queued). */
  waiting: number;
  /** [startedAt ms, seconds queued] of jobs that started. */
  queueTimes: Array<[number, number]>;
  /** Completed jobs: repo, runId, runAttempt, runner, job name, result in the hooks' words. */
  completed: Array<{ repo: string; runId: number; runAttempt: number; runner: string; job: string; result: string }>;
  requests: number;
  notModified: number;
  rateLimitRemaining: number | null;
}
