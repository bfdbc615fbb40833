/**
 * `npm run plan -- --stack <dev|prod> [--json] [--out DIR] [--set key=value ...]`
 *
 * The offline plan: evaluates the real program (index.ts) for a stack's
 * committed config under Pulumi's mock runtime, with no credentials, no CLI
 * and no provider plugins, and prints every resource `pulumi up` would
 * declare. Secrets that are not set here are replaced by placeholders (the
 * output says which). A bad config exits 2 with the validation message.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ConfigError, REQUIRED_SECRETS } from "../config";
import { renderPveFirewall, type FirewallRule } from "../firewall";
import { PROJECT_ROOT, readStackFile } from "../stackfile";
import { ArchiveValue, AssetValue, SecretValue, settle, startRecording, type PlannedResource } from "./recorder";

interface Options {
  stack: string;
  json: boolean;
  out: string | undefined;
  set: Record<string, string>;
}

const USAGE = "usage: npm run plan -- --stack <dev|prod> [--json] [--out DIR] [--set key=value ...]";

export function parseArgs(argv: string[]): Options {
  const opts: Options = { stack: "", json: false, out: undefined, set: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === "--stack" || arg === "-s") opts.stack = value();
    else if (arg === "--json") opts.json = true;
    else if (arg === "--out") opts.out = value();
    else if (arg === "--set") {
      const [k, ...rest] = value().split("=");
      if (!k || rest.length === 0) throw new UsageError("--set takes key=value");
      opts.set[k] = rest.join("=");
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  if (!opts.stack) throw new UsageError("--stack is required");
  return opts;
}

class UsageError extends Error {}

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
  let opts: Options;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    return 64;
  }
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

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
