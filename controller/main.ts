/**
 * cco-controller: runs on a Proxmox node (as root, for pct), one loop per
 * runner container of that node (life.ts). Config: CCO_CONTROLLER_CONFIG
 * (default /etc/cco-controller/controller.json); secrets: systemd credentials
 * (config.ts). SIGTERM: each loop removes its runner if it never got a job and
 * stops its container; a container whose runner runs a job is left to finish.
 */
import { createLogger } from "../service/log";
import { loadConfig, secrets } from "./config";
import { GitHubRunners } from "./github";
import { RunnerLoop } from "./life";
import { Figures, postHeartbeat, serveMetrics } from "./metrics";
import { Pct } from "./pct";
import { RunnerState } from "./state";

async function main(): Promise<void> {
  const log = createLogger();
  const config = loadConfig(process.env.CCO_CONTROLLER_CONFIG ?? "/etc/cco-controller/controller.json");
  const { githubToken, ingestToken } = secrets();
  const figures = new Figures();
  const server = config.metricsPort > 0 ? await serveMetrics(figures, config.metricsHost, config.metricsPort) : null;
  const deps = {
    pct: new Pct(config.pct),
    github: new GitHubRunners(config.apiUrl, config.repo, githubToken),
    state: new RunnerState(config.stateDir),
    figures,
    log,
    onReady: (f: Parameters<typeof postHeartbeat>[2]) =>
      void postHeartbeat(config.statsUrl, ingestToken, f, config.statsRunner),
  };
  const loops = config.runners.map((r) => new RunnerLoop(r.vmid, r.name, config, deps));
  const stop = () => {
    log.info("stopping: removing idle runners, stopping their containers");
    for (const l of loops) l.stop();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  log.info("controller started", {
    repo: config.repo,
    runners: config.runners,
    snapshot: config.snapshot,
    metrics: server?.address() ?? null,
  });
  await Promise.all(loops.map((l) => l.run()));
  server?.close();
  log.info("controller stopped");
}

/**
 * `controller.js --check-config FILE`: validates a config and exits (0 valid;
 * 1 with the reason on stderr). provision-controller.sh runs it before it
 * installs a config, so a bad one is refused there, not found later in a unit
 * that restarts every 5 s (systemctl restart of a simple service succeeds even
 * when the program exits at once).
 */
function checkConfig(file: string): never {
  try {
    loadConfig(file);
    process.stdout.write(`${file}: valid\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

if (process.argv[2] === "--check-config") checkConfig(process.argv[3] ?? "");

main().catch((err) => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "error", msg: "controller failed", error: String(err) })}\n`,
  );
  process.exit(1);
});
