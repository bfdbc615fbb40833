/**
 * `npm run engine -- [--stack dev|prod] [--dir DIR] <pulumi args...>`
 *
 * Runs the real Pulumi CLI (built by tools/pulumi/build.sh) on a local file
 * backend: with --stack, the stack is created from its committed
 * Pulumi.<stack>.yaml (copied; the passphrase secrets provider, so set
 * PULUMI_CONFIG_PASSPHRASE or answer the prompt) and `--stack <name>` is
 * passed on. Without --dir the workspace is temporary and removed afterwards;
 * with it, state and stack config survive for the next call. Nothing is
 * downloaded: no update check, no automatic plugin acquisition. Plugins come
 * from PULUMI_HOME when set, else from none (see docs/engine.md).
 * Exit 2 when the CLI is not built or the arguments are wrong.
 */
import { rmSync } from "node:fs";
import { createWorkspace, ensureStack, NOT_BUILT, pulumiCli, runPulumi } from "./cli";

const USAGE = "usage: npm run engine -- [--stack dev|prod] [--dir DIR] <pulumi args...>";

function main(argv: string[]): number {
  let stack: string | undefined;
  let dir: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--stack" || arg === "-s" || arg === "--dir") {
      const value = argv[++i];
      if (value === undefined) {
        console.error(`${arg} needs a value\n${USAGE}`);
        return 2;
      }
      if (arg === "--dir") dir = value;
      else stack = value;
    } else args.push(arg);
  }
  if (args.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const cli = pulumiCli();
  if (!cli.built) {
    console.error(`${NOT_BUILT} (expected at ${cli.path})`);
    return 2;
  }
  const ws = createWorkspace({ dir, pulumiHome: process.env.PULUMI_HOME });
  try {
    if (stack) {
      ensureStack(cli.path, ws, stack);
      args.push("--stack", stack);
    }
    const r = runPulumi(cli.path, ws, args, { inherit: true });
    if (r.error) throw r.error;
    return r.status ?? 1;
  } finally {
    if (!dir) rmSync(ws.dir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
}
