/**
 * `npm start`: the stats service with its embedded defaults (127.0.0.1:8080,
 * data in ./.data/stats). SIGTERM/SIGINT stop it cleanly with exit code 0.
 */
import { isMainThread } from "node:worker_threads";
import { ConfigError, loadStatsConfig } from "./config";
import { createLogger } from "./log";
import { startService } from "./server";

async function main(): Promise<void> {
  const log = createLogger();
  let config;
  try {
    config = loadStatsConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const service = await startService(config, log);
  const shutdown = (signal: string) => {
    log.info("stopping", { signal });
    service.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error("unclean stop", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

// In the bundle this file is also the aggregation worker's entry (see aggregate/worker.ts).
if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
