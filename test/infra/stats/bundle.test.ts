import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleStatsService } from "../../../infra/stats/bundle";
import { checkDashboardAssets, dashboardAssetsModule } from "../../../infra/stats/dashboard-assets";
import { STATS_NODE_FLAGS } from "../../../infra/stats/runtime";
import { ASSETS, SCRIPT } from "../../../service/dashboard/page";
import { spawnService, waitFor, type ChildService } from "../../helpers/service";
import { useTempDir } from "../../helpers/tmp";

describe("stats bundle: the one file the container gets", function () {
  this.timeout(60_000);
  const tmp = useTempDir();
  let svc: ChildService | undefined;
  afterEach(async () => {
    if (svc && svc.child.exitCode === null) svc.child.kill("SIGTERM");
    await svc?.exited;
    svc = undefined;
  });

  it("serves the dashboard and its assets from the bundle alone (they are compiled in)", async () => {
    const bundle = bundleStatsService(join(tmp.path, "stats-service.js"));
    svc = await spawnService(
      { STATS_DATA_DIR: join(tmp.path, "data"), STATS_INTERVAL_MS: "50" },
      bundle.path,
      STATS_NODE_FLAGS,
    );
    await waitFor("a first pass", async () => (await fetch(`${svc!.url}/healthz`)).status === 200);
    const page = await fetch(`${svc.url}/`);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.include(`<script src="${SCRIPT.path}" defer></script>`);
    for (const asset of ASSETS) {
      const res = await fetch(`${svc.url}${asset.path}`);
      expect(res.status, asset.path).to.equal(200);
      expect(await res.text()).to.equal(asset.body);
    }
  });

  it("is built from the assets the build step wrote, and refuses missing or stale ones", () => {
    expect(() => checkDashboardAssets()).to.not.throw();
    const stale = join(tmp.path, "assets.generated.ts");
    expect(() => checkDashboardAssets(stale)).to.throw(`${stale} is missing: run npm ci or npm run build:dashboard`);
    writeFileSync(stale, dashboardAssetsModule().replace('DASHBOARD_CSS = "', 'DASHBOARD_CSS = "/* older */'));
    expect(() => checkDashboardAssets(stale)).to.throw(
      `${stale} is older than the dashboard's sources: run npm run build:dashboard`,
    );
    writeFileSync(stale, dashboardAssetsModule());
    expect(() => checkDashboardAssets(stale)).to.not.throw();
  });
});
