/**
 * One runner container's lives, one job each:
 *   rollback to the clean snapshot (pct stops it first when it runs) -> start
 *   -> a JIT config from GitHub (a runner name unique to this life) -> handed
 *   in from the host side (pct exec, the config on stdin) -> ready -> wait for
 *   the container's own stop (the runner exits after its one job and the
 *   container powers off) -> remove the runner from GitHub if it never got its
 *   job -> next life.
 * The container's only signal to the controller is its own stop: nothing in it
 * can talk to the controller, and the controller takes nothing from it.
 */
import type { Logger } from "../service/log";
import type { GitHubRunners } from "./github";
import type { Figures, ReadyFigures } from "./metrics";
import type { Pct } from "./pct";
import type { RunnerState } from "./state";

export interface LifeSettings {
  snapshot: string;
  labels: readonly string[];
  runnerGroupId: number;
  /** The script in the container that takes the JIT config on stdin. */
  handoff: string;
  pollMs: number;
  handoffTimeoutMs: number;
}

export interface LifeDeps {
  pct: Pick<Pct, "status" | "start" | "stop" | "rollback" | "exec">;
  github: Pick<GitHubRunners, "generateJitConfig" | "removeRunner">;
  state: Pick<RunnerState, "get" | "set" | "clear">;
  figures: Figures;
  log: Logger;
  onReady?: (f: ReadyFigures) => void;
}

/** The hand-off script's "not ready yet" (EX_TEMPFAIL): the container is still booting. */
export const HANDOFF_NOT_READY = 75;

class Stage extends Error {
  constructor(
    readonly stage: string,
    cause: unknown,
  ) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

async function stage<T>(name: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw err instanceof Stage ? err : new Stage(name, err);
  }
}

/** A runner name GitHub has not seen: the slot's name and a time-based suffix. */
export function lifeRunnerName(base: string, now = Date.now()): string {
  return `${base}-${now.toString(36)}`;
}

/**
 * The labels of a life's runner: the configured ones and the slot's name, as a
 * persistent runner has (the health workflow targets each runner by it).
 */
export function lifeLabels(labels: readonly string[], slot: string): string[] {
  return labels.includes(slot) ? [...labels] : [...labels, slot];
}

export class RunnerLoop {
  private stopping = false;
  private wake: (() => void) | null = null;
  private lives = 0;
  private failures = 0;

  constructor(
    readonly vmid: number,
    readonly name: string,
    private readonly settings: LifeSettings,
    private readonly deps: LifeDeps,
  ) {}

  /** Ends the loop after the current step; a runner that never got its job is removed, its container stopped. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  async run(): Promise<void> {
    const { log, figures } = this.deps;
    let since = Date.now();
    let backoff = 2000;
    await this.retire("controller start", false).catch((err) =>
      log.warn("could not remove the last runner", { runner: this.name, error: String(err) }),
    );
    while (!this.stopping) {
      try {
        since = await this.life(since);
        backoff = 2000;
      } catch (err) {
        const s = err instanceof Stage ? err.stage : "unknown";
        this.failures++;
        figures.failures.inc({ runner: this.name, stage: s });
        log.error("life failed", {
          runner: this.name,
          vmid: this.vmid,
          stage: s,
          error: (err as Error).message,
          retryInMs: backoff,
        });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 60_000);
        since = Date.now();
      }
    }
    await this.retire("controller stop", true);
  }

  /** One life; returns when its container stopped (the time it was seen stopped). */
  private async life(since: number): Promise<number> {
    const { pct, github, state, figures, log } = this.deps;
    const s = this.settings;
    await stage("retire", () => this.retire("new life", false));
    await stage("rollback", () => pct.rollback(this.vmid, s.snapshot));
    const rolledBack = Date.now();
    await stage("start", () => pct.start(this.vmid));
    const jit = await stage("jitconfig", () =>
      github.generateJitConfig({
        name: lifeRunnerName(this.name),
        labels: lifeLabels(s.labels, this.name),
        runnerGroupId: s.runnerGroupId,
      }),
    );
    state.set(this.vmid, { runnerId: jit.runnerId, lifeRunner: jit.runnerName });
    await stage("handoff", () => this.handOff(jit.encoded));
    const ready = Date.now();
    const life = ++this.lives;
    const resetSeconds = (ready - since) / 1000;
    figures.lives.inc({ runner: this.name });
    figures.reset.observe({ runner: this.name }, resetSeconds);
    log.info("runner ready", {
      runner: this.name,
      vmid: this.vmid,
      life,
      lifeRunner: jit.runnerName,
      runnerId: jit.runnerId,
      resetSeconds,
      rollbackSeconds: (rolledBack - since) / 1000,
    });
    this.deps.onReady?.({ runner: this.name, life, lifeRunner: jit.runnerName, resetSeconds, failures: this.failures });

    await stage("wait", () => this.waitStopped());
    if (this.stopping) return Date.now();
    const stopped = Date.now();
    const removal = await stage("remove", () => github.removeRunner(jit.runnerId));
    if (removal !== "busy") state.clear(this.vmid);
    if (removal === "removed") figures.jobless.inc({ runner: this.name });
    log.info("life ended", {
      runner: this.name,
      vmid: this.vmid,
      life,
      lifeRunner: jit.runnerName,
      runnerId: jit.runnerId,
      job: removal === "gone" ? "ran its one job (GitHub removed the runner)" : "none (the runner was removed)",
      start: new Date(ready).toISOString(),
      end: new Date(stopped).toISOString(),
      resetSeconds,
    });
    return stopped;
  }

  /** pct exec of the hand-off script, the config on stdin; retried while the container boots. */
  private async handOff(encoded: string): Promise<void> {
    const deadline = Date.now() + this.settings.handoffTimeoutMs;
    for (;;) {
      const r = await this.deps.pct.exec(this.vmid, [this.settings.handoff], `${encoded}\n`);
      if (r.code === 0) return;
      if (Date.now() > deadline || this.stopping)
        throw new Error(`hand-off exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
      await this.sleep(r.code === HANDOFF_NOT_READY ? 100 : 500);
    }
  }

  private async waitStopped(): Promise<void> {
    while (!this.stopping && (await this.deps.pct.status(this.vmid)) !== "stopped")
      await this.sleep(this.settings.pollMs);
  }

  /**
   * The container's last runner, if GitHub still has it, is removed before its
   * container goes. A runner busy with a job is left to finish (its container
   * powers off by itself); on a controller stop its container is left running.
   */
  private async retire(why: string, stopContainer: boolean): Promise<void> {
    const { pct, github, state, log, figures } = this.deps;
    const current = state.get(this.vmid);
    if (current) {
      let removal = await github.removeRunner(current.runnerId);
      while (removal === "busy" && !stopContainer) {
        log.info("waiting for the running job before the reset", {
          runner: this.name,
          lifeRunner: current.lifeRunner,
          why,
        });
        await this.sleep(Math.max(this.settings.pollMs, 2000));
        removal = (await pct.status(this.vmid)) === "stopped" ? await github.removeRunner(current.runnerId) : "busy";
      }
      if (removal === "busy") {
        log.warn("left running: its runner has a job", { runner: this.name, lifeRunner: current.lifeRunner, why });
        return;
      }
      if (removal === "removed") figures.jobless.inc({ runner: this.name });
      log.info("removed the runner before its container goes", {
        runner: this.name,
        lifeRunner: current.lifeRunner,
        runnerId: current.runnerId,
        removal,
        why,
      });
      state.clear(this.vmid);
    }
    if (stopContainer && (await pct.status(this.vmid)) === "running") await pct.stop(this.vmid);
  }
}
