/**
 * Runs the policy pack over resources without the Pulumi CLI, two ways:
 * - in-process (`evaluate`): each policy's validation called the way
 *   @pulumi/policy's analyzer server calls it (props behind its
 *   unknown-checking proxy, stack resources linked to parents);
 * - as the CLI runs it (`startPack`): `run-policy-pack` started in
 *   infra/policy, as the CLI's pulumi-analyzer-policy plugin starts it,
 *   and asked over its gRPC Analyzer service.
 * And it turns the offline plan's resources into what the engine would hand
 * a policy pack: URNs with their parents' types, default providers from the
 * stack config.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  unknownCheckingProxy,
  type Policies,
  type PolicyResource,
  type ResourceValidationArgs,
  type StackValidationArgs,
} from "@pulumi/policy";
import type * as grpcTypes from "@grpc/grpc-js";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { planConfig } from "../../infra/plan/main";
import {
  ArchiveValue,
  AssetValue,
  reveal,
  SecretValue,
  settle,
  startRecording,
  type PlannedResource,
} from "../../infra/plan/recorder";
import { program } from "../../infra/program";
import { PROJECT_ROOT } from "../../infra/stackfile";

/** A resource as a policy pack is handed it. `props` may hold SecretValue/AssetValue/ArchiveValue. */
export interface PackResource {
  type: string;
  name: string;
  urn: string;
  parent: string | undefined;
  props: Record<string, unknown>;
}

export interface Violation {
  policy: string;
  message: string;
  urn: string | undefined;
}

class NotApplicable extends Error {}

/** Every policy of `policies` over `resources`: the resource policies on each, the stack policies on all. */
export async function evaluate(policies: Policies, resources: PackResource[]): Promise<Violation[]> {
  const violations: Violation[] = [];
  const common = {
    stackTags: new Map<string, string>(),
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
  const opts = (r: PackResource) => ({
    protect: false,
    ignoreChanges: [],
    aliases: [],
    additionalSecretOutputs: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    parent: r.parent,
  });
  const byUrn = new Map<string, PolicyResource>();
  const stackResources: PolicyResource[] = resources.map((r) => {
    const pr = {
      type: r.type,
      name: r.name,
      urn: r.urn,
      props: unknownCheckingProxy(reveal(r.props)) as Record<string, unknown>,
      opts: opts(r),
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    } as PolicyResource;
    byUrn.set(r.urn, pr);
    return pr;
  });
  resources.forEach((r, i) => {
    if (r.parent) stackResources[i]!.parent = byUrn.get(r.parent);
  });

  for (const p of policies) {
    try {
      if ("validateStack" in p) {
        const args: StackValidationArgs = { ...common, resources: stackResources };
        await p.validateStack(args, (message, urn) => violations.push({ policy: p.name, message, urn }));
        continue;
      }
      const validations =
        p.validateResource === undefined
          ? []
          : Array.isArray(p.validateResource)
            ? p.validateResource
            : [p.validateResource];
      for (const r of resources) {
        const args: ResourceValidationArgs = {
          ...common,
          type: r.type,
          name: r.name,
          urn: r.urn,
          props: unknownCheckingProxy(reveal(r.props)) as Record<string, unknown>,
          opts: opts(r),
          isType: () => false,
          asType: () => undefined,
        };
        for (const v of validations)
          await v(args, (message) => violations.push({ policy: p.name, message, urn: r.urn }));
      }
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  }
  return violations;
}

/**
 * The plan's resources as the engine hands them to a policy pack: URNs carry
 * every ancestor's type (the engine's form), children of the stack have no
 * parent here, and a default provider per package stands for the one the
 * engine creates from the stack config (`<pkg>:<key>` values, secrets kept secret).
 */
export function fromPlan(
  planned: PlannedResource[],
  stack: string,
  project: string,
  config: Record<string, string>,
  secretKeys: string[],
): PackResource[] {
  const key = (type: string | undefined, name: string | undefined) => `${type}::${name}`;
  const index = new Map(planned.map((r) => [key(r.type, r.name), r]));
  const chain = (r: PlannedResource): string => {
    const parent = r.parent !== undefined ? index.get(key(r.parentType, r.parent)) : undefined;
    return parent ? `${chain(parent)}$${r.type}` : r.type;
  };
  const urnOf = (r: PlannedResource) => `urn:pulumi:${stack}::${project}::${chain(r)}::${r.name}`;
  const resources: PackResource[] = planned.map((r) => {
    const parent = r.parent !== undefined ? index.get(key(r.parentType, r.parent)) : undefined;
    return { type: r.type, name: r.name, urn: urnOf(r), parent: parent ? urnOf(parent) : undefined, props: r.inputs };
  });

  const packages = [...new Set(planned.filter((r) => r.custom).map((r) => r.type.split(":")[0]!))].sort();
  for (const pkg of packages) {
    const props: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
      if (!k.startsWith(`${pkg}:`)) continue;
      const name = k.slice(pkg.length + 1);
      props[name] = secretKeys.includes(k) ? new SecretValue(v) : v;
    }
    resources.push({
      type: `pulumi:providers:${pkg}`,
      name: "default",
      urn: `urn:pulumi:${stack}::${project}::pulumi:providers:${pkg}::default`,
      parent: undefined,
      props,
    });
  }
  return resources;
}

const PROJECT = "cco-infra";

/** The program for a committed stack, as `npm run plan` runs it, turned into what a policy pack sees. */
export async function planFor(stack: string, set: Record<string, string> = {}): Promise<PackResource[]> {
  // A key with a namespace ("proxmoxve:username") is set as it is; others are the project's.
  const { values, secretKeys } = planConfig(stack, set);
  const recorder = await startRecording(PROJECT, stack, values, secretKeys);
  program();
  await settle();
  return fromPlan(recorder.resources, stack, PROJECT, values, secretKeys);
}

// --- the pack as the CLI runs it ---------------------------------------------------

/** The wire form of a property value (what the engine marshals with KeepSecrets). */
const SIG = "4dabf18193072939515e22adb298388d";
function wire(value: unknown): unknown {
  if (value instanceof SecretValue)
    return { [SIG]: "1b47061264138c4ac30d75fd1eb44270", value: wire(value.value) ?? null };
  if (value instanceof AssetValue) {
    return {
      [SIG]: "c44067f5952c0a294b673a41bacd8c17",
      ...(value.path !== undefined ? { path: value.path } : { text: value.text ?? "" }),
    };
  }
  if (value instanceof ArchiveValue) {
    return {
      [SIG]: "0def7320c3a5731c473e5ecbe6d01bc7",
      assets: Object.fromEntries(Object.entries(value.assets).map(([k, v]) => [k, wire(v)])),
    };
  }
  if (Array.isArray(value)) return value.map((v) => wire(v) ?? null);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = wire(v);
  return out;
}

// The protobuf and gRPC modules @pulumi/pulumi itself loads (no second copy).
const fromPulumi = createRequire(require.resolve("@pulumi/pulumi/package.json"));
const { Struct } = fromPulumi(
  "google-protobuf/google/protobuf/struct_pb",
) as typeof import("google-protobuf/google/protobuf/struct_pb");
const { Empty } = fromPulumi(
  "google-protobuf/google/protobuf/empty_pb",
) as typeof import("google-protobuf/google/protobuf/empty_pb");
const grpc = fromPulumi("@grpc/grpc-js") as typeof grpcTypes;

const ENFORCEMENT = ["advisory", "mandatory", "disabled", "remediate"] as const;

export interface RunningPack {
  process: ChildProcess;
  info(): Promise<{ name: string; policies: { name: string; enforcementLevel: string }[] }>;
  analyze(r: PackResource): Promise<(Violation & { enforcementLevel: string })[]>;
  analyzeStack(resources: PackResource[]): Promise<(Violation & { enforcementLevel: string })[]>;
  stop(): void;
}

export const POLICY_DIR = join(PROJECT_ROOT, "infra", "policy");

/**
 * Starts the pack as the CLI's pulumi-analyzer-policy plugin does: in the
 * pack's directory, `node <require.resolve('@pulumi/pulumi/cmd/run-policy-pack')>
 * <engine> .`; it prints the port of its Analyzer service. No engine answers at
 * `<engine>`: the pack only logs there on errors.
 */
export async function startPack(env: Record<string, string> = {}): Promise<RunningPack> {
  const script = createRequire(join(POLICY_DIR, "index.ts")).resolve("@pulumi/pulumi/cmd/run-policy-pack");
  const child = spawn(process.execPath, [script, "127.0.0.1:1", "."], {
    cwd: POLICY_DIR,
    env: { ...process.env, ...env, NODE_OPTIONS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`the policy pack exited (${code}) before serving:\n${stderr}${out}`)));
  });
  const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = <Req, Res>(
    fn: (req: Req, cb: (err: grpcTypes.ServiceError | null, res: Res) => void) => unknown,
    req: Req,
  ) =>
    new Promise<Res>((resolve, reject) =>
      fn(req, (err, res) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(res))),
    );

  const options = (r: PackResource) => {
    const o = new analyzerPb.AnalyzerResourceOptions();
    if (r.parent) o.setParent(r.parent);
    return o;
  };
  /** What the engine tells about a resource, in a request or in a stack's list. */
  const describe = <M extends analyzerPb.AnalyzeRequest | analyzerPb.AnalyzerResource>(m: M, r: PackResource): M => {
    m.setUrn(r.urn);
    m.setType(r.type);
    m.setName(r.name);
    m.setProperties(Struct.fromJavaScript(wire(r.props) as Record<string, never>));
    m.setOptions(options(r));
    return m;
  };
  const diagnostics = (res: analyzerPb.AnalyzeResponse) =>
    res.getDiagnosticsList().map((d) => ({
      policy: d.getPolicyname(),
      message: d.getMessage(),
      urn: d.getUrn() || undefined,
      enforcementLevel: ENFORCEMENT[d.getEnforcementlevel()] ?? String(d.getEnforcementlevel()),
    }));

  return {
    process: child,
    async info() {
      const res = await call<InstanceType<typeof Empty>, analyzerPb.AnalyzerInfo>(
        client.getAnalyzerInfo.bind(client),
        new Empty(),
      );
      return {
        name: res.getName(),
        policies: res
          .getPoliciesList()
          .map((p) => ({ name: p.getName(), enforcementLevel: ENFORCEMENT[p.getEnforcementlevel()] ?? "?" })),
      };
    },
    async analyze(r) {
      return diagnostics(await call(client.analyze.bind(client), describe(new analyzerPb.AnalyzeRequest(), r)));
    },
    async analyzeStack(resources) {
      const req = new analyzerPb.AnalyzeStackRequest();
      req.setResourcesList(
        resources.map((r) => {
          const a = describe(new analyzerPb.AnalyzerResource(), r);
          if (r.parent) a.setParent(r.parent);
          return a;
        }),
      );
      return diagnostics(await call(client.analyzeStack.bind(client), req));
    },
    stop() {
      client.close();
      child.kill();
    },
  };
}
