/**
 * The files this program commits to the repository: four workflows,
 * dependabot.yml and the release version script. They are kept as real files
 * beside this module (valid and lintable as they are); the only things filled
 * in are the runner labels of each job and, in runner-health.yml, the stale
 * limit the dashboard and `npm run health` use.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, isScalar, isSeq, parse, parseDocument, Scalar } from "yaml";
import { STALE_AFTER_SECONDS } from "../../service/dashboard/view";

export const WORKFLOWS = ["build.yml", "release.yml", "security.yml", "runner-health.yml"] as const;
export type Workflow = (typeof WORKFLOWS)[number];

/** Workflows whose jobs main requires to pass. */
export const REQUIRED_CHECK_WORKFLOWS: readonly Workflow[] = ["build.yml", "security.yml"];

export interface RepositoryFileSpec {
  /** Path in the repository. */
  path: string;
  content: string;
}

function source(relative: string): string {
  return readFileSync(join(__dirname, relative), "utf8");
}

/**
 * A workflow with each job's `runs-on: [self-hosted, ...]` starting with the
 * configured labels instead (self-hosted first); comments and layout stay.
 */
export function renderWorkflow(file: Workflow, labels: readonly string[]): string {
  if (labels[0] !== "self-hosted")
    throw new Error(`runner labels must start with self-hosted, got ${JSON.stringify(labels)}`);
  const doc = parseDocument(source(`workflows/${file}`));
  const jobs = doc.get("jobs");
  if (!isMap(jobs)) throw new Error(`${file}: no jobs`);
  for (const job of jobs.items) {
    const runsOn = isMap(job.value) ? job.value.get("runs-on", true) : undefined;
    if (!isSeq(runsOn) || !isScalar(runsOn.items[0]) || runsOn.items[0].value !== "self-hosted") {
      throw new Error(`${file}: job ${String(job.key)} must run on [self-hosted, ...]`);
    }
    runsOn.items.splice(0, 1, ...labels.map((l) => new Scalar(l)));
    const env = isMap(job.value) ? job.value.get("env", true) : undefined;
    if (isMap(env) && env.has("STALE_AFTER_SECONDS")) env.set("STALE_AFTER_SECONDS", STALE_AFTER_SECONDS);
  }
  return doc.toString({ lineWidth: 0 });
}

/** The names GitHub reports a workflow's jobs under (the status check contexts). */
export function jobNames(file: Workflow): string[] {
  const wf = parse(source(`workflows/${file}`)) as { jobs: Record<string, { name?: string }> };
  return Object.entries(wf.jobs).map(([id, job]) => job.name ?? id);
}

/** Status checks main requires: every job of the build and security workflows. */
export function requiredChecks(): string[] {
  return REQUIRED_CHECK_WORKFLOWS.flatMap(jobNames);
}

export function repositoryFiles(labels: readonly string[]): RepositoryFileSpec[] {
  return [
    ...WORKFLOWS.map((w) => ({ path: `.github/workflows/${w}`, content: renderWorkflow(w, labels) })),
    { path: ".github/dependabot.yml", content: source("dependabot.yml") },
    { path: ".github/scripts/next-version.sh", content: source("scripts/next-version.sh") },
  ];
}

/** Where a repository file comes from in this project (for the offline plan's --out). */
export const NEXT_VERSION_SCRIPT = join(__dirname, "scripts", "next-version.sh");
