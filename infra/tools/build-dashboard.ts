/** `npm run build:dashboard`: rewrites service/dashboard/assets.generated.ts from the dashboard's sources. */
import { ASSETS_MODULE, writeDashboardAssets } from "../stats/dashboard-assets";
import { parseCommandLine, runCli } from "./cli";

runCli("build:dashboard", () => {
  parseCommandLine(
    {
      command: "npm run build:dashboard --",
      summary: "Writes service/dashboard/assets.generated.ts from client.ts and style.css.",
      options: {},
    },
    process.argv.slice(2),
  );
  writeDashboardAssets();
  process.stdout.write(`${ASSETS_MODULE} written\n`);
  return 0;
});
