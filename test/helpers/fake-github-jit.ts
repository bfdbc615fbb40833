/**
 * A fake GitHub for just-in-time runners: the REST calls the controller makes
 * (on 127.0.0.1) and a job "broker" the runner stub pulls its one job from (on
 * a Unix socket the test bind-mounts into the container). Every call is
 * recorded with its time, so a test sees exactly who asked for what and when.
 *
 * REST, as GitHub documents it (https://docs.github.com/en/rest/actions/self-hosted-runners,
 * API version 2022-11-28; shapes from github/rest-api-description):
 * - POST /repos/{o}/{r}/actions/runners/generate-jitconfig {name, runner_group_id,
 *   labels (1..100), work_folder} -> 201 {runner, encoded_jit_config}; 409 when
 *   a runner of that name exists; 422 on a missing field;
 * - GET /repos/{o}/{r}/actions/runners -> {total_count, runners};
 * - DELETE /repos/{o}/{r}/actions/runners/{id} -> 204; 422 while it runs a job; 404 when gone.
 * The encoded config is what actions/runner's Runner.cs decodes for --jitconfig:
 * base64 of JSON {".runner", ".credentials", ".credentials_rsaparams": base64}.
 *
 * The broker stands in for the Actions service the real listener talks to
 * (actions/runner src/Runner.Listener/MessageListener.cs: CreateSessionAsync,
 * GetNextMessageAsync). What the test relies on is GitHub's rule for JIT
 * runners: the config is single-use and the runner gets one job. So a session
 * is granted once per runner (a second listener with the same credentials: 409,
 * as the service's TaskAgentSessionConflictException), the runner takes one
 * job, and it is removed when that job completes (401 from then on).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface QueuedJob {
  id: number;
  repo: string;
  job: string;
  script: string;
  /** Labels the job's runs-on asks for. */
  labels: string[];
}

export interface JitRunner {
  id: number;
  name: string;
  labels: string[];
  clientId: string;
  secret: string;
  createdAt: number;
  /** When its (only) session was granted: the runner is ready. */
  sessionAt?: number;
  jobId?: number;
  completedAt?: number;
  removedAt?: number;
  removedBy?: "completion" | "delete";
}

export interface JobRecord extends QueuedJob {
  runnerId?: number;
  takenAt?: number;
  completedAt?: number;
  result?: string;
  output?: string;
}

export interface BrokerCall {
  at: number;
  what: "session" | "job" | "complete";
  runnerId: number | null;
  status: number;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

export class FakeJitGitHub {
  readonly token = "github_pat_fake-controller-token";
  readonly repo = "brentley/cco";
  readonly runners = new Map<number, JitRunner>();
  readonly jobs: JobRecord[] = [];
  readonly brokerCalls: BrokerCall[] = [];
  readonly restCalls: Array<{ at: number; method: string; path: string; status: number }> = [];
  private nextRunnerId = 100;
  private sessions = new Map<string, number>();
  private rest: Server | null = null;
  private broker: Server | null = null;
  url = "";

  constructor(
    /** Where the broker listens (bind-mounted into the container). */
    readonly socketPath: string,
    /** The path of that socket inside the container (written into .runner). */
    readonly socketInContainer: string,
  ) {}

  enqueue(job: Omit<QueuedJob, "id">): JobRecord {
    const record = { ...job, id: 9000 + this.jobs.length + 1 };
    this.jobs.push(record);
    return record;
  }

  /** Runners GitHub still lists. */
  listed(): JitRunner[] {
    return [...this.runners.values()].filter((r) => r.removedAt === undefined);
  }

  async start(): Promise<void> {
    this.rest = createServer((req, res) => void this.handleRest(req, res));
    this.broker = createServer((req, res) => void this.handleBroker(req, res));
    await new Promise<void>((resolve) => this.rest!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.rest.address() as AddressInfo).port}`;
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve) => this.broker!.listen(this.socketPath, resolve));
    // Container root is an unmapped host id there: the socket must be open to it.
    chmodSync(this.socketPath, 0o777);
  }

  async stop(): Promise<void> {
    for (const s of [this.rest, this.broker]) {
      s?.closeAllConnections();
      await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    }
  }

  private static body(req: IncomingMessage): Promise<string> {
    return new Promise((resolve) => {
      let data = "";
      req.on("data", (d: Buffer) => (data += d.toString("utf8")));
      req.on("end", () => resolve(data));
    });
  }

  private async handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "";
    const send = (status: number, body?: unknown) => {
      this.restCalls.push({ at: Date.now(), method: req.method ?? "", path, status });
      res.writeHead(status, { "Content-Type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    };
    const text = await FakeJitGitHub.body(req);
    if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, { message: "Bad credentials" });
    const base = `/repos/${this.repo}/actions/runners`;
    if (path === `${base}/generate-jitconfig` && req.method === "POST") {
      let body: { name?: unknown; runner_group_id?: unknown; labels?: unknown; work_folder?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { message: "Problems parsing JSON" });
      }
      const labels = body.labels;
      if (
        typeof body.name !== "string" ||
        typeof body.runner_group_id !== "number" ||
        !Array.isArray(labels) ||
        labels.length < 1
      ) {
        return send(422, { message: "Invalid request: name, runner_group_id and labels are required" });
      }
      if (this.listed().some((r) => r.name === body.name))
        return send(409, { message: "Already exists - A runner with the same name already exists." });
      const runner: JitRunner = {
        id: ++this.nextRunnerId,
        name: body.name,
        labels: labels.map(String),
        clientId: randomBytes(8).toString("hex"),
        secret: randomBytes(16).toString("hex"),
        createdAt: Date.now(),
      };
      this.runners.set(runner.id, runner);
      const files = {
        ".runner": b64(
          JSON.stringify({
            agentId: runner.id,
            agentName: runner.name,
            poolId: 1,
            poolName: "Default",
            serverUrl: "https://pipelines.actions.githubusercontent.invalid/",
            gitHubUrl: `https://github.com/${this.repo}`,
            workFolder: typeof body.work_folder === "string" ? body.work_folder : "_work",
            ephemeral: true,
            stubSocket: this.socketInContainer,
          }),
        ),
        ".credentials": b64(
          JSON.stringify({
            scheme: "OAuth",
            data: { clientId: runner.clientId, authorizationUrl: "https://vstoken.actions.githubusercontent.invalid/" },
          }),
        ),
        ".credentials_rsaparams": b64(JSON.stringify({ d: runner.secret })),
      };
      return send(201, {
        runner: {
          id: runner.id,
          name: runner.name,
          os: "unknown",
          status: "offline",
          busy: false,
          labels: runner.labels.map((name) => ({ name, type: "custom" })),
        },
        encoded_jit_config: b64(JSON.stringify(files)),
      });
    }
    if (path.startsWith(base) && req.method === "GET" && !path.slice(base.length).replace(/^\?.*/, "")) {
      const list = this.listed();
      return send(200, {
        total_count: list.length,
        runners: list.map((r) => ({
          id: r.id,
          name: r.name,
          status: r.sessionAt ? "online" : "offline",
          busy: this.busy(r),
        })),
      });
    }
    const m = new RegExp(`^${base}/(\\d+)$`).exec(path);
    if (m && req.method === "DELETE") {
      const r = this.runners.get(Number(m[1]));
      if (!r || r.removedAt !== undefined) return send(404, { message: "Not Found" });
      if (this.busy(r)) return send(422, { message: `Bad request - Runner "${r.name}" is still running a job"` });
      r.removedAt = Date.now();
      r.removedBy = "delete";
      return send(204);
    }
    return send(404, { message: "Not Found" });
  }

  private busy(r: JitRunner): boolean {
    return r.jobId !== undefined && r.completedAt === undefined;
  }

  /** The runner whose credentials the stub sent ("clientId:secret"), if GitHub still has it. */
  private caller(req: IncomingMessage): JitRunner | undefined {
    const m = /^Bearer ([0-9a-f]+):([0-9a-f]+)$/.exec(req.headers.authorization ?? "");
    return [...this.runners.values()].find((r) => m && r.clientId === m[1] && r.secret === m[2]);
  }

  private async handleBroker(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "").replace(/^\/_broker/, "");
    const text = await FakeJitGitHub.body(req);
    const runner = this.caller(req);
    const send = (what: BrokerCall["what"], status: number, body?: unknown) => {
      this.brokerCalls.push({ at: Date.now(), what, runnerId: runner?.id ?? null, status });
      res.writeHead(status, { "Content-Type": "application/json" }).end(body === undefined ? "" : JSON.stringify(body));
    };
    if (path === "/sessions" && req.method === "POST") {
      if (!runner || runner.removedAt !== undefined) return send("session", 401, { message: "runner not found" });
      if (runner.sessionAt !== undefined)
        return send("session", 409, { message: "A session for this runner already exists." });
      runner.sessionAt = Date.now();
      const sessionId = randomBytes(8).toString("hex");
      this.sessions.set(sessionId, runner.id);
      return send("session", 201, { sessionId });
    }
    const poll = /^\/sessions\/([0-9a-f]+)\/job$/.exec(path);
    if (poll && req.method === "GET") {
      if (!runner || this.sessions.get(poll[1]!) !== runner.id || runner.removedAt !== undefined)
        return send("job", 404, { message: "session not found" });
      // Long poll, bounded: up to a second for a job to come.
      for (let i = 0; i < 10; i++) {
        if (runner.jobId !== undefined || runner.removedAt !== undefined) break;
        const job = this.jobs.find((j) => j.runnerId === undefined && j.labels.every((l) => runner.labels.includes(l)));
        if (job) {
          job.runnerId = runner.id;
          job.takenAt = Date.now();
          runner.jobId = job.id;
          return send("job", 200, { id: job.id, repo: job.repo, job: job.job, script: job.script });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return send("job", 204);
    }
    const done = /^\/jobs\/(\d+)\/complete$/.exec(path);
    if (done && req.method === "POST") {
      const job = this.jobs.find((j) => j.id === Number(done[1]));
      if (!runner || !job || job.runnerId !== runner.id || job.completedAt !== undefined)
        return send("complete", 404, { message: "job not found" });
      const body = JSON.parse(text || "{}") as { result?: string; output?: string };
      job.completedAt = Date.now();
      job.result = body.result;
      job.output = body.output;
      // A JIT runner is removed once its one job is done.
      runner.completedAt = job.completedAt;
      runner.removedAt = job.completedAt;
      runner.removedBy = "completion";
      return send("complete", 200, {});
    }
    return send("job", 404, { message: "Not Found" });
  }
}
