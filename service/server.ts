/**
 * Wires the service together and runs it: used by `npm start`, the tests and
 * the bench alike.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { mkdir } from "node:fs/promises";
import { serve } from "@hono/node-server";
import { InlineBackend, type AggregationBackend } from "./aggregate/backend";
import { warmingUpSnapshot } from "./aggregate/engine";
import { WorkerBackend } from "./aggregate/worker";
import { createApp } from "./app";
import { CredentialStore } from "./credentials";
import { GitHubPoller } from "./github";
import type { StatsConfig } from "./config";
import { EventLog } from "./eventlog";
import type { Logger } from "./log";
import { createMetrics } from "./metrics";
import { Refresher } from "./refresher";
import { SnapshotStore } from "./store";
import { resolveIngestToken } from "./token";

export interface RunningService {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  store: SnapshotStore;
  refresher: Refresher;
  /** Stops the timer, finishes requests in flight, flushes the event log. */
  stop(): Promise<void>;
}

/** How long shutdown waits for requests in flight before cutting connections. */
const SHUTDOWN_GRACE_MS = 10_000;

export function createBackend(config: StatsConfig): AggregationBackend {
  const options = { declaredRunners: config.runners, historyLimit: config.historyLimit };
  return config.aggregation === "worker"
    ? new WorkerBackend(config.dataDir, config.workerHeapMb, options)
    : new InlineBackend(config.dataDir, options);
}

export async function startService(config: StatsConfig, log: Logger): Promise<RunningService> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o750 });
  const ingestToken = await resolveIngestToken(config.dataDir, config.ingestToken, log);
  const backend = createBackend(config);
  const store = new SnapshotStore(
    warmingUpSnapshot(backend.mode, new Date(), config.runners),
    config.historyLimit,
    config.intervalMs,
  );
  const eventLog = new EventLog(config.dataDir);
  const metrics = createMetrics(store);
  const credentials = new CredentialStore(config.credentialsFile, ingestToken, log);
  await credentials.refresh();
  // The credentials are read again before each pass too, so a removed runner shows as removed without a POST.
  const refreshCredentials = () =>
    credentials.refresh().catch((err: unknown) => log.error("credentials not read", { error: String(err) }));
  const app = createApp({ store, eventLog, ingestToken, credentials, metrics, log });
  // The declared runners: STATS_RUNNERS, or else those holding a credential (a scale-down removes theirs).
  const declaredRunners = () => config.runners ?? (credentials.configured ? credentials.runners : null);
  const github = config.github ? new GitHubPoller(config.github, log) : null;
  const refresher = new Refresher(backend, store, log, () => {
    void refreshCredentials(); // read by the next pass at the latest
    return {
      ingestRefused: metrics.ingest.refused,
      declaredRunners: declaredRunners(),
      ...(github ? { github: github.input() } : {}),
    };
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s as Server));
    s.once("error", reject);
  });
  refresher.start();
  github?.start();
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info("stats service listening", { url, dataDir: config.dataDir, aggregation: backend.mode });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await refresher.stop();
      await github?.stop();
      await new Promise<void>((resolve) => {
        // close() only drops connections idle right now; a keep-alive connection whose
        // request is still in flight becomes idle later, so keep sweeping until done.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(force);
          resolve();
        });
      });
      await eventLog.close();
    })());
  return { url, port, store, refresher, stop };
}
