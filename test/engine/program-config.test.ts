/**
 * Engine layer: the SSH key as an operator sets it, on the map the real CLI
 * hands over (`pulumi config --json --show-secrets`, the same merge preview
 * applies: see config.test.ts), given to the real program under Pulumi's
 * mocks. Its proof is in the containers' inputs, which the real engine does
 * not reach here (it stops at the first provider plugin: program.test.ts), so
 * this one check stays under mocks; the program's other config checks run
 * under the real CLI in program.test.ts.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { settle, startRecording } from "../../infra/plan/recorder";
import { program } from "../../infra/program";
import { ok, useEngine } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";
import { useTempDir } from "../helpers/tmp";

describe("engine: the SSH key from the real CLI's map, under mocks", function () {
  this.timeout(120_000);
  const e = useEngine();
  const tmp = useTempDir("cco-engine-key-");

  it("the SSH key as an operator sets it (ssh-keygen's file on stdin): the containers get the public half ssh-keygen wrote", async () => {
    const key = join(tmp.path, "cco_provisioning");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const { "cco-infra:sshPrivateKey": _, ...others } = TEST_SECRETS;
    e.stack("dev", others);
    ok(e.pulumi(["config", "set", "--secret", "cco-infra:sshPrivateKey", "--stack", "dev"], readFileSync(key, "utf8")));
    const listed = JSON.parse(ok(e.pulumi(["config", "--json", "--show-secrets", "--stack", "dev"])).stdout) as Record<
      string,
      { value: string }
    >;
    const recorder = await startRecording(
      "cco-infra",
      "dev",
      Object.fromEntries(Object.entries(listed).map(([k, v]) => [k, v.value])),
      Object.keys(TEST_SECRETS),
    );
    program();
    await settle();
    const expected = `${readFileSync(`${key}.pub`, "utf8").split(" ").slice(0, 2).join(" ")} cco-provisioning`;
    const containers = recorder.resources.filter((r) => r.type === "proxmoxve:index/containerLegacy:ContainerLegacy");
    expect(containers.length).to.be.greaterThan(1);
    for (const c of containers)
      expect((c.inputs.initialization as { userAccount: { keys: string[] } }).userAccount.keys, c.name).to.deep.equal([
        expected,
      ]);
  });
});
