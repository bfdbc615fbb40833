/**
 * The config map the real Pulumi CLI hands the program, for tests that run the
 * program under mocks: a double of the CLI's merge, built from its source and
 * held against the real CLI by test/engine/config.test.ts (exactly equal for
 * dev and prod, and for a stack edited with `pulumi config set`).
 *
 * Source: github.com/pulumi/pulumi v3.248.0, sdk/go/common/workspace/config.go,
 * mergeConfig (called by ValidateStackConfigAndApplyProjectConfig from
 * pkg/cmd/pulumi/operations/preview.go and up.go before the engine starts, and
 * by ApplyProjectConfig for `pulumi config`): every key of Pulumi.yaml's
 * `config:` that the stack does not set and that has a default is set on the
 * stack's config to that default (createConfigValue: a scalar as Go's "%v", a
 * list or map as JSON); a key of the project's namespace with neither fails
 * with "Stack '<stack>' is missing configuration value(s) ...". The engine then
 * decrypts the map (pkg/resource/deploy/source_eval.go, Iterate) and the
 * Node.js language host passes it as PULUMI_CONFIG
 * (sdk/nodejs/cmd/pulumi-language-nodejs/main.go, constructConfig), which
 * @pulumi/pulumi reads back as "namespace:key" -> string
 * (sdk/nodejs/runtime/config.ts, cleanKey).
 *
 * So the program sees Pulumi.yaml's defaults as if the stack had set them:
 * whether a key was set cannot be told from the map, only its value.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT, readStackFile } from "../../infra/stackfile";

interface ProjectKey {
  default?: unknown;
  value?: unknown;
}

export interface CliConfigOptions {
  /** Stack name, as error messages say it. */
  stack: string;
  /** The stack file; default: the committed Pulumi.<stack>.yaml. */
  stackFile?: string;
  /** Pulumi.yaml's text; default: the committed one. */
  projectYaml?: string;
  /** Values set with `pulumi config set --secret` ("namespace:key" -> plaintext). */
  secrets?: Record<string, string>;
  /** Values set with plain `pulumi config set` ("namespace:key" -> text, stored as a string). */
  set?: Record<string, string>;
}

/** "namespace:key" -> string: the map `pulumi preview` hands the language host, with secrets decrypted. */
export function cliConfig(opts: CliConfigOptions): Record<string, string> {
  const project = parse(opts.projectYaml ?? readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")) as {
    name: string;
    config?: Record<string, ProjectKey>;
  };
  const committed = readStackFile(opts.stack, opts.stackFile);
  const unknown = committed.encrypted.filter((k) => opts.secrets?.[k] === undefined);
  if (unknown.length > 0) throw new Error(`${unknown.join(", ")} encrypted in the stack file: pass the plaintext in secrets`);
  const map: Record<string, string> = { ...committed.values, ...opts.set, ...opts.secrets };

  const missing: string[] = [];
  for (const name of Object.keys(project.config ?? {}).sort()) {
    const spec = project.config![name]!;
    const key = name.includes(":") ? name : `${project.name}:${name}`;
    if (key in map) continue;
    // mergeConfig takes value, then lets default win when both are given.
    const given = spec.default !== undefined ? spec.default : spec.value;
    if (given !== undefined) map[key] = cliString(given);
    else if (key.startsWith(`${project.name}:`)) missing.push(name);
  }
  if (missing.length > 0) throw new Error(`Stack '${opts.stack}' is missing configuration ${missingKeys(missing)}`);
  return map;
}

/** A Pulumi.yaml default as createConfigValue stores it: scalars as text, lists and maps as Go's json.Marshal writes them. */
function cliString(v: unknown): string {
  if (v === null || typeof v !== "object") return String(v);
  return goJson(v);
}

/** JSON as Go's encoding/json writes it: map keys sorted, <, >, &, U+2028 and U+2029 escaped. */
function goJson(v: unknown): string {
  const sorted = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sorted)
      : x !== null && typeof x === "object"
        ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted((x as Record<string, unknown>)[k])]))
        : x;
  return JSON.stringify(sorted(v)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** formatMissingKeys of config.go: "value 'a'", "values 'a' and 'b'", "values 'a', 'b' and 'c'". */
function missingKeys(keys: string[]): string {
  if (keys.length === 1) return `value '${keys[0]}'`;
  const quoted = keys.map((k) => `'${k}'`);
  return `values ${quoted.slice(0, -1).join(", ")} and ${quoted.at(-1)}`;
}
