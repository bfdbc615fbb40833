/**
 * Runs the Pulumi program under the SDK's mock runtime and records what it
 * declares: every resource with its type, name, parent, inputs and options,
 * and every invoke. The offline plan and the unit tests both use it.
 *
 * Only the SDK's public API is used (test/infra/plan/recorder.test.ts pins it):
 * - inputs come from the mocks (`setMocks`), secrets recognised with
 *   `runtime.isRpcSecret`/`unwrapRpcSecret`;
 * - parents and resource options are not passed to the mocks: a stack
 *   transformation (`runtime.registerStackTransformation`, run inside
 *   `runtime.runInPulumiStack`) sees every resource as it is constructed, with
 *   its options, and `runtime.serializeResourceProperties` names the resources
 *   its inputs depend on. `runtime.registerResourceTransform`, the newer hook,
 *   cannot serve: the engine calls those transforms back, and the SDK's mock
 *   monitor has no `registerStackTransform`, so under mocks they are never
 *   called (the pin test says when that changes).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";

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
    return this.path !== undefined
      ? { asset: "file", path: this.path }
      : { asset: "text", bytes: Buffer.byteLength(this.text ?? "") };
  }
}

/** An archive input (a directory of files copied somewhere). */
export class ArchiveValue {
  constructor(
    readonly assets: Record<string, unknown>,
    readonly path: string | undefined,
  ) {}
  toJSON(): unknown {
    return this.path !== undefined
      ? { archive: "file", path: this.path }
      : { archive: "assets", files: Object.keys(this.assets).sort() };
  }
}

/** The resource options the engine would receive, resources named by URN. */
export interface PlannedOptions {
  /** URNs of explicit (dependsOn) and implicit (inputs) dependencies. */
  dependencies: string[];
  /** URNs of the resources in dependsOn. */
  dependsOn: string[];
  /** URNs whose replacement replaces this resource. */
  replaceWith: string[];
  /** Replacements delete the old resource before creating the new one. */
  deleteBeforeReplace: boolean;
  replaceOnChanges: string[];
  additionalSecretOutputs: string[];
  ignoreChanges: string[];
  /** Former identities: URNs, or alias specs with the parent as a URN. */
  aliases: unknown[];
  protect: boolean;
  retainOnDelete: boolean;
  /** Longest create/update/delete, as Pulumi durations ("10m"). */
  customTimeouts: { create?: string; update?: string; delete?: string } | undefined;
}

export interface PlannedResource {
  type: string;
  name: string;
  /** The URN as the engine makes it: every ancestor's type, then this type and name. */
  urn: string;
  options: PlannedOptions;
  /** Name, type and URN of the parent resource, if any (children of the stack have none). */
  parent: string | undefined;
  parentType: string | undefined;
  parentUrn: string | undefined;
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
      for (const name of filesUnder(path))
        entries.push([name, new AssetValue(readFileSync(join(path, name), "utf8"), join(path, name))]);
    }
    return new ArchiveValue(Object.fromEntries(entries), path);
  }
  if (pulumi.runtime.isRpcSecret(value)) return new SecretValue(await unwrap(pulumi.runtime.unwrapRpcSecret(value)));
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = await unwrap(v);
  return out;
}

/** The plain value of an input: secrets opened. */
export function reveal(value: unknown): unknown {
  if (value instanceof SecretValue) return reveal(value.value);
  if (Array.isArray(value)) return value.map(reveal);
  if (value instanceof AssetValue || value instanceof ArchiveValue || value === null || typeof value !== "object")
    return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
}

const text = (v: unknown): string => (typeof v === "string" ? v : "");

/** Outputs a provider computes, so that dependent values resolve under mocks. */
type Computed = (inputs: Record<string, unknown>, name: string) => Record<string, unknown>;
const owner = () => pulumi.runtime.allConfig()["github:owner"] ?? "OWNER";
const COMPUTED: Record<string, Computed> = {
  // What the commands would print: a placeholder token from the mint step, a
  // runner id from provisioning, nothing otherwise.
  "command:local:Command": (i) => ({
    stdout: text(i.create).endsWith(" mint") ? "PLACEHOLDER-REGISTRATION-TOKEN" : "",
    stderr: "",
  }),
  "random:index/randomPassword:RandomPassword": (_i, name) => ({ result: `PLACEHOLDER-GENERATED-${name}` }),
  "command:remote:Command": (i) => ({
    stdout: text(i.create).includes("provision.sh") ? "runner-id=0\n" : "",
    stderr: "",
  }),
  "github:index/repository:Repository": (i) => ({
    htmlUrl: `https://github.com/${owner()}/${String(i.name)}`,
    fullName: `${owner()}/${String(i.name)}`,
    nodeId: `R_${String(i.name)}`,
  }),
};

/** What the stack transformation saw of a resource, before the mocks are asked. */
interface Declared {
  /** Declaration order: the plan lists resources in it, whatever order the mocks answer in. */
  order: number;
  urn: string;
  qualifiedType: string;
  parent: Declared | undefined;
  options: PlannedOptions;
  /** Fills options.dependencies once the inputs' dependencies are known. */
  dependenciesKnown: Promise<void>;
}

const STACK_TYPE = pulumi.runtime.rootPulumiStackTypeName;

/** The resources of a dependsOn, whatever form the program gave it in. */
async function resourcesOf(v: unknown): Promise<pulumi.Resource[]> {
  const value: unknown = await v;
  if (Array.isArray(value)) return (await Promise.all(value.map(resourcesOf))).flat();
  if (pulumi.Output.isInstance(value))
    return resourcesOf(await new Promise((done) => value.apply((x: unknown) => done(x))));
  return pulumi.Resource.isInstance(value) ? [value] : [];
}

export class PlanRecorder implements pulumi.runtime.Mocks {
  readonly resources: PlannedResource[] = [];
  readonly invokes: PlannedInvoke[] = [];
  /** By resource object (to name parents and dependencies), and by type and name (to meet the mocks' call). */
  private readonly declared = new WeakMap<pulumi.Resource, Declared>();
  private readonly byKey = new Map<string, Declared>();
  private readonly pending: Promise<void>[] = [];

  constructor(
    private readonly project: string,
    private readonly stack: string,
  ) {}

  /** The stack transformation: notes parent and options, changes nothing. */
  readonly transformation: pulumi.ResourceTransformation = ({ resource, type, name, props, opts }) => {
    const parent = opts.parent !== undefined ? this.declared.get(opts.parent) : undefined;
    const qualifiedType = parent ? `${parent.qualifiedType}$${type}` : type;
    const urn = `urn:pulumi:${this.stack}::${this.project}::${qualifiedType}::${name}`;
    const urnOf = (r: pulumi.Resource) => this.declared.get(r)?.urn ?? "<a resource declared outside the program>";
    const custom = opts as pulumi.CustomResourceOptions;
    const options: PlannedOptions = {
      dependencies: [],
      dependsOn: [],
      replaceWith: (opts.replaceWith ?? []).map(urnOf),
      deleteBeforeReplace: custom.deleteBeforeReplace ?? false,
      replaceOnChanges: opts.replaceOnChanges ?? [],
      additionalSecretOutputs: custom.additionalSecretOutputs ?? [],
      ignoreChanges: opts.ignoreChanges ?? [],
      aliases: [],
      protect: opts.protect ?? false,
      retainOnDelete: opts.retainOnDelete ?? false,
      customTimeouts: opts.customTimeouts,
    };
    const dependenciesKnown = (async () => {
      const explicit = await resourcesOf(opts.dependsOn);
      const [, byProperty] = await pulumi.runtime.serializeResourceProperties(`${type}::${name}`, props);
      const implicit = [...byProperty.values()].flatMap((set) => [...set]);
      options.dependsOn = explicit.map(urnOf);
      options.dependencies = [...new Set([...explicit, ...implicit].map(urnOf))];
      options.aliases = await Promise.all(
        (opts.aliases ?? []).map(async (a) => {
          const alias: unknown = await a;
          if (typeof alias === "string" || alias === null || typeof alias !== "object") return alias;
          const spec = { ...(alias as Record<string, unknown>) };
          if (pulumi.Resource.isInstance(spec.parent)) spec.parent = urnOf(spec.parent);
          return spec;
        }),
      );
    })();
    const d: Declared = { order: this.pending.length, urn, qualifiedType, parent, options, dependenciesKnown };
    this.declared.set(resource, d);
    this.byKey.set(`${type}::${name}`, d);
    this.pending.push(dependenciesKnown);
    return undefined;
  };

  async newResource(args: pulumi.runtime.MockResourceArgs): Promise<pulumi.runtime.MockResourceResult> {
    const inputs = (await unwrap(args.inputs)) as Record<string, unknown>;
    if (args.type !== STACK_TYPE) {
      const d = this.byKey.get(`${args.type}::${args.name}`);
      if (!d) throw new Error(`the stack transformation did not see ${args.type} ${args.name}`);
      this.resources.push({
        type: args.type,
        name: args.name,
        urn: d.urn,
        options: d.options,
        parent: d.parent !== undefined ? d.parent.urn.split("::").pop() : undefined,
        parentType: d.parent?.qualifiedType.split("$").pop(),
        parentUrn: d.parent?.urn,
        custom: args.custom ?? true,
        inputs,
      });
    }
    const state = {
      ...(reveal(inputs) as Record<string, unknown>),
      ...(COMPUTED[args.type]?.(inputs, args.name) ?? {}),
    };
    return { id: args.custom === false ? undefined : `${args.name}-id`, state };
  }

  /** Waits until every registration the program started, and what is noted of it, is recorded. */
  async settle(): Promise<void> {
    for (let seen = -1; seen !== this.pending.length;) {
      seen = this.pending.length;
      await waitForRPCs();
      await Promise.all(this.pending);
    }
    const order = (r: PlannedResource) => this.byKey.get(`${r.type}::${r.name}`)!.order;
    this.resources.sort((a, b) => order(a) - order(b));
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    this.invokes.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
    return {};
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
  const recorder = new PlanRecorder(project, stack);
  await pulumi.runtime.setMocks(recorder, project, stack, true);
  pulumi.runtime.setAllConfig(config, secretKeys);
  // The root stack, as `pulumi up` makes it; resources declared after this, parented or not, pass the transformation.
  await pulumi.runtime.runInPulumiStack(() => {
    pulumi.runtime.registerStackTransformation(recorder.transformation);
    return Promise.resolve(undefined);
  });
  current = recorder;
  return recorder;
}

let current: PlanRecorder | undefined;

/** `runtime.waitForRPCs`: exported by the SDK's runtime, though not in its typings (the pin test checks it is there). */
function waitForRPCs(): Promise<void> {
  const fn = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (!fn) throw new Error("@pulumi/pulumi no longer exports runtime.waitForRPCs");
  return fn();
}

/** Waits until every registration the program started has been recorded (by the last recorder started). */
export async function settle(): Promise<void> {
  if (!current) throw new Error("settle() before startRecording()");
  await current.settle();
}
