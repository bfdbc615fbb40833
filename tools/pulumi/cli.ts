/**
 * The real Pulumi CLI built by tools/pulumi/build.sh, run on a local file
 * backend in a workspace of its own: a project directory that holds copies of
 * Pulumi.yaml and the stack files (the CLI rewrites a stack file on
 * `stack init` and `config set`; the committed ones are never touched) and
 * links to the rest of the repository, a state directory for the backend, and
 * a PULUMI_HOME. Used by `npm run engine` and by the engine test layer.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const PROJECT_ROOT = resolve(__dirname, "..", "..");
export const BUILD_SCRIPT = join(PROJECT_ROOT, "tools", "pulumi", "build.sh");
/** Holds pulumi-analyzer-policy-nodejs, which starts a Node.js policy pack without a language host; first on the CLI's PATH. */
export const ANALYZER_DIR = join(PROJECT_ROOT, "tools", "pulumi", "analyzer");

/** Where build.sh puts the CLI for the pins in tools/pulumi/go.mod, and whether it is there. */
export function pulumiCli(): { path: string; built: boolean } {
  const r = spawnSync("bash", [BUILD_SCRIPT, "--path"], { encoding: "utf8" });
  if (r.status !== 0 && r.status !== 3) throw new Error(`${BUILD_SCRIPT} --path failed: ${r.stderr.trim()}`);
  return { path: r.stdout.trim(), built: r.status === 0 };
}

export const NOT_BUILT = "the Pulumi CLI is not built here: run tools/pulumi/build.sh (a cold build takes minutes)";

export interface Workspace {
  /** Holds project/, state/ and home/. */
  dir: string;
  /** Where the CLI runs: copies of Pulumi*.yaml, links to everything else. */
  projectDir: string;
  /** The file backend's directory. */
  stateDir: string;
  /** The CLI's environment. */
  env: NodeJS.ProcessEnv;
}

export interface WorkspaceOptions {
  /** Reused when it already holds a workspace; a fresh temporary one otherwise. */
  dir?: string;
  /** Secrets passphrase (PULUMI_CONFIG_PASSPHRASE); without it the CLI asks. */
  passphrase?: string;
  /** Plugins and workspace settings; default: dir/home (no plugin of the machine is seen). */
  pulumiHome?: string;
  /** PATH the CLI sees (where it looks for language hosts and plugins) after ANALYZER_DIR; default: the caller's. */
  path?: string;
  /** Environment to start from; default: process.env. */
  baseEnv?: NodeJS.ProcessEnv;
}

/** Environment variables of the caller the CLI must not see: they point it at other backends or accounts. */
const DROPPED = [
  "PULUMI_ACCESS_TOKEN",
  "PULUMI_BACKEND_URL",
  "PULUMI_API",
  "PULUMI_STACK",
  "PULUMI_CONFIG_PASSPHRASE_FILE",
];

export function createWorkspace(opts: WorkspaceOptions = {}): Workspace {
  const dir = opts.dir ? resolve(opts.dir) : mkdtempSync(join(tmpdir(), "cco-engine-"));
  const projectDir = join(dir, "project");
  const stateDir = join(dir, "state");
  const home = opts.pulumiHome ?? join(dir, "home");
  for (const d of [stateDir, home]) mkdirSync(d, { recursive: true });
  if (!existsSync(projectDir)) {
    mkdirSync(projectDir);
    for (const entry of readdirSync(PROJECT_ROOT)) {
      if (entry === ".git") continue;
      const from = join(PROJECT_ROOT, entry);
      if (/^Pulumi(\.[^.]+)?\.yaml$/.test(entry)) copyFileSync(from, join(projectDir, entry));
      else symlinkSync(from, join(projectDir, entry));
    }
  }
  const env: NodeJS.ProcessEnv = { ...(opts.baseEnv ?? process.env) };
  for (const k of DROPPED) delete env[k];
  Object.assign(env, {
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_HOME: home,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  });
  if (opts.passphrase !== undefined) env.PULUMI_CONFIG_PASSPHRASE = opts.passphrase;
  env.PATH = [ANALYZER_DIR, opts.path ?? env.PATH].filter(Boolean).join(":");
  return { dir, projectDir, stateDir, env };
}

export interface RunOptions {
  /** Written to the CLI's stdin (how secrets are set without showing them in argv). */
  input?: string;
  /** Inherit the terminal instead of capturing output. */
  inherit?: boolean;
}

/** Runs `pulumi <args>` in the workspace's project directory. */
export function runPulumi(cli: string, ws: Workspace, args: string[], opts: RunOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(cli, args, {
    cwd: ws.projectDir,
    env: ws.env,
    encoding: "utf8",
    input: opts.input,
    stdio: opts.inherit ? "inherit" : "pipe",
    timeout: 120_000,
  });
}

/** Creates the stack from its (copied) stack file with the passphrase secrets provider, unless it exists. */
export function ensureStack(cli: string, ws: Workspace, stack: string): void {
  const ls = runPulumi(cli, ws, ["stack", "ls", "--json"]);
  if (ls.status !== 0) throw new Error(`pulumi stack ls failed: ${ls.stderr.trim()}`);
  const names = (JSON.parse(ls.stdout) as { name: string }[]).map((s) => s.name);
  if (names.includes(stack)) return;
  const init = runPulumi(cli, ws, ["stack", "init", stack, "--secrets-provider", "passphrase", "--non-interactive"]);
  if (init.status !== 0) throw new Error(`pulumi stack init ${stack} failed: ${init.stderr.trim()}`);
}
