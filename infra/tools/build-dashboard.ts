/** `npm run build:dashboard`: rewrites service/dashboard/assets.generated.ts from the dashboard's sources. */
import { writeFileSync } from "node:fs";
import { ASSETS_MODULE, dashboardAssetsModule } from "../stats/dashboard-assets";

writeFileSync(ASSETS_MODULE, dashboardAssetsModule());
process.stdout.write(`${ASSETS_MODULE} written\n`);
