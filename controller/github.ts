/**
 * The two GitHub REST calls the controller makes, per GitHub's REST reference
 * "REST API endpoints for self-hosted runners"
 * (https://docs.github.com/en/rest/actions/self-hosted-runners, API version 2022-11-28):
 *
 * - "Create configuration for a just-in-time runner for a repository":
 *   POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig,
 *   body { name, runner_group_id, labels (1 to 100), work_folder (default _work) },
 *   201 { runner: { id, name, ... }, encoded_jit_config }. Fine-grained tokens
 *   need the repository's "Administration" permission (write).
 * - "Delete a self-hosted runner from a repository":
 *   DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}, 204; 422 while
 *   the runner runs a job; 404 once it is gone (a JIT runner is removed by
 *   GitHub after its one job).
 */

export interface JitConfig {
  runnerId: number;
  runnerName: string;
  /** What run.sh --jitconfig takes. A secret: never logged, never on a command line. */
  encoded: string;
}

export type Removal = "removed" | "gone" | "busy";

export class GitHubError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class GitHubRunners {
  constructor(
    private readonly apiUrl: string,
    private readonly repo: string,
    private readonly token: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.apiUrl.replace(/\/$/, "")}/repos/${this.repo}/actions/runners${path}`, {
      method,
      headers: {
        Accept: "application/vnd.github+json",
        Authorization: `Bearer ${this.token}`,
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "cco-controller",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  async generateJitConfig(args: {
    name: string;
    labels: readonly string[];
    runnerGroupId: number;
    workFolder?: string;
  }): Promise<JitConfig> {
    const { status, json } = await this.call("POST", "/generate-jitconfig", {
      name: args.name,
      runner_group_id: args.runnerGroupId,
      labels: args.labels,
      work_folder: args.workFolder ?? "_work",
    });
    const body = json as
      { runner?: { id?: unknown; name?: unknown }; encoded_jit_config?: unknown; message?: unknown } | undefined;
    if (status !== 201)
      throw new GitHubError(status, `generate-jitconfig for ${args.name}: HTTP ${status} ${messageOf(body)}`.trim());
    const id = body?.runner?.id;
    const encoded = body?.encoded_jit_config;
    if (typeof id !== "number" || typeof encoded !== "string" || encoded === "") {
      throw new GitHubError(
        status,
        `generate-jitconfig for ${args.name}: no runner.id or encoded_jit_config in the answer`,
      );
    }
    return { runnerId: id, runnerName: typeof body?.runner?.name === "string" ? body.runner.name : args.name, encoded };
  }

  /** Removes a runner: "removed" (it never ran a job), "gone" (already removed: a JIT runner after its job), "busy" (running one). */
  async removeRunner(id: number): Promise<Removal> {
    const { status, json } = await this.call("DELETE", `/${id}`);
    if (status === 204) return "removed";
    if (status === 404) return "gone";
    if (status === 422) return "busy";
    throw new GitHubError(status, `remove runner ${id}: HTTP ${status} ${messageOf(json)}`.trim());
  }
}

/** The `message` of a GitHub error answer, as text ("" when there is none). */
function messageOf(json: unknown): string {
  const message = (json as { message?: unknown } | undefined)?.message;
  return message === undefined || message === null
    ? ""
    : typeof message === "string"
      ? message
      : JSON.stringify(message);
}
