/**
 * A fake of GitHub's Actions REST API on 127.0.0.1: the two endpoints the
 * stats service polls, with the shapes and behaviours it relies on, from
 * https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
 * and .../workflow-jobs#list-jobs-for-a-workflow-run (API version 2022-11-28;
 * the "workflow-run" and "job" schemas of github/rest-api-description,
 * descriptions/api.github.com):
 * - `{ total_count, workflow_runs }` and `{ total_count, jobs }`, `per_page`
 *   (at most 100) and `page` (from 1), a `Link` header with rel="next";
 * - an ETag on each answer, 304 with no body to a matching If-None-Match;
 * - x-ratelimit-remaining / x-ratelimit-reset headers, 401 without the token.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeJob {
  id: number;
  run_id: number;
  run_attempt: number;
  status: "queued" | "in_progress" | "completed" | "waiting";
  conclusion: "success" | "failure" | "cancelled" | "skipped" | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  name: string;
  labels: string[];
  runner_name: string | null;
  workflow_name: string;
}

export class FakeGitHubActions {
  readonly token = "github_pat_fake-read-only";
  /** Runs by repository (newest first, as GitHub lists them), each with its jobs. */
  readonly runs = new Map<string, Array<{ id: number; jobs: FakeJob[] }>>();
  readonly calls: Array<{ path: string; status: number }> = [];
  rateRemaining = 5000;
  url = "";
  private server: Server | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        this.calls.push({ path: `${url.pathname}${url.search}`, status });
        res.writeHead(status, {
          "Content-Type": "application/json; charset=utf-8",
          "x-ratelimit-remaining": String(this.rateRemaining),
          "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
          ...headers,
        });
        res.end(body === undefined ? "" : JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, { message: "Bad credentials" });
      const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30));
      const page = Number(url.searchParams.get("page") ?? 1);
      const paged = <T>(items: T[]) => items.slice((page - 1) * perPage, page * perPage);
      const answer = (body: unknown, total: number) => {
        const text = JSON.stringify(body);
        const etag = `W/"${createHash("sha1").update(text).digest("hex")}"`;
        const headers: Record<string, string> = { ETag: etag };
        if (page * perPage < total) {
          const next = new URL(url.toString());
          next.searchParams.set("page", String(page + 1));
          headers.Link = `<${this.url}${next.pathname}${next.search}>; rel="next"`;
        }
        if (req.headers["if-none-match"] === etag) return send(304, undefined, headers); // not counted against the limit
        this.rateRemaining--;
        return send(200, body, headers);
      };
      let m = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs$/.exec(url.pathname);
      if (m) {
        const runs = this.runs.get(m[1]!) ?? [];
        return answer(
          {
            total_count: runs.length,
            workflow_runs: paged(runs).map((r) => ({ id: r.id, run_attempt: 1, status: "completed" })),
          },
          runs.length,
        );
      }
      m = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)\/jobs$/.exec(url.pathname);
      if (m) {
        const run = (this.runs.get(m[1]!) ?? []).find((r) => r.id === Number(m[2]));
        if (!run) return send(404, { message: "Not Found" });
        return answer({ total_count: run.jobs.length, jobs: paged(run.jobs) }, run.jobs.length);
      }
      return send(404, { message: "Not Found" });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
