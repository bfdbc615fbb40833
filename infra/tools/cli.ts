/**
 * The command line of every tool of the project (plan, health, bench,
 * screenshot, sync-project, build-dashboard, lint-workflows), on
 * `node:util.parseArgs`: `--help` prints the usage, and an unknown flag, a
 * missing or bad value is one line on stderr and exit code 2, never a stack
 * trace. Runtime programs (service/) do not use it: they read environment.
 */
import { parseArgs } from "node:util";

/** A wrong command line: its message is printed as one line, the tool exits 2. */
export class UsageError extends Error {}

/** Exit code of a command line that could not be understood (and of a check that could not run). */
export const USAGE_EXIT = 2;

interface OptionSpec {
  type: "string" | "boolean";
  /** What the option does, for --help. */
  description: string;
  /** The value's name in --help, e.g. "DIR". */
  value?: string;
  multiple?: boolean;
  short?: string;
}

export interface CliSpec {
  /** How it is run, e.g. "npm run plan --". */
  command: string;
  /** What the tool does, one line. */
  summary: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments, for --help ("[FIGURE ...]"); none are accepted without it. */
  positionals?: string;
}

type Values<S extends CliSpec> = {
  [K in keyof S["options"]]?: S["options"][K]["type"] extends "boolean"
    ? boolean
    : S["options"][K]["multiple"] extends true
      ? string[]
      : string;
};

/** The --help text of a tool. */
export function helpText(spec: CliSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    return [flag, `${o.description}${o.multiple ? " (repeatable)" : ""}`] as const;
  });
  rows.push(["-h, --help", "this text"]);
  const width = Math.max(...rows.map(([f]) => f.length));
  return [
    `usage: ${spec.command}${spec.positionals ? ` ${spec.positionals}` : ""} [options]`,
    spec.summary,
    "",
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`),
  ].join("\n");
}

/** The first line of parseArgs' own message, in this project's words where it is long. */
function usageMessage(err: Error & { code?: string }, spec: CliSpec): string {
  const help = `see ${spec.command} --help`;
  const option = (/'(?:-\w, )?(--?[^'<, ]+)/.exec(err.message)?.[1] ?? "").trim();
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option ?? ""} (${help})`;
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
    return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ""} (${help})`;
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return err.message.includes("does not take an argument")
      ? `${option ?? "a flag"} takes no value (${help})`
      : `${option ?? "an option"} needs a value (${help})`;
  }
  return `${err.message.split("\n")[0]} (${help})`;
}

/**
 * Parses `argv` by `spec`. `--help` throws `HelpRequested`, which `runCli`
 * prints (exit 0); anything else wrong throws a UsageError.
 */
export function parseCommandLine<S extends CliSpec>(
  spec: S,
  argv: string[],
): { values: Values<S>; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: spec.positionals !== undefined });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (!e.code?.startsWith("ERR_PARSE_ARGS_")) throw err;
    throw new UsageError(usageMessage(e, spec));
  }
  if (parsed.values.help === true) throw new HelpRequested(helpText(spec));
  return { values: parsed.values as Values<S>, positionals: parsed.positionals };
}

/** Thrown for --help: not an error, the help text is the tool's output (a UsageError, so tools pass it on alike). */
export class HelpRequested extends UsageError {}

/**
 * Runs a tool's main and exits with its code: a UsageError is one line
 * (`<tool>: <message>`) and exit 2; --help prints the help and exits 0. Any
 * other error is a bug of the tool and keeps its stack.
 */
export function runCli(tool: string, main: () => Promise<number> | number): void {
  Promise.resolve()
    .then(main)
    .then(
      (code) => exitAfterFlush(code),
      (err: unknown) => {
        if (err instanceof HelpRequested) {
          process.stdout.write(`${err.message}\n`);
          return exitAfterFlush(0);
        }
        if (err instanceof UsageError) {
          process.stderr.write(`${tool}: ${err.message}\n`);
          return exitAfterFlush(USAGE_EXIT);
        }
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        return exitAfterFlush(1);
      },
    );
}

/**
 * Exits once stdout and stderr have taken everything written to them: on a
 * pipe (`npm run -s plan -- --json | jq .`) Node writes asynchronously, and
 * process.exit() at once would cut the output short.
 */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}
