/** `npm run build:dashboard`: rewrites service/dashboard/assets.generated.ts from the dashboard's sources. */
import { ASSETS_MODULE, writeDashboardAssets } from "../stats/dashboard-assets";

writeDashboardAssets();
process.stdout.write(`${ASSETS_MODULE} written\n`);
