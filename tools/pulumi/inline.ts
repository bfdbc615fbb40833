/**
 * The real program (index.ts, exactly as `pulumi up` loads it) under the real
 * CLI, hosted in this process: an Automation API inline program. The SDK
 * serves the language runtime's gRPC API itself (@pulumi/pulumi
 * automation/server.ts) and starts the CLI with `--client=127.0.0.1:<port>`,
 * so no `pulumi-language-nodejs` binary is needed (it cannot be built here:
 * docs/engine.md).
 *
 * One run per process: @pulumi/pulumi keeps its runtime state (settings,
 * config, the stack resource) in module state, and index.ts runs once per
 * import. `npm run engine -- --stack S program <preview|up>` calls this in a
 * process of its own; the engine tests spawn that.
 */
import { appendFileSync } from "node:fs";
import { dirname } from "node:path";
import { CommandError, LocalWorkspace, PulumiCommand, Stack, type EngineEvent } from "@pulumi/pulumi/automation";

export type InlineOperation = "preview" | "up";

export interface InlineOptions {
  /** The CLI binary (tools/pulumi/build.sh --path). */
  cli: string;
  /** A workspace's project directory, with the stack already created (cli.ts ensureStack). */
  projectDir: string;
  stack: string;
  operation: InlineOperation;
  /** Policy pack directories (`--policy-pack`). */
  policyPacks?: string[];
  /** The environment the CLI runs in (cli.ts createWorkspace): this process takes it on, so the CLI inherits exactly it. */
  env: NodeJS.ProcessEnv;
  /** Appends every engine event to this file, one JSON object a line. */
  eventsFile?: string;
}

/** The program as the CLI would run it: index.ts's exports are the stack outputs. */
async function indexProgram(): Promise<Record<string, unknown>> {
  const outputs = (await import("../../index.js")) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(outputs).filter(([k]) => k !== "default" && k !== "__esModule"));
}

/**
 * Runs the operation; the CLI's output goes to this process's stdout and
 * stderr as it comes. Resolves to the exit status: 0, or 1 when the CLI failed.
 */
export async function runInline(o: InlineOptions): Promise<number> {
  for (const k of Object.keys(process.env)) if (!(k in o.env)) delete process.env[k];
  Object.assign(process.env, o.env);
  // root: the directory above bin/, as PulumiCommand.get expects; the version
  // check compares the CLI with the SDK's minimum.
  const pulumiCommand = await PulumiCommand.get({ root: dirname(dirname(o.cli)), skipVersionCheck: false });
  const workspace = await LocalWorkspace.create({ pulumiCommand, workDir: o.projectDir });
  const stack = await Stack.select(o.stack, workspace);
  const opts = {
    program: indexProgram,
    policyPacks: o.policyPacks,
    onOutput: (s: string) => process.stdout.write(s),
    onError: (s: string) => process.stderr.write(s),
    onEvent: (e: EngineEvent) => {
      if (o.eventsFile) appendFileSync(o.eventsFile, `${JSON.stringify(e)}\n`);
    },
  };
  try {
    if (o.operation === "preview") await stack.preview({ ...opts, diff: true });
    else await stack.up(opts);
    return 0;
  } catch (err) {
    // A CommandError's text is the CLI's output again, already shown.
    if (err instanceof CommandError) return 1;
    throw err;
  }
}
