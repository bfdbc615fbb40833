/** Runs one of the project's tools (a .ts entry point) as npm does: in its own process, from the project root. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../infra/stackfile";

const run = promisify(execFile);

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runTool(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ToolRun> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", join(PROJECT_ROOT, script), ...args], {
      cwd: PROJECT_ROOT,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as ToolRun;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `npm run plan` as a newcomer runs it: its own process, no credentials in the environment. */
export async function runPlan(...args: string[]): Promise<ToolRun> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(PULUMI_|GITHUB_TOKEN|PROXMOX)/.test(k)) delete env[k];
  return runTool("infra/plan/main.ts", args, env);
}
