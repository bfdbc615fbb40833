/** Runs the real program under Pulumi's mocks and returns what it declared. */
import { parseConfig, type InfraConfig } from "../../infra/config";
import { settle, startRecording, type PlanRecorder } from "../../infra/plan/recorder";
import { program, type StackOutputs } from "../../infra/program";

export const TEST_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB57RW9d/UH86wa7SOv4EQ9hjvlT9Pb9ClYl62A1YGgJ test";

/** The secrets a deploy sets, as the CLI would pass them. */
export const TEST_SECRETS: Record<string, string> = {
  "github:token": "ghp_test-token",
  "proxmoxve:apiToken": "root@pam!cco=00000000-0000-0000-0000-000000000000",
  "cco-infra:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----",
};

export interface ProgramRun {
  recorder: PlanRecorder;
  outputs: StackOutputs;
  config: InfraConfig;
}

/**
 * `raw` is the project's config (keys without namespace), as strings; the
 * SSH public key is filled in unless given.
 */
export async function runProgram(raw: Record<string, string> = {}, stack = "test"): Promise<ProgramRun> {
  const project = { sshPublicKey: TEST_SSH_KEY, ...raw };
  const values: Record<string, string> = { "github:owner": "brentley", ...TEST_SECRETS };
  for (const [k, v] of Object.entries(project)) values[`cco-infra:${k}`] = v;
  const recorder = await startRecording("cco-infra", stack, values, Object.keys(TEST_SECRETS));
  const outputs = program();
  await settle();
  return { recorder, outputs, config: parseConfig(project) };
}
