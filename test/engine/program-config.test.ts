/**
 * Engine layer: the program's own config checks, run on the exact map the
 * real CLI hands over (issue 11, finding 3). The language host cannot run
 * here (docs/engine.md), so the map is read from the real CLI
 * (`pulumi config --json --show-secrets`, the same merge preview applies:
 * see config.test.ts) and given to the real program under Pulumi's mocks,
 * as `pulumi.runtime.allConfig()` (infra/program.ts reads it from there).
 */
import { expect } from "chai";
import { ConfigError } from "../../infra/config";
import { settle, startRecording } from "../../infra/plan/recorder";
import { program } from "../../infra/program";
import { ok, useEngine } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";

describe("engine: the program's config checks on the real CLI's map", function () {
  this.timeout(120_000);
  const e = useEngine();

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

  it("a raised version with its own checksum runs", async () => {
    const r = await run(cliMap({ "cco-infra:runnerVersion": "2.330.0", "cco-infra:runnerSha256": "a".repeat(64) }));
    expect(r.error).to.equal(null);
    expect(r.declared).to.be.greaterThan(0);
  });
});
