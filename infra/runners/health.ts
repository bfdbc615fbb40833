/**
 * `npm run health -- --stats-url URL [--github-token-env VAR --repo OWNER/NAME] [--stack NAME]` (`--help`)
 *
 * One line per runner: its last heartbeat (from the stats service), its last
 * job, and GitHub's view of it when a token is given. Exit 0 when every
 * runner is healthy, 1 when one is not, 2 when the check itself cannot run
 * (bad arguments, stats service unreachable or still warming up, GitHub
 * refusing the token).
 *
 * Which runners: with --stack, the fleet that stack's config declares (its
 * stats URL and repository also become the defaults), which is the precise
 * answer after a scale-down; otherwise every runner the stats service or
 * GitHub knows. Unhealthy: no heartbeat, or none for --stale-after seconds
 * (default 300: the forwarder beats every minute and the snapshot lags up to
 * one 30 s pass); the heartbeat says the listener failed or that GitHub
 * refuses it (deleted, access denied, version outside GitHub's 30-day
 * window); GitHub says offline or does not know it; and, with
 * --stack, a runner in GitHub that the stack no longer declares (a ghost).
 *
 * Ephemeral runners: GitHub knows a runner per life (runner-01-<suffix>), the
 * stats service the slot (runner-01): each life's runner counts as its slot's
 * (the online one, busy first), and the controllers' own heartbeats
 * (cco-controller-<node>) are not runners (the stats service no longer lists
 * them among its runners; skipped here too, for a service of an older version).
 */
import { z } from "zod";
import { formatAge, formatDuration, STALE_AFTER_SECONDS } from "../../service/dashboard/view";
import { NAMESPACE, parseConfig } from "../config";
import { projectKeys, readStackFile } from "../stackfile";
import { parseCommandLine, runCli, UsageError, USAGE_EXIT, type CliSpec } from "../tools/cli";
import { isControllerName, isLifeOf } from "../controller/names";
import { githubApiUrl, listRunners, REPOSITORY_NAME, type GitHubRunner } from "./github-runner";

/** What a heartbeat says of the runner's listener: refused = it stopped with a code meaning GitHub refuses it (1, 7). */
export const LISTENER_STATES = ["running", "stopped", "failed", "refused"] as const;

/** The part of the stats snapshot this check reads (the service is another program: check, do not trust). */
const SnapshotSchema = z.object({
  generatedAt: z.string(),
  status: z.string(),
  runners: z.record(
    z.string(),
    z.object({
      running: z.number(),
      lastHeartbeatAt: z.string().nullable(),
      /** The runner service's listener as the last heartbeat saw it (forwarder.sh); absent from older services. */
      listener: z.enum(LISTENER_STATES).nullish(),
      listenerExitCode: z.number().int().nullish(),
      lastJob: z
        .object({ workflow: z.string(), job: z.string(), result: z.string().optional(), at: z.string() })
        .nullable(),
    }),
  ),
});
export type HealthSnapshot = z.infer<typeof SnapshotSchema>;

export interface RunnerHealth {
  name: string;
  healthy: boolean;
  /** Human-readable columns: heartbeat, last job, GitHub. */
  heartbeat: string;
  lastJob: string;
  github: string;
  problems: string[];
}

export interface AssessOptions {
  now: number;
  staleAfterS: number;
  /** The runners the stack declares, when known. */
  expected?: string[];
  /** GitHub's runners, when a token was given. */
  github?: GitHubRunner[];
}

/**
 * GitHub's runners by the slot they stand for: a runner of a slot's lives
 * (ephemeral) is that slot's; of several, the one that tells most (online and
 * busy, then online, then the newest).
 */
export function bySlot(runners: GitHubRunner[], slots: string[]): Map<string, GitHubRunner> {
  const rank = (r: GitHubRunner) => (r.status === "online" ? (r.busy ? 2 : 1) : 0);
  const out = new Map<string, GitHubRunner>();
  for (const r of runners) {
    const slot = slots.find((s) => isLifeOf(r.name, s)) ?? r.name;
    const had = out.get(slot);
    if (!had || rank(r) > rank(had) || (rank(r) === rank(had) && r.id > had.id)) out.set(slot, r);
  }
  return out;
}

/** Judges every runner; plain data in, plain data out (tested without servers). */
export function assess(snapshot: HealthSnapshot, o: AssessOptions): RunnerHealth[] {
  const inStats = Object.keys(snapshot.runners).filter((n) => !isControllerName(n));
  const byGitHub = bySlot(o.github ?? [], [...(o.expected ?? []), ...inStats]);
  const names = o.expected
    ? [...new Set([...o.expected, ...byGitHub.keys()])]
    : [...new Set([...inStats, ...byGitHub.keys()])];
  return names.sort().map((name) => {
    const stats = snapshot.runners[name];
    const gh = byGitHub.get(name);
    const problems: string[] = [];
    const ghost = o.expected !== undefined && !o.expected.includes(name);

    let heartbeat = "no heartbeat";
    const beat = stats?.lastHeartbeatAt ? Date.parse(stats.lastHeartbeatAt) : NaN;
    if (Number.isNaN(beat)) {
      if (!ghost) problems.push("no heartbeat ever");
    } else {
      heartbeat = `heartbeat ${formatAge((o.now - beat) / 1000)}`;
      if (o.now - beat > o.staleAfterS * 1000 && !ghost)
        problems.push(`heartbeat older than ${formatDuration(o.staleAfterS)}`);
    }

    const listener = stats?.listener;
    if (listener) {
      const code = stats?.listenerExitCode ?? null;
      heartbeat +=
        listener === "running"
          ? ", listener running"
          : `, listener ${listener}${code === null ? "" : ` (exit ${code})`}`;
      if (listener === "refused" && !ghost) {
        problems.push(
          `the listener stopped: GitHub refuses this runner (exit ${code ?? "?"}: deleted, access denied or version too old)`,
        );
      } else if (listener === "failed" && !ghost) {
        problems.push(`the listener failed${code === null ? "" : ` (exit ${code})`}`);
      }
    }

    let lastJob = "no job yet";
    if (stats?.lastJob) {
      const j = stats.lastJob;
      lastJob = `last job ${j.workflow}/${j.job} ${j.result ?? "running"} ${formatAge((o.now - Date.parse(j.at)) / 1000)}`;
    }

    let github = "github: not checked";
    if (o.github) {
      if (!gh) {
        github = "github: not registered";
        if (!ghost) problems.push("not registered in GitHub");
      } else {
        github = gh.status === "online" ? `github: online, ${gh.busy ? "busy" : "idle"}` : `github: ${gh.status}`;
        if (gh.name !== name) github += ` as ${gh.name}`;
        if (gh.status !== "online") problems.push(`GitHub says ${gh.status}`);
      }
    }
    if (ghost && gh)
      problems.push("registered in GitHub but not declared by the stack (a ghost: pulumi up removes it)");
    return { name, healthy: problems.length === 0, heartbeat, lastJob, github, problems };
  });
}

export function formatReport(rows: RunnerHealth[]): string {
  const width = Math.max(6, ...rows.map((r) => r.name.length));
  const hb = Math.max(...rows.map((r) => r.heartbeat.length), 0);
  const job = Math.max(...rows.map((r) => r.lastJob.length), 0);
  return rows
    .map((r) =>
      [
        r.name.padEnd(width),
        (r.healthy ? "ok" : "UNHEALTHY").padEnd(9),
        r.heartbeat.padEnd(hb),
        r.lastJob.padEnd(job),
        r.github,
        r.problems.length ? `  <- ${r.problems.join("; ")}` : "",
      ]
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export interface HealthArgs {
  statsUrl?: string;
  tokenEnv?: string;
  repo?: string;
  stack?: string;
  staleAfterS: number;
}

export const HEALTH_CLI = {
  command: "npm run health --",
  summary:
    "One line per runner: last heartbeat, last job, GitHub's view. Exit 0 healthy, 1 unhealthy, 2 the check could not run.",
  options: {
    "stats-url": { type: "string", value: "URL", description: "the stats service (default with --stack: the stack's)" },
    "github-token-env": {
      type: "string",
      value: "VAR",
      description: "the environment variable holding a GitHub token (with --repo)",
    },
    repo: { type: "string", value: "OWNER/NAME", description: "the repository the runners are registered with" },
    stack: {
      type: "string",
      value: "NAME",
      description: "take the runners, stats URL and repository from Pulumi.<NAME>.yaml",
    },
    "stale-after": {
      type: "string",
      value: "SECONDS",
      description: `a heartbeat older than this is unhealthy (default ${STALE_AFTER_SECONDS})`,
    },
  },
} satisfies CliSpec;

export function parseHealthArgs(argv: string[]): HealthArgs {
  const { values: v } = parseCommandLine(HEALTH_CLI, argv);
  const stale = v["stale-after"];
  if (stale !== undefined && (!/^\d+$/.test(stale) || Number(stale) < 1))
    throw new UsageError(`--stale-after must be a whole number of seconds, got ${stale}`);
  return {
    statsUrl: v["stats-url"],
    tokenEnv: v["github-token-env"],
    repo: v.repo,
    stack: v.stack,
    staleAfterS: stale !== undefined ? Number(stale) : STALE_AFTER_SECONDS,
  };
}

async function fetchSnapshot(statsUrl: string): Promise<HealthSnapshot> {
  const url = `${statsUrl.replace(/\/+$/, "")}/api/stats`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as Error).cause;
    throw new Error(
      `stats service unreachable at ${url}: ${cause instanceof Error ? String(cause) : (err as Error).message}`,
      { cause: err },
    );
  }
  if (res.status !== 200) throw new Error(`stats service at ${url} answered HTTP ${res.status}`);
  const parsed = SnapshotSchema.safeParse(await res.json());
  if (!parsed.success)
    throw new Error(`stats service at ${url} answered a snapshot without runners: ${parsed.error.issues[0]?.message}`);
  if (parsed.data.status === "warming_up")
    throw new Error("stats service is still warming up (no aggregation pass yet): try again in a minute");
  return parsed.data;
}

/** Runs the check; returns the exit code. */
export async function runHealth(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  const a = parseHealthArgs(argv);
  let expected: string[] | undefined;
  let stackApi: string | undefined;
  if (a.stack) {
    const values = readStackFile(a.stack).values;
    const c = parseConfig(projectKeys(values, NAMESPACE));
    expected = c.runners.instances.map((r) => r.name);
    stackApi = c.runners.githubApiUrl;
    a.statsUrl ??= `http://${c.stats.ip}:${c.stats.port}`;
    if (a.tokenEnv && values["github:owner"]) a.repo ??= `${values["github:owner"]}/${c.repository.name}`;
  }
  if (!a.statsUrl) throw new UsageError("--stats-url is required (or --stack)");
  if ((a.tokenEnv === undefined) !== (a.repo === undefined))
    throw new UsageError("--github-token-env and --repo go together");
  if (a.repo !== undefined && !REPOSITORY_NAME.test(a.repo))
    throw new UsageError(`--repo must be OWNER/NAME, got ${a.repo}`);

  const token = a.tokenEnv ? env[a.tokenEnv] : undefined;
  if (a.tokenEnv && !token)
    throw new UsageError(`environment variable ${a.tokenEnv} (--github-token-env) is empty or not set`);

  const snapshot = await fetchSnapshot(a.statsUrl);
  let github: GitHubRunner[] | undefined;
  if (token && a.repo) {
    // The stack's GitHub (githubServerUrl), unless GITHUB_API_URL says otherwise.
    github = await listRunners({
      token,
      repository: a.repo,
      api: env.GITHUB_API_URL || !stackApi ? githubApiUrl(env) : stackApi,
    });
  }
  const rows = assess(snapshot, { now: Date.now(), staleAfterS: a.staleAfterS, expected, github });
  if (rows.length === 0) {
    out("no runners known: none declared, none in the stats service or GitHub");
    return 1;
  }
  out(formatReport(rows));
  const bad = rows.filter((r) => !r.healthy).length;
  out(bad ? `${bad} of ${rows.length} runners unhealthy` : `all ${rows.length} runners healthy`);
  return bad ? 1 : 0;
}

if (require.main === module) {
  runCli("health", async () => {
    try {
      return await runHealth(process.argv.slice(2), process.env, (s) => process.stdout.write(`${s}\n`));
    } catch (err) {
      if (err instanceof UsageError) throw err;
      // The check could not run (stats service unreachable or warming up, GitHub refusing): say why, exit 2.
      process.stderr.write(`health: ${err instanceof Error ? err.message : String(err)}\n`);
      return USAGE_EXIT;
    }
  });
}
