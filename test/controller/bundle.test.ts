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

  it("--check-config: exits 0 on a valid config, 1 with the reason on a bad one or one that is not JSON, and starts nothing", () => {
    const b = bundleController(join(tmp.path, "controller.js"));
    const check = (text: string) => {
      const file = join(tmp.path, "check.json");
      writeFileSync(file, text);
      // No credentials and no pct here: a check that went on to start the controller would fail differently.
      return spawnSync(process.execPath, [b.path, "--check-config", file], { encoding: "utf8", timeout: 20_000 });
    };
    const good = { repo: "brentley/cco", labels: ["self-hosted"], runners: [{ vmid: 201, name: "runner-01" }] };
    const ok = check(JSON.stringify(good));
    expect([ok.status, ok.stdout.trim().endsWith(": valid")], ok.stderr).to.deep.equal([0, true]);
    const bad = check(JSON.stringify({ ...good, runners: [] }));
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/check\.json: Invalid controller config runners = \[\]/);
    const notJson = check('{"repo":');
    expect(notJson.status).to.equal(1);
    expect(notJson.stderr).to.include("Invalid controller config: not JSON");
  });
});
