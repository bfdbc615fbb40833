/**
 * The engine layer: tests that run the real Pulumi CLI built by
 * tools/pulumi/build.sh (see docs/engine.md). Off CI a machine without the CLI
 * skips them; in CI (`bash .ci/run` builds it first) a missing CLI fails.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import {
  createWorkspace,
  ensureStack,
  NOT_BUILT,
  PROJECT_ROOT,
  pulumiCli,
  runPulumi,
  type Workspace,
} from "../../tools/pulumi/cli";
import { declinedLayer } from "./layers";

export const TEST_PASSPHRASE = "cco-engine-test-passphrase";

/** The CLI's path, or why the layer does not run here (null path). Throws in CI when it is missing. */
export function engineCli(): { path: string | null; reason: string } {
  const declined = declinedLayer("engine");
  if (declined) return { path: null, reason: declined };
  const cli = pulumiCli();
  if (cli.built) return { path: cli.path, reason: "" };
  if (process.env.CI === "true") throw new Error(`CI=true but ${NOT_BUILT} (${cli.path} is missing)`);
  return { path: null, reason: NOT_BUILT };
}

export interface EngineRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A workspace per test (fresh state, home and copied stack files), removed afterwards. */
export interface Engine {
  cli: string;
  ws: Workspace;
  /** `pulumi <args> --non-interactive` in the workspace; input goes to stdin. */
  pulumi(args: string[], input?: string): EngineRun;
  /**
   * Creates the stack from its copied committed file and sets `secrets` with
   * --secret and `plain` in clear, in one `pulumi config set-all`.
   */
  stack(name: string, secrets?: Record<string, string>, plain?: Record<string, string>): void;
  /**
   * Runs the real program (index.ts) under the real CLI on the stack, as an
   * inline program (`npm run engine -- program`), in a process of its own.
   */
  program(stack: string, opts?: ProgramOptions): Promise<ProgramRun>;
}

export interface ProgramOptions {
  operation?: "preview" | "up";
  policyPack?: string;
}

/** What a run of the program under the real CLI did, from the engine's own events. */
export interface ProgramRun {
  status: number;
  /** The CLI's stdout and stderr. */
  output: string;
  events: EngineEvent[];
  /** Wall time of the whole process (tsx, the program, the CLI). */
  seconds: number;
  /** Whether it ran in a network namespace with only loopback (as root). */
  offline: boolean;
}

const execFileAsync = promisify(execFile);
const ENGINE_TS = join(PROJECT_ROOT, "tools", "pulumi", "engine.ts");

/**
 * As root (CI), the run gets a network namespace of its own with only
 * loopback up (the CLI reaches the program's gRPC server on 127.0.0.1): any
 * download attempt would fail at once, with an error of its own, instead of
 * reaching the network.
 */
function offlinePrefix(): string[] {
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/unshare")) return [];
  return ["/usr/bin/unshare", "--net", "--", "/bin/sh", "-c", '/usr/sbin/ip link set lo up && exec "$@"', "sh"];
}

let runs = 0;
async function runProgram(ws: Workspace, stack: string, opts: ProgramOptions): Promise<ProgramRun> {
  const eventsFile = join(ws.dir, `events-${++runs}.jsonl`);
  const prefix = offlinePrefix();
  const args = [
    process.execPath,
    "--import",
    "tsx",
    ENGINE_TS,
    "--dir",
    ws.dir,
    "--stack",
    stack,
    "program",
    opts.operation ?? "preview",
    "--events",
    eventsFile,
  ];
  if (opts.policyPack) args.push("--policy-pack", opts.policyPack);
  const argv = [...prefix, ...args];
  const started = process.hrtime.bigint();
  let r: { status: number; stdout: string; stderr: string };
  try {
    const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1), {
      cwd: PROJECT_ROOT,
      env: ws.env,
      encoding: "utf8",
      timeout: 180_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    r = { status: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    r = { status: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const events = existsSync(eventsFile)
    ? readFileSync(eventsFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as EngineEvent)
    : [];
  return { status: r.status, output: r.stdout + r.stderr, events, seconds, offline: prefix.length > 0 };
}

/** The resources the engine registered (a step for each), in the order it saw them. */
export function registered(run: ProgramRun): { urn: string; type: string; parent: string; custom: boolean }[] {
  return run.events.flatMap((e) => {
    const m = e.resourcePreEvent?.metadata;
    if (!m) return [];
    return [{ urn: m.urn, type: m.type, parent: m.new?.parent ?? "", custom: m.new?.custom ?? false }];
  });
}

/** The engine's error diagnostics, each message without its final newline. */
export function engineErrors(run: ProgramRun): string[] {
  return run.events.flatMap((e) =>
    e.diagnosticEvent?.severity === "error" ? [e.diagnosticEvent.message.replace(/\n$/, "")] : [],
  );
}

export function useEngine(): Engine {
  const holder: Engine = {
    cli: "",
    ws: undefined as unknown as Workspace,
    pulumi(args, input) {
      const r = runPulumi(holder.cli, holder.ws, [...args, "--non-interactive"], { input });
      if (r.error) throw r.error;
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    stack(name, secrets = {}, plain = {}) {
      ensureStack(holder.cli, holder.ws, name);
      const pairs = [
        ...Object.entries(secrets).flatMap(([k, v]) => ["--secret", `${k}=${v}`]),
        ...Object.entries(plain).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`]),
      ];
      if (pairs.length > 0) ok(holder.pulumi(["config", "set-all", ...pairs, "--stack", name]));
    },
    program(stack, opts = {}) {
      return runProgram(holder.ws, stack, opts);
    },
  };
  before(function () {
    const { path, reason } = engineCli();
    if (!path) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    holder.cli = path;
  });
  beforeEach(() => {
    // PATH: only the CLI's own folder and the system's, so no language host or
    // plugin of this machine is picked up (the CLI looks on PATH and in PULUMI_HOME).
    holder.ws = createWorkspace({ passphrase: TEST_PASSPHRASE, path: `${dirname(holder.cli)}:/usr/bin:/bin` });
  });
  afterEach(() => {
    if (holder.ws) rmSync(holder.ws.dir, { recursive: true, force: true });
  });
  return holder;
}

/** Asserts the CLI succeeded, showing its stderr when not. */
export function ok(r: EngineRun): EngineRun {
  expect(r.status, r.stderr).to.equal(0);
  return r;
}
