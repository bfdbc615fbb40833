/**
 * `npm run engine -- [--stack dev|prod] [--dir DIR] <pulumi args...>`
 * `npm run engine -- --stack dev|prod [--dir DIR] program preview|up [--policy-pack DIR]... [--events FILE]`
 *
 * Runs the real Pulumi CLI (built by tools/pulumi/build.sh) on a local file
 * backend: with --stack, the stack is created from its committed
 * Pulumi.<stack>.yaml (copied; the passphrase secrets provider, so set
 * PULUMI_CONFIG_PASSPHRASE or answer the prompt) and `--stack <name>` is
 * passed on. Without --dir the workspace is temporary and removed afterwards;
 * with it, state and stack config survive for the next call. Nothing is
 * downloaded: no update check, no automatic plugin acquisition. Plugins come
 * from PULUMI_HOME when set, else from none (see docs/engine.md).
 *
 * `program preview|up` runs the real program (index.ts) under the real CLI as
 * an Automation API inline program hosted by this process (inline.ts), which
 * needs no Node.js language host binary; `--events FILE` writes the engine's
 * events there, one JSON object a line.
 * Exit 2 when the CLI is not built or the arguments are wrong.
 */
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { createWorkspace, ensureStack, NOT_BUILT, pulumiCli, runPulumi, type Workspace } from "./cli";
import { runInline } from "./inline";

const USAGE = `usage: npm run engine -- [--stack dev|prod] [--dir DIR] <pulumi args...>
       npm run engine -- --stack dev|prod [--dir DIR] program preview|up [--policy-pack DIR]... [--events FILE]`;

class UsageError extends Error {}

interface Args {
  stack: string | undefined;
  dir: string | undefined;
  /** The CLI's own arguments, or, after `program`, the operation and its options. */
  rest: string[];
}

function takeOptions(argv: string[], names: string[]): { values: Map<string, string[]>; rest: string[] } {
  const values = new Map<string, string[]>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!names.includes(arg)) {
      rest.push(arg);
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new UsageError(`${arg} needs a value`);
    values.set(arg, [...(values.get(arg) ?? []), value]);
  }
  return { values, rest };
}

function parse(argv: string[]): Args {
  const { values, rest } = takeOptions(argv, ["--stack", "-s", "--dir"]);
  const stack = [...(values.get("--stack") ?? []), ...(values.get("-s") ?? [])].at(-1);
  if (rest.length === 0) throw new UsageError("no pulumi arguments");
  return { stack, dir: values.get("--dir")?.at(-1), rest };
}

async function program(cli: string, ws: Workspace, stack: string | undefined, argv: string[]): Promise<number> {
  const { values, rest } = takeOptions(argv, ["--policy-pack", "--events"]);
  const [operation, ...extra] = rest;
  if (!stack) throw new UsageError("program needs --stack");
  if ((operation !== "preview" && operation !== "up") || extra.length > 0)
    throw new UsageError(`program takes preview or up, not ${rest.join(" ") || "nothing"}`);
  return runInline({
    cli,
    projectDir: ws.projectDir,
    env: ws.env,
    stack,
    operation,
    policyPacks: values.get("--policy-pack")?.map((p) => resolve(p)),
    eventsFile: values.get("--events")?.at(-1),
  });
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  const cli = pulumiCli();
  if (!cli.built) {
    console.error(`${NOT_BUILT} (expected at ${cli.path})`);
    return 2;
  }
  const ws = createWorkspace({ dir: args.dir, pulumiHome: process.env.PULUMI_HOME });
  try {
    if (args.stack) ensureStack(cli.path, ws, args.stack);
    if (args.rest[0] === "program") return await program(cli.path, ws, args.stack, args.rest.slice(1));
    const r = runPulumi(cli.path, ws, args.stack ? [...args.rest, "--stack", args.stack] : args.rest, {
      inherit: true,
    });
    if (r.error) throw r.error;
    return r.status ?? 1;
  } finally {
    if (!args.dir) rmSync(ws.dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  },
);
