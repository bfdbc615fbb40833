/**
 * Runs the Pulumi program under the SDK's mock runtime and records what it
 * declares: every resource with its type, name, parent and inputs, and every
 * invoke. The offline plan and the unit tests both use it.
 *
 * Two things the mock runtime does not hand over are rebuilt here:
 * - secrets reach `newResource` wrapped as `{ <SPECIAL_SIG>: SECRET_VALUE_SIG, value }`:
 *   they are unwrapped into `SecretValue`s, so a test can ask whether an input
 *   is secret and a plan can print "[secret]";
 * - the parent is not passed to `newResource`: the monitor's registerResource
 *   request carries it, so that call is wrapped to note it first.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** The key Pulumi marks special values with in serialized inputs, and its value for a secret. */
const SPECIAL_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** An input that was a Pulumi secret. */
export class SecretValue {
  constructor(readonly value: unknown) {}
  toJSON(): string {
    return "[secret]";
  }
}

/** An asset input (a file copied somewhere): its text, or the path it reads. */
export class AssetValue {
  constructor(
    readonly text: string | undefined,
    readonly path: string | undefined,
  ) {}
  toJSON(): unknown {
    return this.path !== undefined ? { asset: "file", path: this.path } : { asset: "text", bytes: Buffer.byteLength(this.text ?? "") };
  }
}

/** An archive input (a directory of files copied somewhere). */
export class ArchiveValue {
  constructor(
    readonly assets: Record<string, unknown>,
    readonly path: string | undefined,
  ) {}
  toJSON(): unknown {
    return this.path !== undefined ? { archive: "file", path: this.path } : { archive: "assets", files: Object.keys(this.assets).sort() };
  }
}

/** The resource options the engine would receive, as far as the plan and tests need them. */
export interface PlannedOptions {
  /** URNs of explicit and implicit dependencies. */
  dependencies: string[];
  /** URNs whose replacement replaces this resource. */
  replaceWith: string[];
  additionalSecretOutputs: string[];
  ignoreChanges: string[];
  /** Replacements delete the old resource before creating the new one. */
  deleteBeforeReplace: boolean;
}

export interface PlannedResource {
  type: string;
  name: string;
  urn: string;
  options: PlannedOptions;
  /** Name of the parent resource, if any. */
  parent: string | undefined;
  parentType: string | undefined;
  custom: boolean;
  /** Inputs with secrets as SecretValue and assets as AssetValue. */
  inputs: Record<string, unknown>;
}

export interface PlannedInvoke {
  token: string;
  inputs: Record<string, unknown>;
}

/** Files under a directory, as relative paths with "/" separators, sorted. */
function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(dir, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

/**
 * Inputs as recorded: secrets (still wrapped, as setMocks hands them over) as
 * SecretValue; assets and archives (already deserialized into SDK objects,
 * whose contents are promises) as AssetValue and ArchiveValue.
 */
async function unwrap(value: unknown): Promise<unknown> {
  if (Array.isArray(value)) return Promise.all(value.map(unwrap));
  if (value === null || typeof value !== "object") return value;
  if (pulumi.asset.Asset.isInstance(value)) {
    const a = value as unknown as { text?: Promise<string>; path?: Promise<string> };
    return new AssetValue(await a.text, await a.path);
  }
  if (pulumi.asset.Archive.isInstance(value)) {
    const a = value as unknown as { assets?: Promise<Record<string, unknown>>; path?: Promise<string> };
    const assets = (await a.assets) ?? {};
    const entries = await Promise.all(Object.entries(assets).map(async ([k, v]) => [k, await unwrap(v)] as const));
    const path = await a.path;
    // A directory archive (what CopyToRemote copies): its files, as the engine would read them.
    if (path !== undefined && statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      for (const name of filesUnder(path)) entries.push([name, new AssetValue(readFileSync(join(path, name), "utf8"), join(path, name))]);
    }
    return new ArchiveValue(Object.fromEntries(entries), path);
  }
  const o = value as Record<string, unknown>;
  const sig = o[SPECIAL_SIG];
  if (sig === SECRET_VALUE_SIG) return new SecretValue(await unwrap(o.value));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = await unwrap(v);
  return out;
}

/** The plain value of an input: secrets opened. */
export function reveal(value: unknown): unknown {
  if (value instanceof SecretValue) return reveal(value.value);
  if (Array.isArray(value)) return value.map(reveal);
  if (value instanceof AssetValue || value instanceof ArchiveValue || value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
}

/** The parts of the engine's RegisterResourceRequest read here. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getReplaceWithList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
}

/** Outputs a provider computes, so that dependent values resolve under mocks. */
type Computed = (inputs: Record<string, unknown>, name: string) => Record<string, unknown>;
const owner = () => pulumi.runtime.allConfig()["github:owner"] ?? "OWNER";
const COMPUTED: Record<string, Computed> = {
  // What the commands would print: a placeholder token from the mint step, a
  // runner id from provisioning, nothing otherwise.
  "command:local:Command": (i) => ({ stdout: String(i.create ?? "").endsWith(" mint") ? "PLACEHOLDER-REGISTRATION-TOKEN" : "", stderr: "" }),
  "random:index/randomPassword:RandomPassword": (_i, name) => ({ result: `PLACEHOLDER-GENERATED-${name}` }),
  "command:remote:Command": (i) => ({ stdout: String(i.create ?? "").includes("provision.sh") ? "runner-id=0\n" : "", stderr: "" }),
  "github:index/repository:Repository": (i) => ({
    htmlUrl: `https://github.com/${owner()}/${String(i.name)}`,
    fullName: `${owner()}/${String(i.name)}`,
    nodeId: `R_${String(i.name)}`,
  }),
};

export class PlanRecorder implements pulumi.runtime.Mocks {
  readonly resources: PlannedResource[] = [];
  readonly invokes: PlannedInvoke[] = [];
  private readonly requests = new Map<string, RegisterRequest>();

  /** Noted by the wrapped monitor before newResource is called. */
  noteRequest(req: RegisterRequest): void {
    this.requests.set(`${req.getType()}::${req.getName()}`, req);
  }

  async newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const inputs = (await unwrap(args.inputs)) as Record<string, unknown>;
    const req = this.requests.get(`${args.type}::${args.name}`);
    const parentUrn = req?.getParent() || undefined;
    const parentQualified = parentUrn?.split("::")[2];
    this.resources.push({
      type: args.type,
      name: args.name,
      // The URN as the mock monitor makes it (it keeps only the parent's own type).
      urn: `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${parentQualified ? `${parentQualified.split("$").pop()}$` : ""}${args.type}::${args.name}`,
      options: {
        dependencies: req?.getDependenciesList() ?? [],
        replaceWith: req?.getReplaceWithList() ?? [],
        additionalSecretOutputs: req?.getAdditionalsecretoutputsList() ?? [],
        ignoreChanges: req?.getIgnorechangesList() ?? [],
        deleteBeforeReplace: req?.getDeletebeforereplace() ?? false,
      },
      parent: parentUrn?.split("::").pop(),
      parentType: parentQualified?.split("$").pop(),
      custom: args.custom ?? true,
      inputs,
    });
    const state = { ...(reveal(inputs) as Record<string, unknown>), ...(COMPUTED[args.type]?.(inputs, args.name) ?? {}) };
    return { id: args.custom === false ? undefined : `${args.name}-id`, state };
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    this.invokes.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
    return INVOKE_RESULTS[args.token]?.(args.inputs) ?? {};
  }

  /** Resources of a type (by its token), in declaration order. */
  ofType(type: string): PlannedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  byName(type: string, name: string): PlannedResource {
    const found = this.resources.find((r) => r.type === type && r.name === name);
    if (!found) throw new Error(`no ${type} named ${name} was declared`);
    return found;
  }
}

/** Stand-ins for what invokes would return from a real provider. */
const INVOKE_RESULTS: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
  "github:index/getActionsRegistrationToken:getActionsRegistrationToken": (i) => ({
    id: `${String(i.repository)}-token`,
    repository: i.repository,
    token: "PLACEHOLDER-REGISTRATION-TOKEN",
    expiresAt: 0,
  }),
};

/**
 * Installs the mocks and the config, ready for the program to run.
 * `secretKeys` are config keys ("ns:key") whose values are secrets.
 */
export async function startRecording(
  project: string,
  stack: string,
  config: Record<string, string>,
  secretKeys: string[] = [],
): Promise<PlanRecorder> {
  const recorder = new PlanRecorder();
  await pulumi.runtime.setMocks(recorder, project, stack, true);
  pulumi.runtime.setAllConfig(config, secretKeys);
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    recorder.noteRequest(req);
    return register(req, cb);
  };
  return recorder;
}

/** Waits until every registration the program started has been recorded. */
export async function settle(): Promise<void> {
  const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (!waitForRPCs) throw new Error("@pulumi/pulumi no longer exports runtime.waitForRPCs");
  await waitForRPCs();
}
