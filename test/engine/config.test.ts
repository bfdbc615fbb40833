/**
 * Engine layer: the config the real CLI hands the program (issue 11, finding 3).
 *
 * `pulumi preview` and `pulumi up` merge Pulumi.yaml's defaults into the
 * stack's config before the engine starts (ValidateStackConfigAndApplyProjectConfig,
 * pkg/cmd/pulumi/operations/preview.go of pulumi v3.248.0), with the same
 * function (mergeConfig, sdk/go/common/workspace/config.go) that
 * `pulumi config --json` applies (ApplyProjectConfig, pkg/cmd/pulumi/config/config.go):
 * so that listing, with --show-secrets, is the map the language host gets.
 * program.test.ts runs the real program on that map (an inline program under
 * the real CLI), where the checks that depend on it are proven.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { MODE_SECRET_KEYS } from "../../infra/config";
import { readStackFile } from "../../infra/stackfile";
import { PROJECT_ROOT } from "../../tools/pulumi/cli";
import { ok, useEngine, type EngineRun } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";

/** `pulumi config --json --show-secrets` as "namespace:key" -> value. */
function configMap(r: EngineRun): Record<string, string> {
  const listed = JSON.parse(ok(r).stdout) as Record<string, { value?: string; secret: boolean }>;
  return Object.fromEntries(Object.entries(listed).map(([k, v]) => [k, v.value ?? "<no value>"]));
}

const projectDefaults = (
  parse(readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { default?: unknown }> }
).config;

/** Keys no committed stack file sets, whose check pairs them (a version and its checksum). */
const DEFAULT_ONLY = ["runnerVersion", "runnerSha256", "nodeVersion", "nodeSha256"];

describe("engine: the config the real CLI hands the program", function () {
  this.timeout(120_000);
  const e = useEngine();

  const stackWithSecrets = (stack: string) => e.stack(stack, TEST_SECRETS);
  const listed = (stack: string) => configMap(e.pulumi(["config", "--json", "--show-secrets", "--stack", stack]));

  for (const stack of ["dev", "prod"]) {
    it(`${stack}: every Pulumi.yaml default is in the map as if the stack had set it, the committed values and secrets as set`, () => {
      stackWithSecrets(stack);
      const map = listed(stack);
      const committed = readStackFile(stack).values;
      for (const name of DEFAULT_ONLY) {
        expect(committed, `Pulumi.${stack}.yaml sets ${name}`).to.not.have.property(`cco-infra:${name}`);
        expect(map[`cco-infra:${name}`], name).to.equal(String(projectDefaults[name]!.default));
      }
      // Each project key, and the mode's secrets Pulumi.yaml leaves out (set here from TEST_SECRETS).
      expect(Object.keys(map).filter((k) => k.startsWith("cco-infra:")).length, "one entry per project key").to.equal(
        Object.keys(projectDefaults).length + Object.keys(MODE_SECRET_KEYS).length,
      );
      for (const [k, v] of Object.entries({ ...committed, ...TEST_SECRETS })) expect(map[k], k).to.equal(v);
    });
  }

  it("`pulumi config get` of a key only Pulumi.yaml sets answers its default", () => {
    stackWithSecrets("dev");
    expect(ok(e.pulumi(["config", "get", "cco-infra:runnerSha256", "--stack", "dev"])).stdout.trim()).to.equal(
      projectDefaults.runnerSha256!.default,
    );
  });

  it("a stack that raises runnerVersion alone still hands the program a runnerSha256: the old default, indistinguishable from a set one", () => {
    stackWithSecrets("dev");
    ok(e.pulumi(["config", "set", "cco-infra:runnerVersion", "2.330.0", "--stack", "dev"]));
    ok(e.pulumi(["config", "set", "cco-infra:nodeVersion", "22.22.0", "--stack", "dev"]));
    const map = listed("dev");
    expect(map["cco-infra:runnerVersion"]).to.equal("2.330.0");
    expect(map["cco-infra:runnerSha256"]).to.equal(projectDefaults.runnerSha256!.default);
    expect(map["cco-infra:nodeVersion"]).to.equal("22.22.0");
    expect(map["cco-infra:nodeSha256"]).to.equal(projectDefaults.nodeSha256!.default);
  });
});
