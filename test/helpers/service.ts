/** Starting the stats service for tests: in-process, or as a real child process. */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { loadStatsConfig, type StatsConfig } from "../../service/config";
import { silentLogger } from "../../service/log";
import { startService, type RunningService } from "../../service/server";

export const TEST_TOKEN = "test-token-0123456789abcdef";
const ROOT = join(__dirname, "..", "..");

export function testConfig(dataDir: string, overrides: Partial<StatsConfig> = {}): StatsConfig {
  return { ...loadStatsConfig({}), port: 0, dataDir, ingestToken: TEST_TOKEN, intervalMs: 50, ...overrides };
}

export function startTestService(dataDir: string, overrides: Partial<StatsConfig> = {}): Promise<RunningService> {
  return startService(testConfig(dataDir, overrides), silentLogger);
}

/** Polls `check` every 10 ms until it returns a value, or fails after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ChildService {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A server in a child process, by default `npm start`'s program, with STATS_*
 * from `env`. TypeScript entries run under tsx, JavaScript (the esbuild
 * bundle) under plain node. Its URL is read from the log line it prints.
 */
export async function spawnService(
  env: Record<string, string>,
  entry = join(ROOT, "service", "main.ts"),
  nodeFlags: readonly string[] = [],
): Promise<ChildService> {
  const args = [...nodeFlags, ...(entry.endsWith(".ts") ? ["--import", "tsx", entry] : [entry])];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, STATS_PORT: "0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await waitFor(
    "the service to listen",
    () => {
      if (child.exitCode !== null) throw new Error(`service exited early: ${err}`);
      return /"url":"(http:[^"]+)"/.exec(err)?.[1];
    },
    20_000,
  );
  return { child, url, stderr: () => err, exited };
}
