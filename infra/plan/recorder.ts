/**
 * Runs the Pulumi program under the SDK's mock runtime and records what it
 * declares: every resource with its type, name, parent and inputs, and every
 * invoke. The offline plan and the unit tests both use it.
 *
 * Two things the mock runtime does not hand over are rebuilt here:
 * - secrets reach `newResource` wrapped as `{ <SECRET_SIG>: ..., value }`:
 *   they are unwrapped into `SecretValue`s, so a test can ask whether an input
 *   is secret and a plan can print "[secret]";
 * - the parent is not passed to `newResource`: the monitor's registerResource
 *   request carries it, so that call is wrapped to note it first.
 */
import * as pulumi from "@pulumi/pulumi";

/** Signature keys Pulumi uses to mark special values in serialized inputs. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SPECIAL_SIG = SECRET_SIG;
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";
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

export interface PlannedResource {
  type: string;
  name: string;
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

function unwrap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrap);
  if (value === null || typeof value !== "object") return value;
  const o = value as Record<string, unknown>;
  const sig = o[SPECIAL_SIG];
  if (sig === SECRET_VALUE_SIG) return new SecretValue(unwrap(o.value));
  if (sig === ASSET_SIG) return new AssetValue(o.text as string | undefined, o.path as string | undefined);
  if (sig === ARCHIVE_SIG) return { archive: o.path ?? o.uri ?? "(assets)" };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = unwrap(v);
  return out;
}

/** The plain value of an input: secrets opened. */
export function reveal(value: unknown): unknown {
  if (value instanceof SecretValue) return reveal(value.value);
  if (Array.isArray(value)) return value.map(reveal);
  if (value instanceof AssetValue || value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)]));
}

/** Outputs a provider computes, so that dependent values resolve under mocks. */
type Computed = (inputs: Record<string, unknown>, name: string) => Record<string, unknown>;
const owner = () => pulumi.runtime.allConfig()["github:owner"] ?? "OWNER";
const COMPUTED: Record<string, Computed> = {
  "github:index/repository:Repository": (i) => ({
    htmlUrl: `https://github.com/${owner()}/${String(i.name)}`,
    fullName: `${owner()}/${String(i.name)}`,
    nodeId: `R_${String(i.name)}`,
  }),
};

export class PlanRecorder implements pulumi.runtime.Mocks {
  readonly resources: PlannedResource[] = [];
  readonly invokes: PlannedInvoke[] = [];
  private readonly parents = new Map<string, string>();

  /** Noted by the wrapped monitor before newResource is called. */
  noteParent(type: string, name: string, parentUrn: string): void {
    if (parentUrn) this.parents.set(`${type}::${name}`, parentUrn);
  }

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    const inputs = unwrap(args.inputs) as Record<string, unknown>;
    const parentUrn = this.parents.get(`${args.type}::${args.name}`);
    const parentQualified = parentUrn?.split("::")[2];
    this.resources.push({
      type: args.type,
      name: args.name,
      parent: parentUrn?.split("::").pop(),
      parentType: parentQualified?.split("$").pop(),
      custom: args.custom ?? true,
      inputs,
    });
    const state = { ...(reveal(inputs) as Record<string, unknown>), ...(COMPUTED[args.type]?.(inputs, args.name) ?? {}) };
    return { id: args.custom === false ? undefined : `${args.name}-id`, state };
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    this.invokes.push({ token: args.token, inputs: unwrap(args.inputs) as Record<string, unknown> });
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
    registerResource(req: { getType(): string; getName(): string; getParent(): string }, cb: unknown): unknown;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    recorder.noteParent(req.getType(), req.getName(), req.getParent());
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
