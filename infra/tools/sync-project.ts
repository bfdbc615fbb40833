/** `npm run sync:project`: rewrites Pulumi.yaml from the config keys of infra/config.ts. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectFile } from "../project";

writeFileSync(join(__dirname, "..", "..", "Pulumi.yaml"), projectFile());
process.stdout.write("Pulumi.yaml written\n");
