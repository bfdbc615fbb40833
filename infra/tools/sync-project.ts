/** `npm run sync:project`: rewrites Pulumi.yaml from the config keys of infra/config.ts. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectFile } from "../project";
import { parseCommandLine, runCli } from "./cli";

runCli("sync:project", () => {
  parseCommandLine(
    {
      command: "npm run sync:project --",
      summary: "Writes Pulumi.yaml (project and config schema) from infra/config.ts.",
      options: {},
    },
    process.argv.slice(2),
  );
  writeFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), projectFile());
  process.stdout.write("Pulumi.yaml written\n");
  return 0;
});
