/**
 * Engine layer: the program's own config checks, run on the exact map the
 * real CLI hands over (issue 11, finding 3). The language host cannot run
 * here (docs/engine.md), so the map is read from the real CLI
 * (`pulumi config --json --show-secrets`, the same merge preview applies:
 * see config.test.ts) and given to the real program under Pulumi's mocks,
 * as `pulumi.runtime.allConfig()` (infra/program.ts reads it from there).
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../infra/config";
import { settle, startRecording } from "../../infra/plan/recorder";
import { program } from "../../infra/program";
import { ok, useEngine } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";
import { useTempDir } from "../helpers/tmp";

describe("engine: the program's config checks on the real CLI's map", function () {
  this.timeout(120_000);
  const e = useEngine();
  const tmp = useTempDir("cco-engine-key-");

  /** dev with every secret set and `edits` made with `pulumi config set`: the CLI's map. */
  function cliMap(edits: Record<string, string>): Record<string, string> {
    e.stack("dev", TEST_SECRETS, edits);
    const listed = JSON.parse(ok(e.pulumi(["config", "--json", "--show-secrets", "--stack", "dev"])).stdout) as Record<string, { value: string }>;
    return Object.fromEntries(Object.entries(listed).map(([k, v]) => [k, v.value]));
  }

  /** Runs the program on it: the error it stops with (or null) and how many resources it declared. */
  async function run(map: Record<string, string>): Promise<{ error: Error | null; declared: number }> {
    const recorder = await startRecording("cco-infra", "dev", map, Object.keys(TEST_SECRETS));
    try {
      program();
      await settle();
      return { error: null, declared: recorder.resources.length };
    } catch (err) {
      return { error: err as Error, declared: recorder.resources.length };
    }
  }

  it("the committed dev stack runs", async () => {
    const r = await run(cliMap({}));
    expect(r.error).to.equal(null);
    expect(r.declared).to.be.greaterThan(0);
  });

  it("runnerVersion raised alone: the CLI hands over the old runnerSha256 and the program refuses it, declaring nothing", async () => {
    const map = cliMap({ "cco-infra:runnerVersion": "2.330.0" });
    expect(map["cco-infra:runnerSha256"], "the CLI filled it in from Pulumi.yaml").to.match(/^[0-9a-f]{64}$/);
    const r = await run(map);
    expect(r.error).to.be.instanceOf(ConfigError);
    expect((r.error as ConfigError).key).to.equal("runnerSha256");
    expect(r.error!.message).to.contain("that is the checksum of 2.329.0, but cco-infra:runnerVersion is 2.330.0");
    expect(r.declared).to.equal(0);
  });

  it("nodeVersion raised alone: refused the same way, naming nodeSha256", async () => {
    const r = await run(cliMap({ "cco-infra:nodeVersion": "22.22.0" }));
    expect((r.error as ConfigError).key).to.equal("nodeSha256");
    expect(r.declared).to.equal(0);
  });

  it("the SSH key as an operator sets it (ssh-keygen's file on stdin): the containers get the public half ssh-keygen wrote", async () => {
    const key = join(tmp.path, "cco_provisioning");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const { "cco-infra:sshPrivateKey": _, ...others } = TEST_SECRETS;
    e.stack("dev", others);
    ok(e.pulumi(["config", "set", "--secret", "cco-infra:sshPrivateKey", "--stack", "dev"], readFileSync(key, "utf8")));
    const listed = JSON.parse(ok(e.pulumi(["config", "--json", "--show-secrets", "--stack", "dev"])).stdout) as Record<string, { value: string }>;
    const recorder = await startRecording("cco-infra", "dev", Object.fromEntries(Object.entries(listed).map(([k, v]) => [k, v.value])), Object.keys(TEST_SECRETS));
    program();
    await settle();
    const expected = `${readFileSync(`${key}.pub`, "utf8").split(" ").slice(0, 2).join(" ")} cco-provisioning`;
    const containers = recorder.resources.filter((r) => r.type === "proxmoxve:index/containerLegacy:ContainerLegacy");
    expect(containers.length).to.be.greaterThan(1);
    for (const c of containers) expect((c.inputs.initialization as { userAccount: { keys: string[] } }).userAccount.keys, c.name).to.deep.equal([expected]);
  });

  it("a stack that still sets the removed sshPublicKey: the CLI hands it over, and the program refuses it with the command that removes it", async () => {
    const map = cliMap({ "cco-infra:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB57RW9d/UH86wa7SOv4EQ9hjvlT9Pb9ClYl62A1YGgJ old" });
    const r = await run(map);
    expect((r.error as ConfigError).key).to.equal("sshPublicKey");
    expect(r.error!.message).to.contain("remove it: pulumi config rm cco-infra:sshPublicKey");
    expect(r.declared).to.equal(0);
  });

  it("a raised version with its own checksum runs", async () => {
    const r = await run(cliMap({ "cco-infra:runnerVersion": "2.330.0", "cco-infra:runnerSha256": "a".repeat(64) }));
    expect(r.error).to.equal(null);
    expect(r.declared).to.be.greaterThan(0);
  });
});
