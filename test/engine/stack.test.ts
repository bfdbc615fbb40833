/**
 * Engine layer: the real Pulumi CLI (tools/pulumi/build.sh) creates dev and
 * prod from the committed stack files, on a local file backend with the
 * passphrase secrets provider, and keeps every secret of the program only as
 * ciphertext. The committed files are copied, never touched.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { readStackFile, stackFilePath } from "../../infra/stackfile";
import { PROJECT_ROOT } from "../../tools/pulumi/cli";
import { ok, useEngine } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";

describe("engine: stacks and secrets in the real CLI", function () {
  this.timeout(120_000);
  const e = useEngine();

  it("the CLI is the release's: it reports package.json's @pulumi/pulumi version", () => {
    const pin = (
      JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }
    ).dependencies["@pulumi/pulumi"];
    expect(ok(e.pulumi(["version"])).stdout.trim()).to.equal(`v${pin}`);
  });

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: stack init from the committed file, config set --secret for every secret, only ciphertext in the file`, () => {
      const committed = readFileSync(stackFilePath(stack), "utf8");
      e.stack(stack);
      // One by one, the way an operator sets them (the value on stdin, not in argv).
      for (const [key, value] of Object.entries(TEST_SECRETS))
        ok(e.pulumi(["config", "set", "--secret", key, "--stack", stack], value));

      const copy = join(e.ws.projectDir, `Pulumi.${stack}.yaml`);
      const text = readFileSync(copy, "utf8");
      const doc = parse(text) as { config: Record<string, unknown>; encryptionsalt?: string };
      expect(doc.encryptionsalt, "the passphrase provider's salt").to.match(/^v1:/);
      for (const [key, value] of Object.entries(TEST_SECRETS)) {
        expect(doc.config[key], key).to.have.keys("secure");
        expect((doc.config[key] as { secure: string }).secure, key).to.match(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
        for (const line of value.split("\n")) expect(text, `${key} in clear`).to.not.contain(line);
        // The ciphertext is the secret: the passphrase gives it back...
        expect(ok(e.pulumi(["config", "get", key, "--stack", stack])).stdout.trimEnd()).to.equal(value);
      }
      // ...and another passphrase does not.
      const right = e.pulumi(["config", "get", "github:token", "--stack", stack]);
      e.ws.env.PULUMI_CONFIG_PASSPHRASE = "not-the-passphrase";
      const refused = e.pulumi(["config", "get", "github:token", "--stack", stack]);
      expect(right.status).to.equal(0);
      expect(refused.status).to.not.equal(0);
      expect(refused.stderr).to.contain("incorrect passphrase");

      // Every committed value is kept as it was (the CLI rewrites the file's layout, not its values).
      const before = readStackFile(stack);
      const after = readStackFile(stack, copy);
      expect(after.values).to.deep.equal(before.values);
      expect(after.encrypted.sort()).to.deep.equal(Object.keys(TEST_SECRETS).sort());
      expect(readFileSync(stackFilePath(stack), "utf8"), "the committed file").to.equal(committed);
    });
  }
});
