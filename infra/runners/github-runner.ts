/**
 * The GitHub side of a runner's life, run on the operator's machine by the
 * Pulumi program (command.local.Command), with the operator's token:
 *
 *   mint         print a fresh registration token (create step of a runner)
 *   deregister   remove the runner from GitHub (delete step, before its container goes)
 *   retire-lives ephemeral mode: remove every runner of RUNNER_NAME's lives
 *                (RUNNER_NAME-<suffix>, the controller's names), before its container goes
 *
 * Environment: GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), RUNNER_NAME, and
 * for deregister RUNNER_ID (from the registration) when known.
 * GITHUB_API_URL points at another API (GitHub Enterprise, or a test fake).
 *
 * Deregistration runs after the container's drain.sh stopped the listener
 * (it waits for the running job first). It removes the runner's custom
 * labels, tolerates a runner already gone (404, or no runner of that name),
 * retries while GitHub answers 422 (the runner is running a job) for
 * at most DEREGISTER_TIMEOUT_S seconds (default 600), and then puts the labels
 * back and fails with a clear message instead of waiting forever: the
 * container is then kept, so no runner is left "offline" in GitHub; `pulumi
 * up` again once the job is done.
 */
import { isLifeOf } from "../controller/names";

export interface GitHubEnv {
  token: string;
  repository: string;
  api: string;
}

export class GitHubError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

/** owner/name, as GitHub names a repository. */
export const REPOSITORY_NAME = /^[^/\s]+\/[^/\s]+$/;

/** The REST API's base URL: GITHUB_API_URL (GitHub Enterprise, a test fake) or github.com's. */
export function githubApiUrl(environment: NodeJS.ProcessEnv = process.env): string {
  return (environment.GITHUB_API_URL ?? "https://api.github.com").replace(/\/+$/, "");
}

export function githubEnv(): GitHubEnv {
  const repository = env("GITHUB_REPOSITORY");
  if (!REPOSITORY_NAME.test(repository)) throw new Error(`GITHUB_REPOSITORY must be owner/name, got ${repository}`);
  return { token: env("GITHUB_TOKEN"), repository, api: githubApiUrl() };
}

async function call(
  gh: GitHubEnv,
  method: string,
  path: string,
  json?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${gh.api}/repos/${gh.repository}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${gh.token}`,
      Accept: "application/vnd.github+json",
      "X-GitHub-Api-Version": "2022-11-28",
      "User-Agent": "cco-infra",
      ...(json === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text for the message
  }
  return { status: res.status, body };
}

function describe(body: unknown): string {
  const text = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));
  return typeof body === "object" && body && "message" in body ? text(body.message) : text(body);
}

/** A registration token (valid one hour), for config.sh. */
export async function mintRegistrationToken(gh: GitHubEnv): Promise<string> {
  const r = await call(gh, "POST", "/actions/runners/registration-token");
  if (r.status !== 201) throw new GitHubError(`registration token: HTTP ${r.status} ${describe(r.body)}`, r.status);
  const token = (r.body as { token?: unknown }).token;
  if (typeof token !== "string" || !token)
    throw new GitHubError("registration token: no token in the answer", r.status);
  return token;
}

/** A runner as GitHub lists it. */
export interface GitHubRunner {
  id: number;
  name: string;
  /** "online" or "offline". */
  status: string;
  busy: boolean;
}

/** Every self-hosted runner of the repository (100 a page, at most 50 pages). */
export async function listRunners(gh: GitHubEnv): Promise<GitHubRunner[]> {
  const all: GitHubRunner[] = [];
  for (let page = 1; page <= 50; page++) {
    const r = await call(gh, "GET", `/actions/runners?per_page=100&page=${page}`);
    if (r.status !== 200) throw new GitHubError(`list runners: HTTP ${r.status} ${describe(r.body)}`, r.status);
    const runners = (r.body as { runners?: GitHubRunner[] }).runners ?? [];
    all.push(...runners.map(({ id, name, status, busy }) => ({ id, name, status, busy })));
    if (runners.length < 100) break;
  }
  return all;
}

/** The runner's id by name, or undefined if GitHub has no runner of that name. */
export async function findRunnerId(gh: GitHubEnv, name: string): Promise<number | undefined> {
  return (await listRunners(gh)).find((x) => x.name === name)?.id;
}

export interface DeregisterOptions {
  name: string;
  /** The id recorded at registration; looked up by name when absent. */
  id?: number;
  timeoutMs: number;
  retryEveryMs: number;
  log: (line: string) => void;
}

export type DeregisterOutcome = "removed" | "already gone";

export async function deregister(gh: GitHubEnv, o: DeregisterOptions): Promise<DeregisterOutcome> {
  const id = o.id ?? (await findRunnerId(gh, o.name));
  if (id === undefined) {
    o.log(`${o.name}: no such runner in ${gh.repository}; nothing to remove`);
    return "already gone";
  }
  // Its custom labels, to put back if it cannot be removed.
  const current = await call(gh, "GET", `/actions/runners/${id}`);
  if (current.status === 404) {
    o.log(`${o.name}: runner ${id} is already gone`);
    return "already gone";
  }
  const custom = ((current.body as { labels?: Array<{ name: string; type?: string }> } | undefined)?.labels ?? [])
    .filter((l) => l.type === "custom")
    .map((l) => l.name);
  // Out of rotation for workflows that ask for a custom label (the configured
  // ones, its own name). A workflow asking only for self-hosted still reaches
  // it: the container's drain.sh, run before this, stopped its listener.
  const unlabel = await call(gh, "DELETE", `/actions/runners/${id}/labels`);
  if (unlabel.status === 404) {
    o.log(`${o.name}: runner ${id} is already gone`);
    return "already gone";
  }
  if (unlabel.status !== 200)
    o.log(
      `${o.name}: could not remove its labels (HTTP ${unlabel.status} ${describe(unlabel.body)}); removing it anyway`,
    );
  const deadline = Date.now() + o.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const r = await call(gh, "DELETE", `/actions/runners/${id}`);
    if (r.status === 204) {
      o.log(`${o.name}: removed runner ${id} from ${gh.repository}`);
      return "removed";
    }
    if (r.status === 404) {
      o.log(`${o.name}: runner ${id} is already gone`);
      return "already gone";
    }
    if (r.status !== 422) throw new GitHubError(`remove runner ${id}: HTTP ${r.status} ${describe(r.body)}`, r.status);
    if (Date.now() + o.retryEveryMs > deadline) {
      // Back in rotation as it was: it stays, so it should keep its labels.
      if (custom.length > 0) {
        const restore = await call(gh, "PUT", `/actions/runners/${id}/labels`, { labels: custom });
        o.log(
          restore.status === 200
            ? `${o.name}: labels ${custom.join(",")} restored`
            : `${o.name}: could not restore labels ${custom.join(",")} (HTTP ${restore.status})`,
        );
      }
      throw new GitHubError(
        `${o.name}: runner ${id} is still running a job after ${Math.round(o.timeoutMs / 1000)} s; its container is kept so that ` +
          "no offline runner is left in GitHub. Let the job finish (or cancel it), then run pulumi up again.",
        422,
      );
    }
    o.log(`${o.name}: runner ${id} is busy (attempt ${attempt}); retrying in ${Math.round(o.retryEveryMs / 1000)} s`);
    await new Promise((r2) => setTimeout(r2, o.retryEveryMs));
  }
}

/**
 * Ephemeral mode's removal of a slot: every runner of its lives GitHub still
 * has (an idle one the controller did not remove, a busy one: waited for as
 * deregister waits, until its job ends and GitHub removes it).
 */
export async function retireLives(
  gh: GitHubEnv,
  slot: string,
  o: Omit<DeregisterOptions, "name" | "id">,
): Promise<DeregisterOutcome[]> {
  const lives = (await listRunners(gh)).filter((r) => isLifeOf(r.name, slot));
  if (lives.length === 0) o.log(`${slot}: no runner of its lives in ${gh.repository}`);
  const out: DeregisterOutcome[] = [];
  for (const r of lives) out.push(await deregister(gh, { ...o, name: r.name, id: r.id }));
  return out;
}

async function main(command: string | undefined): Promise<void> {
  const gh = githubEnv();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (command === "mint") {
    // stdout carries only the token: Pulumi keeps it as a secret output.
    process.stdout.write(await mintRegistrationToken(gh));
    return;
  }
  if (command === "deregister") {
    const rawId = process.env.RUNNER_ID;
    await deregister(gh, {
      name: env("RUNNER_NAME"),
      id: rawId && /^\d+$/.test(rawId) ? Number(rawId) : undefined,
      timeoutMs: Number(process.env.DEREGISTER_TIMEOUT_S ?? 600) * 1000,
      retryEveryMs: Number(process.env.DEREGISTER_RETRY_S ?? 15) * 1000,
      log,
    });
    return;
  }
  if (command === "retire-lives") {
    await retireLives(gh, env("RUNNER_NAME"), {
      timeoutMs: Number(process.env.DEREGISTER_TIMEOUT_S ?? 600) * 1000,
      retryEveryMs: Number(process.env.DEREGISTER_RETRY_S ?? 15) * 1000,
      log,
    });
    return;
  }
  throw new Error("usage: github-runner.ts mint|deregister|retire-lives");
}

if (require.main === module) {
  main(process.argv[2]).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
