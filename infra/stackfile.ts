/**
 * Reads a committed stack file (Pulumi.<stack>.yaml) into config as the
 * Pulumi CLI hands it to a program: every value a string, lists and maps as
 * JSON. Values stored encrypted (`secure:`) cannot be read without the stack's
 * secrets provider; they are listed so that callers can stand in for them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const PROJECT_ROOT = join(__dirname, "..");

export interface StackConfig {
  /** "namespace:key" -> value, as the CLI passes it. */
  values: Record<string, string>;
  /** Keys whose committed values are encrypted. */
  encrypted: string[];
}

export function stackFilePath(stack: string): string {
  return join(PROJECT_ROOT, `Pulumi.${stack}.yaml`);
}

export function readStackFile(stack: string, path = stackFilePath(stack)): StackConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(`no stack file ${path}: stacks are named by their Pulumi.<stack>.yaml`);
  }
  const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
  const values: Record<string, string> = {};
  const encrypted: string[] = [];
  for (const [k, v] of Object.entries(doc.config ?? {})) {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && "secure" in v) encrypted.push(k);
    else values[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return { values, encrypted };
}

/** The project's own keys (namespace stripped) from "namespace:key" config. */
export function projectKeys(values: Record<string, string>, namespace: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) {
    if (k.startsWith(`${namespace}:`)) out[k.slice(namespace.length + 1)] = v;
  }
  return out;
}
