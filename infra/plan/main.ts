/**
 * `npm run plan -- --stack <dev|prod> [--json] [--out DIR] [--set key=value ...]` (`--help`)
 *
 * The offline plan: evaluates the real program (index.ts) for a stack's
 * committed config under Pulumi's mock runtime, with no credentials, no CLI
 * and no provider plugins, and prints every resource `pulumi up` would
 * declare. Secrets that are not set here are replaced by placeholders (the
 * output says which). A bad config exits 2 with the validation message.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ConfigError, REQUIRED_SECRETS } from "../config";
import { renderPveFirewall, type FirewallRule } from "../firewall";
import { PROJECT_ROOT, readStackFile } from "../stackfile";
import { parseCommandLine, runCli, UsageError, type CliSpec } from "../tools/cli";
import { ArchiveValue, AssetValue, SecretValue, settle, startRecording, type PlannedResource } from "./recorder";

interface Options {
  stack: string;
  json: boolean;
  out: string | undefined;
  set: Record<string, string>;
}

export const PLAN_CLI = {
  command: "npm run plan --",
  summary: "The offline plan: every resource `pulumi up` would declare for a stack's committed config, without credentials.",
  options: {
    stack: { type: "string", value: "NAME", short: "s", description: `the stack (Pulumi.<NAME>.yaml): ${stackNames().join(", ")}` },
    json: { type: "boolean", description: "print a JSON array of {type, name, parent, inputs, options}" },
    out: { type: "string", value: "DIR", description: "write every rendered artifact under DIR (empty, or a previous plan's)" },
    set: { type: "string", value: "KEY=VALUE", multiple: true, description: "override a config value, e.g. runnerCount=7" },
  },
} satisfies CliSpec;

/** The stacks that exist: the committed Pulumi.<stack>.yaml files. */
export function stackNames(): string[] {
  return readdirSync(PROJECT_ROOT)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export function parsePlanArgs(argv: string[]): Options {
  const { values } = parseCommandLine(PLAN_CLI, argv);
  const stacks = stackNames();
  if (values.stack === undefined) throw new UsageError(`--stack is required: one of ${stacks.join(", ")}`);
  if (!stacks.includes(values.stack)) throw new UsageError(`unknown stack ${values.stack}: the stacks are ${stacks.join(", ")} (Pulumi.<stack>.yaml)`);
  const set: Record<string, string> = {};
  for (const pair of values.set ?? []) {
    const at = pair.indexOf("=");
    if (at < 1) throw new UsageError(`--set takes KEY=VALUE, not ${pair}`);
    set[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { stack: values.stack, json: values.json ?? false, out: values.out, set };
}

/** The resource as the JSON plan shows it: secrets as "[secret]". */
function jsonResource(r: PlannedResource) {
  return { type: r.type, name: r.name, parent: r.parent ?? null, inputs: r.inputs };
}

/** Inputs worth a reader's eye, by type; other types show their first scalar inputs. */
const KEY_INPUTS: Record<string, string[]> = {
  "github:index/repository:Repository": ["name", "visibility", "deleteBranchOnMerge", "archiveOnDestroy"],
  "github:index/repositoryFile:RepositoryFile": ["file", "content"],
  "github:index/branchProtection:BranchProtection": [
    "pattern",
    "requiredPullRequestReviews",
    "requiredStatusChecks",
    "allowsForcePushes",
    "allowsDeletions",
  ],
  "github:index/repositoryRuleset:RepositoryRuleset": ["target", "enforcement", "rules"],
};

function short(v: unknown): string {
  if (v instanceof SecretValue) return "[secret]";
  if (v instanceof AssetValue) return `<${v.path ?? `${Buffer.byteLength(v.text ?? "")} bytes`}>`;
  if (v instanceof ArchiveValue) return `<${Object.keys(v.assets).length} files>`;
  if (typeof v === "string") return v.includes("\n") ? `<${v.split("\n").length} lines>` : v.length > 48 ? `${v.slice(0, 45)}...` : v;
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof SecretValue ? "[secret]" : x));
}

/** A one-line summary of the inputs that matter to a reader. */
function keyInputs(r: PlannedResource): string {
  const keys = KEY_INPUTS[r.type];
  if (keys) return keys.filter((k) => r.inputs[k] !== undefined).map((k) => `${k}=${short(r.inputs[k])}`).join(" ");
  return Object.entries(r.inputs)
    .filter(([, v]) => v === null || typeof v !== "object" || v instanceof SecretValue || v instanceof AssetValue || v instanceof ArchiveValue)
    .slice(0, 8)
    .map(([k, v]) => `${k}=${short(v)}`)
    .join(" ");
}

/** "github:index/repositoryFile:RepositoryFile" -> "github:RepositoryFile" (the table only). */
function shortType(type: string): string {
  const parts = type.split(":");
  return parts.length === 3 && parts[1]!.includes("/") ? `${parts[0]}:${parts[2]}` : type;
}

function table(resources: PlannedResource[]): string {
  const rows = resources.map((r) => [shortType(r.type), r.name, r.parent ?? "-", keyInputs(r)]);
  const head = ["TYPE", "NAME", "PARENT", "KEY INPUTS"];
  const widths = [0, 1, 2].map((c) => Math.max(head[c]!.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

const FIREWALL_OPTIONS = "proxmoxve:firewall/optionsLegacy:OptionsLegacy";
const FIREWALL_RULES = "proxmoxve:firewall/rulesLegacy:RulesLegacy";

/** Every rendered artifact of the plan, by path relative to --out. */
export function artifacts(resources: PlannedResource[]): Map<string, string | Buffer> {
  const files = new Map<string, string | Buffer>();
  const put = (path: string, content: string | Buffer) => files.set(normalize(path).replace(/^(\.\.(\/|$))+/, ""), content);
  const firewallRules = new Map(resources.filter((r) => r.type === FIREWALL_RULES).map((r) => [r.parent, r.inputs.rules as FirewallRule[]]));
  for (const r of resources) {
    const i = r.inputs;
    if (r.type === FIREWALL_OPTIONS) {
      put(join("containers", r.parent ?? r.name, "proxmox-firewall", `${String(i.containerId)}.fw`), renderPveFirewall(i, firewallRules.get(r.parent) ?? []));
    } else if (r.type === "github:index/repositoryFile:RepositoryFile") {
      put(join("github", String(i.repository), String(i.file)), String(i.content));
    } else if (r.type === "command:remote:CopyToRemote" && i.source instanceof AssetValue) {
      put(join("containers", r.parent ?? r.name, String(i.remotePath)), i.source.text ?? readFileSync(i.source.path!));
    } else if (r.type === "command:remote:CopyToRemote" && i.source instanceof ArchiveValue) {
      // The directory copied into the container, file by file (units, scripts, parameters).
      // A local directory lands under its own name inside remotePath.
      const into = i.source.path !== undefined ? join(String(i.remotePath), basename(i.source.path)) : String(i.remotePath);
      for (const [name, asset] of Object.entries(i.source.assets)) {
        if (asset instanceof AssetValue) {
          put(join("containers", r.parent ?? r.name, into, name), asset.text ?? readFileSync(asset.path!));
        }
      }
    }
  }
  return files;
}

async function resolve<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((done) => pulumi.output(value).apply((v) => (done(v as T), v)));
}

async function main(argv: string[]): Promise<number> {
  const opts = parsePlanArgs(argv);
  const project = (parseYaml(readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const stack = readStackFile(opts.stack);
  const values = { ...stack.values };
  for (const [k, v] of Object.entries(opts.set)) values[k.includes(":") ? k : `${project}:${k}`] = v;

  // Secrets: whatever the environment provides is not used; placeholders stand in.
  const placeholders: string[] = [];
  for (const key of Object.keys(REQUIRED_SECRETS)) {
    if (values[key] === undefined) {
      values[key] = `PLACEHOLDER-${key.replace(":", "-").toUpperCase()}`;
      placeholders.push(key);
    }
  }
  const secretKeys = [...Object.keys(REQUIRED_SECRETS), ...stack.encrypted];

  const recorder = await startRecording(project, opts.stack, values, secretKeys);
  let outputs: Record<string, unknown>;
  try {
    // The real entry point, exactly as `pulumi up` loads it.
    outputs = (await import("../../index.js")) as Record<string, unknown>;
    await settle();
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof pulumi.RunError ? err.message : undefined;
    if (message === undefined) throw err;
    process.stderr.write(`${message}\n`);
    process.stderr.write(`Nothing was planned: ${recorder.resources.length} resources declared.\n`);
    return 2;
  }
  const resolved: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs)) {
    if (k !== "default" && k !== "__esModule") resolved[k] = await resolve(v as pulumi.Input<unknown>);
  }

  const resources = recorder.resources;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(resources.map(jsonResource), null, 2)}\n`);
  } else {
    process.stdout.write(`Offline plan of stack ${opts.stack} (project ${project}): ${resources.length} resources, under Pulumi's mock runtime.\n`);
    if (placeholders.length > 0) {
      process.stdout.write(`Placeholders stand in for secrets not set here: ${placeholders.join(", ")}.\n`);
    }
    process.stdout.write(`\n${table(resources)}\n\nOutputs:\n`);
    for (const [k, v] of Object.entries(resolved)) process.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
  }
  if (placeholders.length > 0 && opts.json) {
    process.stderr.write(`Placeholders stand in for secrets not set here: ${placeholders.join(", ")}.\n`);
  }
  if (opts.out) {
    const files = artifacts(resources);
    for (const [path, content] of files) {
      const target = join(opts.out, path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    process.stderr.write(`${files.size} artifacts written under ${opts.out}\n`);
  }
  return 0;
}

if (require.main === module) runCli("plan", () => main(process.argv.slice(2)));
