/**
 * A fake GitHub REST API on 127.0.0.1: just the runner endpoints, recording
 * every call and checking the token, so tests see exactly what a script did.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Call {
  method: string;
  path: string;
  authorization: string | undefined;
}

export interface FakeRunner {
  id: number;
  name: string;
  /** DELETE answers 422 this many more times. */
  busyFor: number;
  /** What the list says; online unless set. */
  status?: "online" | "offline";
  /** Set when its custom labels were removed (DELETE .../labels). */
  unlabelled?: boolean;
  /** Its custom labels (GET .../runners/{id} lists them with self-hosted, read-only). */
  labels?: string[];
}

export class FakeGitHub {
  readonly calls: Call[] = [];
  runners: FakeRunner[] = [];
  readonly token = "ghp_fake-operator-token";
  private server: Server | null = null;
  url = "";
  private minted = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const call = { method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization };
      this.calls.push(call);
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(body === undefined ? "" : JSON.stringify(body));
      };
      if (call.authorization !== `Bearer ${this.token}`) return send(401, { message: "Bad credentials" });
      const labels = /^\/repos\/([^/]+\/[^/]+)\/actions\/runners\/(\d+)\/labels$/.exec(call.path);
      const labelsOf = (r: FakeRunner) => [
        { id: 1, name: "self-hosted", type: "read-only" },
        ...(r.labels ?? []).map((name, i) => ({ id: i + 2, name, type: "custom" })),
      ];
      if (labels && (call.method === "DELETE" || call.method === "PUT")) {
        const runner = this.runners.find((r) => r.id === Number(labels[2]));
        if (!runner || labels[1] !== "brentley/cco") return send(404, { message: "Not Found" });
        if (call.method === "DELETE") {
          runner.unlabelled = true;
          runner.labels = [];
          return send(200, { total_count: 1, labels: labelsOf(runner) });
        }
        // PUT: "Set custom labels for a self-hosted runner" replaces them with the body's.
        let body = "";
        req
          .setEncoding("utf8")
          .on("data", (d: string) => (body += d))
          .on("end", () => {
            runner.labels = (JSON.parse(body || "{}") as { labels?: string[] }).labels ?? [];
            runner.unlabelled = false;
            send(200, { total_count: runner.labels.length + 1, labels: labelsOf(runner) });
          });
        return;
      }
      const m = /^\/repos\/([^/]+\/[^/]+)\/actions\/runners(\/registration-token|\/(\d+))?(\?.*)?$/.exec(call.path);
      if (!m || m[1] !== "brentley/cco") return send(404, { message: "Not Found" });
      if (m[2] === "/registration-token" && call.method === "POST") {
        return send(201, { token: `REG-TOKEN-${++this.minted}`, expires_at: "2026-11-26T20:00:00Z" });
      }
      if (!m[2] && call.method === "GET") {
        const page = Number(new URLSearchParams(m[4]?.slice(1)).get("page") ?? 1);
        const slice = this.runners.slice((page - 1) * 100, page * 100);
        return send(200, {
          total_count: this.runners.length,
          runners: slice.map((r) => ({ id: r.id, name: r.name, status: r.status ?? "online", busy: r.busyFor > 0 })),
        });
      }
      if (m[3] && call.method === "GET") {
        const runner = this.runners.find((r) => r.id === Number(m[3]));
        if (!runner) return send(404, { message: "Not Found" });
        return send(200, {
          id: runner.id,
          name: runner.name,
          status: runner.status ?? "online",
          busy: runner.busyFor > 0,
          labels: labelsOf(runner),
        });
      }
      if (m[3] && call.method === "DELETE") {
        const runner = this.runners.find((r) => r.id === Number(m[3]));
        if (!runner) return send(404, { message: "Not Found" });
        if (runner.busyFor > 0) {
          runner.busyFor--;
          return send(422, { message: 'Bad request - Runner "x" is still running a job"' });
        }
        this.runners = this.runners.filter((r) => r !== runner);
        return send(204);
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
