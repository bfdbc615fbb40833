/**
 * Pulumi.yaml, derived from the config keys declared in config.ts: the CLI
 * validates stack config against its `config:` schema, so that schema is
 * written from the one declaration (npm run sync:project) and a test checks
 * the committed file matches.
 */
import { stringify } from "yaml";
import { CONFIG_KEYS, NAMESPACE, SECRET_KEYS } from "./config";

export const PROJECT_DESCRIPTION =
  "Release infrastructure of cco: the GitHub repository, self-hosted runners in unprivileged Proxmox LXC containers, and their stats service";

export function projectFile(): string {
  const config: Record<string, Record<string, unknown>> = {};
  for (const [k, spec] of Object.entries(CONFIG_KEYS)) {
    const entry: Record<string, unknown> = { type: spec.type, description: spec.description };
    if (spec.type === "array") entry.items = { type: "string" };
    if (spec.default !== undefined) entry.default = spec.default;
    config[k] = entry;
  }
  for (const [k, description] of Object.entries(SECRET_KEYS)) config[k] = { type: "string", description, secret: true };
  const doc = {
    name: NAMESPACE,
    description: PROJECT_DESCRIPTION,
    runtime: { name: "nodejs", options: { typescript: true, packagemanager: "npm" } },
    main: "index.ts",
    config,
  };
  return `# Generated from infra/config.ts by \`npm run sync:project\`; edit the keys there.\n${stringify(doc, { lineWidth: 0 })}`;
}
