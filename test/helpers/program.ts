/** Runs the real program under Pulumi's mocks and returns what it declared. */
import { parseConfig, type InfraConfig } from "../../infra/config";
import { settle, startRecording, type PlanRecorder } from "../../infra/plan/recorder";
import { program, type StackOutputs } from "../../infra/program";
import { testKeyPair } from "./ssh";

const TEST_KEY_PAIR = testKeyPair();
/** The public half the program must derive from TEST_SECRETS' private key (without its comment). */
export const TEST_SSH_KEY = TEST_KEY_PAIR.publicKey;

/** The secrets a deploy sets, as the CLI would pass them. */
export const TEST_SECRETS: Record<string, string> = {
  "github:token": "ghp_test-token",
  "proxmoxve:apiToken": "root@pam!cco=00000000-0000-0000-0000-000000000000",
  // Without the PEM's last newline, as `pulumi config get` gives a value back.
  "cco-infra:sshPrivateKey": TEST_KEY_PAIR.privateKey.trimEnd(),
  "cco-infra:controllerGithubToken": "github_pat_test-controller-token",
};

/**
 * The nodes' SSH addresses ephemeral mode needs (TEST-NET, one per node of
 * `raw`'s proxmoxNodes), unless `raw` gives them.
 */
export function withNodeHosts(raw: Record<string, string>): Record<string, string> {
  if (raw.proxmoxNodeHosts !== undefined) return raw;
  const nodes = raw.proxmoxNodes === undefined ? ["pve"] : (JSON.parse(raw.proxmoxNodes) as unknown[]);
  return { ...raw, proxmoxNodeHosts: JSON.stringify(nodes.map((_, i) => `192.0.2.${10 + i}`)) };
}

export interface ProgramRun {
  recorder: PlanRecorder;
  outputs: StackOutputs;
  config: InfraConfig;
}

/** The provider config of a stack that logs in as root@pam with its password (what Docker in jobs needs). */
export const ROOT_LOGIN: Record<string, string | undefined> = {
  "proxmoxve:apiToken": undefined,
  "proxmoxve:username": "root@pam",
  "proxmoxve:password": "test-password",
};

/**
 * `raw` is the project's config (keys without namespace), as strings; the
 * test secrets are filled in. `other` sets other namespaces' keys, and the
 * secrets ("ns:key"; undefined leaves one out).
 */
export async function runProgram(
  given: Record<string, string> = {},
  stack = "test",
  other: Record<string, string | undefined> = {},
): Promise<ProgramRun> {
  const raw = withNodeHosts(given);
  const values: Record<string, string> = { "github:owner": "brentley", ...TEST_SECRETS };
  for (const [k, v] of Object.entries(other)) {
    if (v === undefined) delete values[k];
    else values[k] = v;
  }
  for (const [k, v] of Object.entries(raw)) values[`cco-infra:${k}`] = v;
  const secrets = [...Object.keys(TEST_SECRETS), "proxmoxve:password"].filter((k) => k in values);
  const recorder = await startRecording("cco-infra", stack, values, secrets);
  const outputs = program();
  await settle();
  return { recorder, outputs, config: parseConfig(raw) };
}
