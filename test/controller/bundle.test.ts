import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleController } from "../../infra/controller/bundle";
import { PROJECT_ROOT } from "../../infra/stackfile";
import { useTempDir } from "../helpers/tmp";

describe("controller: the bundle the node runs", function () {
  this.timeout(60_000);
  const tmp = useTempDir("cco-ctl-bundle-");

  it("imports neither infra/ nor @pulumi/*", () => {
    const dir = join(PROJECT_ROOT, "controller");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      const text = readFileSync(join(dir, f), "utf8");
      expect(text, f).to.not.match(/from ["'](\.\.\/infra|@pulumi)/);
    }
  });

  it("builds into one file that starts, and stops on a bad config naming the field", () => {
    const b = bundleController(join(tmp.path, "controller.js"));
    expect(b.bytes).to.be.greaterThan(10_000);
    expect(readFileSync(b.path, "utf8")).to.not.include("@pulumi/");
    const config = join(tmp.path, "controller.json");
    writeFileSync(
      config,
      JSON.stringify({ repo: "brentley/cco", labels: ["self-hosted"], runners: [{ vmid: 12, name: "runner-01" }] }),
    );
    const r = spawnSync(process.execPath, [b.path], {
      env: { ...process.env, CCO_CONTROLLER_CONFIG: config },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include("Invalid controller config runners.0.vmid = 12");
  });
});
