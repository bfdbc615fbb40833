/**
 * The service's environment (DESIGN.md, "Stats service HTTP API"), parsed once
 * at start. A bad value stops the service with a message naming the variable.
 */
import { z } from "zod";

export interface StatsConfig {
  /** Address to bind: loopback unless deliberately set (never "" = every interface). */
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  dataDir: string;
  /** Bearer token for `POST /api/events`; unset: generated once and kept in the data dir. */
  ingestToken: string | undefined;
  intervalMs: number;
  historyLimit: number;
  /** Where passes run: the main thread in short steps (default) or a worker thread. */
  aggregation: "worker" | "inline";
  /** Old-generation limit of the aggregation worker, in MB. */
  workerHeapMb: number;
  /** STATS_RUNNERS: the runners the stack declares (others show as removed); null when not given. */
  runners: string[] | null;
  /**
   * STATS_CREDENTIALS_FILE: per-runner ingest credentials (hashes), re-read
   * when it changes; null when not given (then only STATS_INGEST_TOKEN).
   */
  credentialsFile: string | null;
  /** GitHub polling (service/github.ts): on when STATS_GITHUB_TOKEN and STATS_GITHUB_REPOS are set. */
  github: { token: string; repos: string[]; apiUrl: string; intervalMs: number } | null;
}

export const DEFAULTS = {
  STATS_HOST: "127.0.0.1",
  STATS_PORT: "8080",
  STATS_DATA_DIR: "./.data/stats",
  STATS_INTERVAL_MS: "30000",
  STATS_HISTORY_LIMIT: "3600",
  STATS_AGGREGATION: "inline",
  STATS_WORKER_HEAP_MB: "128",
  STATS_GITHUB_API_URL: "https://api.github.com",
  STATS_GITHUB_INTERVAL_MS: "60000",
} as const;

const intIn = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

const schema = z.object({
  STATS_HOST: z.string().trim().min(1, "must name an address (an empty one would listen on every interface)"),
  STATS_PORT: intIn(0, 65535),
  STATS_DATA_DIR: z.string().min(1, "must name a directory"),
  STATS_INGEST_TOKEN: z.string().min(1, "must not be empty (unset it to generate one)").optional(),
  STATS_INTERVAL_MS: intIn(10, 24 * 3600 * 1000),
  STATS_HISTORY_LIMIT: intIn(1, 1_000_000),
  STATS_AGGREGATION: z.enum(["inline", "worker"]),
  STATS_WORKER_HEAP_MB: intIn(32, 16384),
  STATS_RUNNERS: z
    .string()
    .regex(/^[^\s,]{1,256}(,[^\s,]{1,256})*$/, "must be runner names separated by commas, without spaces")
    .optional(),
  STATS_CREDENTIALS_FILE: z.string().min(1, "must name a file (unset it to use only STATS_INGEST_TOKEN)").optional(),
  STATS_GITHUB_TOKEN: z.string().min(1, "must not be empty (unset it to poll nothing)").optional(),
  STATS_GITHUB_REPOS: z
    .string()
    .regex(/^[^/\s,]+\/[^/\s,]+(,[^/\s,]+\/[^/\s,]+)*$/, "must be owner/name repositories separated by commas")
    .optional(),
  STATS_GITHUB_API_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, "must be an http(s) URL")
    .transform((u) => u.replace(/\/+$/, "")),
  STATS_GITHUB_INTERVAL_MS: intIn(1000, 24 * 3600 * 1000),
});

/** Variables without a default. */
const OPTIONAL_KEYS = [
  "STATS_INGEST_TOKEN",
  "STATS_RUNNERS",
  "STATS_CREDENTIALS_FILE",
  "STATS_GITHUB_TOKEN",
  "STATS_GITHUB_REPOS",
];
/** Never shown in a message. */
const SECRET_KEYS = new Set(["STATS_INGEST_TOKEN", "STATS_GITHUB_TOKEN"]);

export class ConfigError extends Error {}

export function loadStatsConfig(env: NodeJS.ProcessEnv = process.env): StatsConfig {
  const input: Record<string, string | undefined> = { ...DEFAULTS };
  for (const key of [...Object.keys(DEFAULTS), ...OPTIONAL_KEYS]) {
    if (env[key] !== undefined) input[key] = env[key];
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]);
    const shown = SECRET_KEYS.has(key) ? "(hidden)" : JSON.stringify(input[key]);
    throw new ConfigError(`${key}=${shown} ${issue.message}`);
  }
  const c = parsed.data;
  return {
    host: c.STATS_HOST,
    port: c.STATS_PORT,
    dataDir: c.STATS_DATA_DIR,
    ingestToken: c.STATS_INGEST_TOKEN,
    intervalMs: c.STATS_INTERVAL_MS,
    historyLimit: c.STATS_HISTORY_LIMIT,
    aggregation: c.STATS_AGGREGATION,
    workerHeapMb: c.STATS_WORKER_HEAP_MB,
    runners: c.STATS_RUNNERS === undefined ? null : [...new Set(c.STATS_RUNNERS.split(","))],
    credentialsFile: c.STATS_CREDENTIALS_FILE ?? null,
    github:
      c.STATS_GITHUB_TOKEN && c.STATS_GITHUB_REPOS
        ? {
            token: c.STATS_GITHUB_TOKEN,
            repos: c.STATS_GITHUB_REPOS.split(","),
            apiUrl: c.STATS_GITHUB_API_URL,
            intervalMs: c.STATS_GITHUB_INTERVAL_MS,
          }
        : null,
  };
}
