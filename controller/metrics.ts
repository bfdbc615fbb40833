/**
 * The controller's figures. The stats service accepts only job_started,
 * job_completed and heartbeat events (DESIGN.md), so the figures go two ways:
 * - GET /metrics on the controller (Prometheus text, 127.0.0.1 by default):
 *   lives, failures by stage, reset durations;
 * - a heartbeat per runner when a new life is ready, to the stats service,
 *   with the figures as extra fields (heartbeats are loose objects there: the
 *   fields are kept in its event files, and the runner's lastHeartbeatAt moves).
 */
import { createServer, type Server } from "node:http";
import { Counter, Histogram, Registry } from "prom-client";

export class Figures {
  readonly registry = new Registry();
  readonly lives = new Counter({
    name: "cco_controller_lives_total",
    help: "Runner lives started (one job each).",
    labelNames: ["runner"],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: "cco_controller_failures_total",
    help: "Lives that failed, by the step that failed.",
    labelNames: ["runner", "stage"],
    registers: [this.registry],
  });
  readonly reset = new Histogram({
    name: "cco_controller_reset_seconds",
    help: "From a container's stop to its next runner handed its JIT config (rollback, start, JIT config, hand-off).",
    labelNames: ["runner"],
    buckets: [1, 2, 3, 5, 7.5, 10, 15, 30, 60],
    registers: [this.registry],
  });
  readonly jobless = new Counter({
    name: "cco_controller_jobless_removed_total",
    help: "Runners removed from GitHub because their life ended without a job.",
    labelNames: ["runner"],
    registers: [this.registry],
  });
}

export function serveMetrics(figures: Figures, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      figures.registry.metrics().then(
        (text) => res.writeHead(200, { "Content-Type": figures.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

export interface ReadyFigures {
  runner: string;
  life: number;
  lifeRunner: string;
  resetSeconds: number;
  failures: number;
}

/**
 * Posts the heartbeat of a ready runner to the stats service (POST /api/events);
 * never throws. `as` is the runner name the token speaks for (the controller's
 * own credential: the service refuses an event naming another); the slot goes
 * in `slot`. Empty `as`: the slot's name.
 */
export async function postHeartbeat(statsUrl: string, token: string, f: ReadyFigures, as = ""): Promise<boolean> {
  if (!statsUrl || !token) return false;
  const event = {
    v: 1,
    type: "heartbeat",
    ts: new Date().toISOString(),
    runner: as || f.runner,
    slot: f.runner,
    source: "cco-controller",
    life: f.life,
    lifeRunner: f.lifeRunner,
    resetSeconds: f.resetSeconds,
    failures: f.failures,
  };
  try {
    const res = await fetch(`${statsUrl.replace(/\/$/, "")}/api/events`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(5000),
    });
    return res.status === 202;
  } catch {
    return false;
  }
}
