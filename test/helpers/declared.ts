/**
 * What the program passes the SDK for each resource, options included
 * (replaceOnChanges, deleteBeforeReplace, aliases...), read through a stack
 * transformation: the program runs inside a stack resource under Pulumi's
 * mocks, and every resource's type, name and options are noted as declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { settle, startRecording, type PlanRecorder } from "../../infra/plan/recorder";
import { program } from "../../infra/program";
import { readStackFile } from "../../infra/stackfile";
import { TEST_SECRETS } from "./program";

export interface Declared {
  resource: pulumi.Resource;
  type: string;
  name: string;
  parent: pulumi.Resource | undefined;
  opts: pulumi.ResourceOptions & { replaceOnChanges?: string[]; deleteBeforeReplace?: boolean };
}

/**
 * Runs the program for `config` ("namespace:key" -> value; a key set to
 * undefined is left out) and returns what each resource declared, and the
 * recorder's view (inputs).
 */
export async function declare(
  config: Record<string, string | undefined>,
  stack = "test",
): Promise<{ declared: Declared[]; recorder: PlanRecorder }> {
  const values = Object.fromEntries(Object.entries(config).filter((e): e is [string, string] => e[1] !== undefined));
  const secrets = Object.keys(TEST_SECRETS).filter((k) => k in values);
  const recorder = await startRecording("cco-infra", stack, values, secrets);
  const declared: Declared[] = [];
  // startRecording made the stack resource (the recorder notes options through it too): add to it, never a second one.
  pulumi.runtime.registerStackTransformation((a) => {
    declared.push({ resource: a.resource, type: a.type, name: a.name, parent: a.opts.parent, opts: a.opts });
    return undefined;
  });
  program();
  await settle();
  return { declared, recorder };
}

/** A committed stack's config, as `npm run plan` runs it (test secrets in place of the encrypted ones). */
export function stackConfig(
  stack: string,
  set: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return { ...readStackFile(stack).values, ...TEST_SECRETS, ...set };
}

/** The smallest config the program runs with: test secrets, defaults otherwise. */
export function testConfig(set: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { "github:owner": "brentley", ...TEST_SECRETS, "cco-infra:proxmoxNodeHosts": '["192.0.2.10"]', ...set };
}

export function find(declared: Declared[], type: string, name: string): Declared {
  const d = declared.find((x) => x.type === type && x.name === name);
  if (!d) throw new Error(`no ${type} named ${name} was declared`);
  return d;
}
