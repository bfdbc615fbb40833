/**
 * Entry of the Pulumi program (`pulumi up`, `pulumi preview`): config is
 * validated before anything is declared, and a bad value stops the run with
 * a message that names the key, the value and what is allowed.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./infra/config";
import { program, type StackOutputs } from "./infra/program";

function run(): StackOutputs {
  try {
    return program();
  } catch (err) {
    // A RunError is printed as its message alone, without a stack trace.
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

const outputs = run();

export const repositoryUrl = outputs.repositoryUrl;
export const runnerNames = outputs.runnerNames;
export const requiredChecks = outputs.requiredChecks;
export const statsUrl = outputs.statsUrl;
export const egressProxyUrl = outputs.egressProxyUrl;
