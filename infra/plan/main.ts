/**
 * `npm run plan -- --stack <dev|prod> [--json] [--out DIR] [--set key=value ...]` (`--help`)
 *
 * The offline plan: evaluates the real program (index.ts) for a stack's
 * committed config under Pulumi's mock runtime, with no credentials, no CLI
 * and no provider plugins, and prints every resource `pulumi up` would
 * declare. Secrets that are not set here are replaced by placeholders (the
 * output says which). A bad config exits 2 with the validation message.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { ConfigError, NAMESPACE, REQUIRED_SECRETS } from "../config";
import { renderPveFirewall, type FirewallRule } from "../firewall";
import { BUNDLE_ROOT } from "../provisioning";
import { placeholderPrivateKey, SSH_PRIVATE_KEY } from "../ssh";
import { PROJECT_ROOT, readStackFile } from "../stackfile";
import { parseCommandLine, runCli, UsageError, type CliSpec } from "../tools/cli";
import { ArchiveValue, AssetValue, SecretValue, settle, startRecording, type PlannedResource } from "./recorder";

interface Options {
  stack: string;
  json: boolean;
  out: string | undefined;
  set: Record<string, string>;
}

const PLAN_CLI = {
  command: "npm run plan --",
  summary:
    "The offline plan: every resource `pulumi up` would declare for a stack's committed config, without credentials.",
  options: {
    stack: {
      type: "string",
      value: "NAME",
      short: "s",
      description: `the stack (Pulumi.<NAME>.yaml): ${stackNames().join(", ")}`,
    },
    json: { type: "boolean", description: "print a JSON array of {type, name, parent, inputs, options}" },
    out: {
      type: "string",
      value: "DIR",
      description: "write every rendered artifact under DIR (empty, or a previous plan's)",
    },
    set: {
      type: "string",
      value: "KEY=VALUE",
      multiple: true,
      description: "override a config value, e.g. runnerCount=7",
    },
  },
} satisfies CliSpec;

/** The stacks that exist: the committed Pulumi.<stack>.yaml files. */
function stackNames(): string[] {
  return readdirSync(PROJECT_ROOT)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

function parsePlanArgs(argv: string[]): Options {
  const { values } = parseCommandLine(PLAN_CLI, argv);
  const stacks = stackNames();
  if (values.stack === undefined) throw new UsageError(`--stack is required: one of ${stacks.join(", ")}`);
  if (!stacks.includes(values.stack))
    throw new UsageError(`unknown stack ${values.stack}: the stacks are ${stacks.join(", ")} (Pulumi.<stack>.yaml)`);
  const set: Record<string, string> = {};
  for (const pair of values.set ?? []) {
    const at = pair.indexOf("=");
    if (at < 1) throw new UsageError(`--set takes KEY=VALUE, not ${pair}`);
    set[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { stack: values.stack, json: values.json ?? false, out: values.out, set };
}

/** The resource as the JSON plan shows it: secrets as "[secret]", its URN and its resource options. */
export function jsonResource(r: PlannedResource) {
  return { type: r.type, name: r.name, parent: r.parent ?? null, inputs: r.inputs, urn: r.urn, options: r.options };
}

type Inputs = Record<string, unknown>;
const obj = (v: unknown): Inputs => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Inputs) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** What a command runs, in a few words, from the script it calls (the full text is in --json). */
const COMMAND_DESCRIPTIONS: Record<string, string> = {
  "github-runner.ts mint": "mints a GitHub registration token (only when the container is new)",
  "github-runner.ts deregister": "removes the runner from GitHub",
  "github-runner.ts retire": "removes every runner of its lives from GitHub (waits while one runs its job)",
  "cco-node.sh reset":
    "on the node: stops the controller, waits for a running job, rolls the container back to its clean snapshot",
  "cco-node.sh take": "on the node: checks the storage, stops the controller, replaces the clean snapshot",
  "provision-controller.sh": "installs and starts the controller from bundle",
  "provision-controller.sh uninstall": "stops the controller (idle runners removed) and removes it",
  "provision.sh": "provisions the runner from bundle",
  "provision-stats.sh": "provisions the stats service from bundle",
  "drain.sh": "waits for the running job, then stops the runner",
  "drain.sh resume": "starts the runner again",
};

function describeCommand(text: string): string {
  const script = /(?:^|\s|\/)([\w.-]+\.(?:sh|ts))(?: (\w+))?/.exec(text);
  if (script) {
    const [, file, verb] = script;
    const bundle = /cco-provision-([0-9a-f]+)\//.exec(text)?.[1];
    const known = COMMAND_DESCRIPTIONS[`${file} ${verb ?? ""}`.trim()] ?? COMMAND_DESCRIPTIONS[file!];
    return `${known ?? `runs ${file}${verb ? ` ${verb}` : ""}`}${bundle ? ` ${bundle}` : ""}`;
  }
  const probe = /(https?:\/\/\S+\/healthz)/.exec(text);
  if (probe) return `waits for ${probe[1]} to answer`;
  return short(text);
}

/** The inputs a reviewer reads, by type; other types show their first scalar inputs. */
const KEY_INPUTS: Record<string, (i: Inputs) => Array<[string, unknown]>> = {
  "github:index/repository:Repository": (i) =>
    pick(i, ["name", "visibility", "deleteBranchOnMerge", "archiveOnDestroy"]),
  "github:index/repositoryFile:RepositoryFile": (i) => pick(i, ["file", "content"]),
  "github:index/branchProtection:BranchProtection": (i) =>
    pick(i, ["pattern", "requiredPullRequestReviews", "requiredStatusChecks", "allowsForcePushes", "allowsDeletions"]),
  "github:index/repositoryRuleset:RepositoryRuleset": (i) => pick(i, ["target", "enforcement", "rules"]),
  "proxmoxve:index/containerLegacy:ContainerLegacy": (i) => {
    const features = Object.entries(obj(i.features))
      .filter(([, on]) => on === true)
      .map(([f]) => f);
    const addresses = list(obj(i.initialization).ipConfigs).map((c) => obj(obj(c).ipv4).address);
    return [
      ["node", i.nodeName],
      ["vmId", i.vmId],
      ["cores", obj(i.cpu).cores],
      ["memory", `${String(obj(i.memory).dedicated)}MB`],
      ["swap", `${typeof obj(i.memory).swap === "number" ? String(obj(i.memory).swap) : "0"}MB`],
      ["disk", `${String(obj(i.disk).size)}GB`],
      ["address", addresses.join(",")],
      ["features", features.length > 0 ? features.join(",") : "none"],
      ["tags", list(i.tags).join(",")],
      ["unprivileged", i.unprivileged],
    ];
  },
  "proxmoxve:firewall/optionsLegacy:OptionsLegacy": (i) =>
    pick(i, [
      "nodeName",
      "containerId",
      "enabled",
      "inputPolicy",
      "outputPolicy",
      "ipfilter",
      "macfilter",
      "dhcp",
      "ndp",
      "radv",
    ]),
  "proxmoxve:firewall/rulesLegacy:RulesLegacy": (i) => [
    ["rules", list(i.rules).length],
    ["in", list(i.rules).filter((r) => obj(r).type === "in").length],
    ["out", list(i.rules).filter((r) => obj(r).type === "out").length],
  ],
  "proxmoxve:download/file:File": (i) => pick(i, ["nodeName", "datastoreId", "fileName", "url", "checksumAlgorithm"]),
  "command:local:Command": (i) => commandInputs(i),
  "command:remote:Command": (i) => [...commandInputs(i), ["host", obj(i.connection).host]],
  "command:remote:CopyToRemote": (i) => pick(i, ["source", "remotePath"]),
};

function pick(i: Inputs, keys: string[]): Array<[string, unknown]> {
  return keys.filter((k) => i[k] !== undefined).map((k) => [k, i[k]]);
}

function commandInputs(i: Inputs): Array<[string, unknown]> {
  const phases = (["create", "update", "delete"] as const).filter((p) => typeof i[p] === "string");
  const what = phases.map((p) => `${p === "create" ? "" : `on ${p}: `}${describeCommand(i[p] as string)}`);
  return what.length > 0 ? [["does", what.join("; ")]] : [];
}

function short(v: unknown): string {
  if (v instanceof SecretValue) return "[secret]";
  if (v instanceof AssetValue) return `<${v.path ?? `${Buffer.byteLength(v.text ?? "")} bytes`}>`;
  if (v instanceof ArchiveValue)
    return v.path !== undefined ? `<${v.path}/>` : `<${Object.keys(v.assets).length} files>`;
  if (typeof v === "string")
    return v.includes("\n") ? `<${v.split("\n").length} lines>` : v.length > 72 ? `${v.slice(0, 69)}...` : v;
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof SecretValue ? "[secret]" : x));
}

/** A one-line summary of the inputs that matter to a reader. */
function keyInputs(r: PlannedResource): string {
  const chosen = KEY_INPUTS[r.type];
  const pairs = chosen
    ? chosen(r.inputs).filter(([, v]) => v !== undefined && v !== "")
    : Object.entries(r.inputs)
        .filter(
          ([, v]) =>
            v === null ||
            typeof v !== "object" ||
            v instanceof SecretValue ||
            v instanceof AssetValue ||
            v instanceof ArchiveValue,
        )
        .slice(0, 8);
  return pairs.map(([k, v]) => `${k}=${k === "does" ? String(v) : short(v)}`).join(" ");
}

/** "github:index/repositoryFile:RepositoryFile" -> "github:RepositoryFile" (the text view only). */
function shortType(type: string): string {
  const parts = type.split(":");
  return parts.length === 3 && parts[1]!.includes("/") ? `${parts[0]}:${parts[2]}` : type;
}

/** The options a reviewer of a replacement reads, when they are set. */
function keyOptions(r: PlannedResource, nameOf: (urn: string) => string): string {
  const o = r.options;
  const names = (urns: string[]) => urns.map(nameOf).join(",");
  return [
    o.deleteBeforeReplace ? "deleteBeforeReplace" : "",
    o.replaceWith.length > 0 ? `replaceWith=${names(o.replaceWith)}` : "",
    o.dependsOn.length > 0 ? `dependsOn=${names(o.dependsOn)}` : "",
    o.replaceOnChanges.length > 0 ? `replaceOnChanges=${o.replaceOnChanges.join(",")}` : "",
    o.protect ? "protect" : "",
    o.customTimeouts ? `timeouts=${JSON.stringify(o.customTimeouts)}` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/**
 * The text view: a tree, each component followed by its children, each row
 * with its full path of names (parent/child), its type, key inputs and the
 * options that decide how it is replaced.
 */
function tree(resources: PlannedResource[]): string {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string | undefined, PlannedResource[]>();
  for (const r of resources) {
    const parent = r.parentUrn !== undefined && byUrn.has(r.parentUrn) ? r.parentUrn : undefined;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const nameOf = (urn: string) => byUrn.get(urn)?.name ?? urn;
  const lines: string[] = [];
  const walk = (parentUrn: string | undefined, depth: number, path: string) => {
    for (const r of children.get(parentUrn) ?? []) {
      const full = path ? `${path}/${r.name}` : r.name;
      const details = [keyInputs(r), keyOptions(r, nameOf)].filter(Boolean).join("  ");
      lines.push(`${"  ".repeat(depth)}${shortType(r.type)}  ${full}${details ? `  ${details}` : ""}`);
      walk(r.urn, depth + 1, full);
    }
  };
  walk(undefined, 0, "");
  return lines.join("\n");
}

const FIREWALL_OPTIONS = "proxmoxve:firewall/optionsLegacy:OptionsLegacy";
const FIREWALL_RULES = "proxmoxve:firewall/rulesLegacy:RulesLegacy";

/** Every rendered artifact of the plan, by path relative to --out. */
function artifacts(resources: PlannedResource[]): Map<string, string | Buffer> {
  const files = new Map<string, string | Buffer>();
  const put = (path: string, content: string | Buffer) =>
    files.set(normalize(path).replace(/^(\.\.(\/|$))+/, ""), content);
  const firewallRules = new Map(
    resources.filter((r) => r.type === FIREWALL_RULES).map((r) => [r.parent, r.inputs.rules as FirewallRule[]]),
  );
  for (const r of resources) {
    const i = r.inputs;
    if (r.type === FIREWALL_OPTIONS) {
      put(
        join("containers", r.parent ?? r.name, "proxmox-firewall", `${String(i.containerId)}.fw`),
        renderPveFirewall(i, firewallRules.get(r.parent) ?? []),
      );
    } else if (r.type === "github:index/repositoryFile:RepositoryFile") {
      put(join("github", String(i.repository), String(i.file)), String(i.content));
    } else if (r.type === "command:remote:CopyToRemote" && i.source instanceof AssetValue) {
      put(join("containers", r.parent ?? r.name, String(i.remotePath)), i.source.text ?? readFileSync(i.source.path!));
    } else if (r.type === "command:remote:CopyToRemote" && i.source instanceof ArchiveValue) {
      // The directory copied into the container, file by file (units, scripts, parameters).
      // A local directory lands under its own name inside remotePath.
      const into =
        i.source.path !== undefined ? join(String(i.remotePath), basename(i.source.path)) : String(i.remotePath);
      for (const [name, asset] of Object.entries(i.source.assets)) {
        if (asset instanceof AssetValue) {
          put(join("containers", r.parent ?? r.name, into, name), asset.text ?? readFileSync(asset.path!));
        }
      }
    }
  }
  return files;
}

/** Marks a directory as a plan's output: the next plan may empty it and write it again. */
export const PLAN_MARKER = ".cco-plan";

/**
 * Makes `dir` ready for a plan's artifacts: created if missing, emptied if a
 * previous plan wrote it (so no file of a runner that is gone stays), refused
 * if it holds anything else. Checked before the program runs.
 */
function prepareOut(dir: string): void {
  const why = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    const code = why(err);
    if (code === "ENOTDIR") throw new UsageError(`--out ${dir} is a file, not a directory`);
    if (code !== "ENOENT") throw new UsageError(`--out ${dir} cannot be read (${code})`);
    entries = [];
  }
  if (entries.length > 0 && !entries.includes(PLAN_MARKER)) {
    throw new UsageError(
      `--out ${dir} is not empty and not a previous plan's (it has no ${PLAN_MARKER}): give an empty or new directory`,
    );
  }
  try {
    for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, PLAN_MARKER),
      "Written by `npm run plan -- --out`: the next plan empties this directory and writes it again.\n",
    );
  } catch (err) {
    throw new UsageError(`--out ${dir} cannot be written (${why(err)})`);
  }
}

function writeArtifacts(dir: string, files: Map<string, string | Buffer>): void {
  for (const [path, content] of files) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

/**
 * Removes the provisioning bundles (.build/provision/cco-provision-<hash>) this
 * plan does not copy: each plan writes the bundles it needs, and without this
 * the directory grows with every config change.
 */
function pruneBundles(resources: PlannedResource[]): void {
  const used = new Set<string>();
  for (const r of resources) {
    const source = r.inputs.source;
    if (source instanceof ArchiveValue && source.path !== undefined) used.add(basename(source.path));
  }
  const root = join(PROJECT_ROOT, BUNDLE_ROOT);
  for (const entry of existsSync(root) ? readdirSync(root) : []) {
    if (entry.startsWith("cco-provision-") && !used.has(entry))
      rmSync(join(root, entry), { recursive: true, force: true });
  }
}

async function resolve<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((done) => pulumi.output(value).apply((v) => (done(v as T), v)));
}

export interface PlanConfig {
  project: string;
  /** "namespace:key" -> value, as the CLI would pass them. */
  values: Record<string, string>;
  secretKeys: string[];
  /** Secrets not set here, for which placeholders stand in. */
  placeholders: string[];
}

/** The config the plan runs the program with: the committed stack file, `--set` values, placeholders for secrets. */
export function planConfig(stackName: string, set: Record<string, string> = {}): PlanConfig {
  const project = (parseYaml(readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")) as { name: string }).name;
  const stack = readStackFile(stackName);
  const values = { ...stack.values };
  for (const [k, v] of Object.entries(set)) values[k.includes(":") ? k : `${project}:${k}`] = v;
  // Secrets: whatever the environment provides is not used; placeholders stand in,
  // for the required ones and for every value the stack file holds encrypted
  // (e.g. proxmoxve:password of a Docker-in-jobs stack), which the plan cannot read.
  // The SSH key's stands in as a real key, as the program derives its public half.
  const secretKeys = [...new Set([...Object.keys(REQUIRED_SECRETS), ...stack.encrypted])];
  const placeholders: string[] = [];
  for (const key of secretKeys) {
    if (values[key] === undefined) {
      values[key] =
        key === `${NAMESPACE}:${SSH_PRIVATE_KEY}`
          ? placeholderPrivateKey("cco-infra offline plan")
          : `PLACEHOLDER-${key.replace(":", "-").toUpperCase()}`;
      placeholders.push(key);
    }
  }
  return { project, values, secretKeys, placeholders };
}

async function main(argv: string[]): Promise<number> {
  const opts = parsePlanArgs(argv);
  if (opts.out) prepareOut(opts.out);
  const { project, values, secretKeys, placeholders } = planConfig(opts.stack, opts.set);
  const recorder = await startRecording(project, opts.stack, values, secretKeys);
  let outputs: Record<string, unknown>;
  try {
    // The real entry point, exactly as `pulumi up` loads it.
    outputs = await import("../../index.js");
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
    if (k !== "default" && k !== "__esModule") resolved[k] = await resolve(v);
  }

  const resources = recorder.resources;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(resources.map(jsonResource), null, 2)}\n`);
  } else {
    process.stdout.write(
      `Offline plan of stack ${opts.stack} (project ${project}): ${resources.length} resources, under Pulumi's mock runtime.\n`,
    );
    if (placeholders.length > 0) {
      process.stdout.write(`Placeholders stand in for secrets not set here: ${placeholders.join(", ")}.\n`);
    }
    process.stdout.write(`\n${tree(resources)}\n\nOutputs:\n`);
    for (const [k, v] of Object.entries(resolved)) process.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
  }
  if (placeholders.length > 0 && opts.json) {
    process.stderr.write(`Placeholders stand in for secrets not set here: ${placeholders.join(", ")}.\n`);
  }
  if (opts.out) {
    const files = artifacts(resources);
    writeArtifacts(opts.out, files);
    process.stderr.write(`${files.size} artifacts written under ${opts.out}\n`);
  }
  pruneBundles(resources);
  return 0;
}

if (require.main === module) runCli("plan", () => main(process.argv.slice(2)));
