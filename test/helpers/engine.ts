/**
 * The engine layer: tests that run the real Pulumi CLI built by
 * tools/pulumi/build.sh (see docs/engine.md). Off CI a machine without the CLI
 * skips them; in CI (`bash .ci/run` builds it first) a missing CLI fails.
 */
import { expect } from "chai";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { createWorkspace, ensureStack, NOT_BUILT, pulumiCli, runPulumi, type Workspace } from "../../tools/pulumi/cli";
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
