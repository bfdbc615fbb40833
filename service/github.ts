/**
 * Results and times from GitHub itself: with a read-only token (fine-grained,
 * Actions: read on the repositories), the service polls the jobs of recent
 * workflow runs and hands them to each aggregation pass, which takes queue
 * times (created -> started) and jobs waiting now from them, and compares
 * their conclusions with the hooks' events (a mismatch is counted and shown).
 *
 * REST API used (https://docs.github.com/en/rest/actions/workflow-runs and
 * .../workflow-jobs, API version 2022-11-28; schemas "workflow-run" and "job"
 * of github/rest-api-description, descriptions/api.github.com):
 *   GET /repos/{owner}/{repo}/actions/runs?per_page=N        -> { total_count, workflow_runs: [{ id, ... }] }
 *   GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?per_page=100&page=P
 *       -> { total_count, jobs: [{ id, run_id, run_attempt, status, conclusion, created_at, started_at,
 *            completed_at, name, labels, runner_name }] }, paged by the Link header (rel="next").
 * Bounded: the newest MAX_RUNS runs per repository, MAX_JOB_PAGES pages of
 * jobs per run. Conditional: each URL's ETag is sent back as If-None-Match,
 * and a 304 (which GitHub does not count against the rate limit) reuses what
 * was read. Within the rate limit: below RATE_RESERVE remaining requests it
 * waits for x-ratelimit-reset.
 */
import type { GitHubInput } from "./aggregate/input";
import type { Logger } from "./log";

export const MAX_RUNS = 20;
export const MAX_JOB_PAGES = 3;
export const RATE_RESERVE = 100;
const API_VERSION = "2022-11-28";

export interface GitHubConfig {
  token: string;
  repos: string[];
  apiUrl: string;
  intervalMs: number;
}

interface Run {
  id: number;
}
interface Job {
  run_id: number;
  run_attempt?: number;
  status: string;
  conclusion: string | null;
  created_at: string;
  started_at: string | null;
  name: string;
  labels?: string[];
  runner_name: string | null;
}

/** GitHub's conclusion in the hooks' words, or null when the hooks have none for it (skipped, neutral...). */
export function hookResult(conclusion: string | null): string | null {
  if (conclusion === "success") return "succeeded";
  if (conclusion === "failure" || conclusion === "timed_out" || conclusion === "startup_failure") return "failed";
  if (conclusion === "cancelled") return "cancelled";
  return null;
}

/** Jobs GitHub has not given a runner yet. */
const WAITING = new Set(["queued", "waiting", "pending", "requested"]);

export class GitHubPoller {
  private readonly cache = new Map<string, { etag: string; body: unknown; next: string | null }>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private requests = 0;
  private notModified = 0;
  private rateRemaining: number | null = null;
  private rateResetMs = 0;
  private latest: GitHubInput = {
    polledAt: null,
    error: null,
    waiting: 0,
    queueTimes: [],
    completed: [],
    requests: 0,
    notModified: 0,
    rateLimitRemaining: null,
  };
  private running: Promise<void> | null = null;

  constructor(
    private readonly config: GitHubConfig,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** What the next pass is handed. */
  input(): GitHubInput {
    return this.latest;
  }

  start(): void {
    const loop = () => {
      this.running = this.poll().finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(loop, this.config.intervalMs);
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One poll of every repository; never throws (the error is shown on the dashboard). */
  async poll(): Promise<void> {
    try {
      if (this.rateRemaining !== null && this.rateRemaining < RATE_RESERVE && this.now() < this.rateResetMs) {
        throw new Error(
          `rate limit nearly used (${this.rateRemaining} left): waiting until ${new Date(this.rateResetMs).toISOString()}`,
        );
      }
      const jobs: Array<Job & { repo: string }> = [];
      for (const repo of this.config.repos) {
        const runs =
          ((await this.get(`/repos/${repo}/actions/runs?per_page=${MAX_RUNS}`)).body as { workflow_runs?: Run[] })
            .workflow_runs ?? [];
        const keep = new Set<string>();
        for (const run of runs.slice(0, MAX_RUNS)) {
          let url: string | null = `/repos/${repo}/actions/runs/${run.id}/jobs?per_page=100`;
          for (let page = 0; url !== null && page < MAX_JOB_PAGES; page++) {
            keep.add(url);
            const res: { body: unknown; next: string | null } = await this.get(url);
            for (const j of (res.body as { jobs?: Job[] }).jobs ?? []) jobs.push({ ...j, repo });
            url = res.next;
          }
        }
        // Only the runs still in view stay cached: the cache is bounded too.
        for (const key of this.cache.keys())
          if (key.startsWith(`/repos/${repo}/actions/runs/`) && !keep.has(key)) this.cache.delete(key);
      }
      this.latest = { ...this.summarize(jobs), polledAt: new Date(this.now()).toISOString(), error: null };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn("GitHub poll failed; the last good answer stays", { error: message });
      this.latest = {
        ...this.latest,
        error: message,
        requests: this.requests,
        notModified: this.notModified,
        rateLimitRemaining: this.rateRemaining,
      };
    }
  }

  private summarize(jobs: Array<Job & { repo: string }>): Omit<GitHubInput, "polledAt" | "error"> {
    let waiting = 0;
    const queueTimes: Array<[number, number]> = [];
    const completed: GitHubInput["completed"] = [];
    for (const j of jobs) {
      // Only jobs for self-hosted runners: GitHub-hosted ones queue elsewhere.
      if (!(j.labels ?? []).includes("self-hosted")) continue;
      if (WAITING.has(j.status)) waiting++;
      const created = Date.parse(j.created_at);
      const started = j.started_at ? Date.parse(j.started_at) : NaN;
      if (!WAITING.has(j.status) && started >= created) queueTimes.push([started, (started - created) / 1000]);
      const result = hookResult(j.conclusion);
      if (j.status === "completed" && result !== null && j.runner_name) {
        completed.push({
          repo: j.repo,
          runId: j.run_id,
          runAttempt: j.run_attempt ?? 1,
          runner: j.runner_name,
          job: j.name,
          result,
        });
      }
    }
    return {
      waiting,
      queueTimes,
      completed,
      requests: this.requests,
      notModified: this.notModified,
      rateLimitRemaining: this.rateRemaining,
    };
  }

  /** A GET with the cached ETag; a 304 answers from the cache. */
  private async get(path: string): Promise<{ body: unknown; next: string | null }> {
    const cached = this.cache.get(path);
    const headers: Record<string, string> = {
      Accept: "application/vnd.github+json",
      Authorization: `Bearer ${this.config.token}`,
      "X-GitHub-Api-Version": API_VERSION,
      "User-Agent": "cco-stats",
    };
    if (cached) headers["If-None-Match"] = cached.etag;
    this.requests++;
    const res = await fetch(`${this.config.apiUrl}${path}`, { headers, signal: AbortSignal.timeout(10_000) });
    const remaining = res.headers.get("x-ratelimit-remaining");
    if (remaining !== null) this.rateRemaining = Number(remaining);
    const reset = res.headers.get("x-ratelimit-reset");
    if (reset !== null) this.rateResetMs = Number(reset) * 1000;
    if (res.status === 304 && cached) {
      this.notModified++;
      return cached;
    }
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}`);
    const body: unknown = await res.json();
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1] ?? null;
    // The next page's URL is absolute: keep its path, so a test's base URL works too.
    const nextPath =
      next === null
        ? null
        : next.startsWith(this.config.apiUrl)
          ? next.slice(this.config.apiUrl.length)
          : new URL(next).pathname + new URL(next).search;
    const etag = res.headers.get("etag");
    const entry = { etag: etag ?? "", body, next: nextPath };
    if (etag) this.cache.set(path, entry);
    return entry;
  }
}
