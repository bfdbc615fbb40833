/**
 * The ephemeral runners' lives, from their controllers' heartbeats: each ready
 * life is one heartbeat (controller/metrics.ts postHeartbeat) under the
 * controller's own name, with the slot, the life's number, how long the reset
 * took (stop -> next runner ready) and the slot's failures so far.
 *
 * Figures are taken only from a controller's name, and the service binds an
 * event's `runner` to the credential that posted it (service/app.ts refuses a
 * batch naming another runner, `forged_runner`; service/credentials.ts gives
 * each credential one name): a runner's token cannot speak for a controller.
 * Only the shared STATS_INGEST_TOKEN may name anyone, and it is the operator's.
 *
 * Memory is bounded: the newest LIVES_KEPT lives (event time, reset seconds,
 * failures they brought), LIMITS.lifeSlots slots and LIMITS.controllers
 * controllers. Everything derives from the events, so a restart that re-reads
 * the files rebuilds the same figures.
 */
import { isControllerName } from "../controller-names";
import { MAX_NAME_LENGTH, type HeartbeatEvent } from "../events";
import { round3 } from "./durations";
import { sortedEntries } from "./sorted";
import { MINUTE_MS } from "./timeline";
import { WINDOW_KEYS, WINDOWS, type WindowKey } from "./windows";
import { ownCopy } from "./own";

/** Lives remembered for the windows: a week of 10 runners each ready every ~90 s. */
export const LIVES_KEPT = 65_536;
/** A reset longer than a day is no reset time but a broken clock or a forgery. */
export const MAX_RESET_SECONDS = 24 * 3600;
/** A GitHub runner name: letters, digits, `.`, `_`, `-` (and not a controller's). */
const RUNNER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const LIVES_LIMITS = {
  /** Slots (runner containers) followed; the one heard from least recently goes first. */
  lifeSlots: 256,
  /** Controllers (one per Proxmox node) followed, likewise. */
  controllers: 64,
} as const;

/** Time to ready over one window. */
export interface LivesWindow {
  minutes: number;
  lives: number;
  /** Failed lives reported in the window (from the slots' failure counts). */
  failures: number;
  /** Stop -> next runner ready, over the lives ready in the window; null without lives. */
  resetSeconds: { p50: number | null; p95: number | null; max: number | null };
}

export interface SlotLife {
  controller: string;
  /** The slot's life number, counted by its controller since the controller started. */
  life: number;
  lifeRunner: string | null;
  resetSeconds: number;
  failures: number;
  at: string;
}

export interface LivesStats {
  /** Lives ready, all time. */
  total: number;
  /** Failed lives, all time. */
  failures: number;
  windows: Record<WindowKey, LivesWindow>;
  /** Each slot's newest life. */
  slots: Record<string, SlotLife>;
  /** Each controller's newest heartbeat. */
  controllers: Record<string, { lastHeartbeatAt: string; lives: number }>;
}

/** The figures of a controller's heartbeat, or null when any of them is not what postHeartbeat sends. */
export function lifeFigures(
  e: HeartbeatEvent,
): { slot: string; life: number; lifeRunner: string | null; resetSeconds: number; failures: number } | null {
  const { slot, life, lifeRunner, resetSeconds, failures } = e;
  if (typeof slot !== "string" || !isRunnerName(slot)) return null;
  if (!Number.isSafeInteger(life) || (life as number) < 1) return null;
  if (typeof resetSeconds !== "number" || !Number.isFinite(resetSeconds)) return null;
  if (resetSeconds < 0 || resetSeconds >= MAX_RESET_SECONDS) return null;
  if (!Number.isSafeInteger(failures) || (failures as number) < 0) return null;
  return {
    slot,
    life: life as number,
    lifeRunner: typeof lifeRunner === "string" && isRunnerName(lifeRunner) ? lifeRunner : null,
    resetSeconds,
    failures: failures as number,
  };
}

function isRunnerName(s: string): boolean {
  return s.length <= MAX_NAME_LENGTH && RUNNER_NAME.test(s) && !isControllerName(s);
}

interface SlotState {
  controller: string;
  life: number;
  lifeRunner: string | null;
  resetSeconds: number;
  /** The slot's failure count as last reported (the controller's counter: it restarts at 0 with it). */
  failures: number;
  ms: number;
}

interface ControllerState {
  name: string;
  ms: number;
  lives: number;
}

export class Lives {
  private total = 0;
  private failures = 0;
  private readonly ms = new Float64Array(LIVES_KEPT);
  private readonly reset = new Float64Array(LIVES_KEPT);
  private readonly failed = new Uint32Array(LIVES_KEPT);
  private next = 0;
  private kept = 0;
  private readonly slots = new Map<string, SlotState>();
  private readonly controllers = new Map<string, ControllerState>();
  /** Slots and controllers forgotten to make room (reported in events.dropped). */
  evicted = 0;

  /** Whether the heartbeat carried valid figures (they were counted). */
  heartbeat(controller: string, e: HeartbeatEvent, ms: number): boolean {
    const f = lifeFigures(e);
    if (!f) return false;
    let slot = this.slots.get(f.slot);
    // The same heartbeat again (a retried POST): counted once.
    if (slot && slot.controller === controller && slot.life === f.life && slot.ms === ms) return true;
    const c = this.controller(controller);
    if (ms > c.ms) c.ms = ms;
    c.lives++;
    // The failures this life reports: the rise of the slot's counter (from 0 after a controller restart).
    const prev = slot && slot.controller === controller ? slot.failures : 0;
    const newFailures = f.failures >= prev ? f.failures - prev : f.failures;
    if (!slot) {
      if (this.slots.size >= LIVES_LIMITS.lifeSlots) this.evictOldest(this.slots);
      slot = { controller: "", life: 0, lifeRunner: null, resetSeconds: 0, failures: 0, ms: -Infinity };
      this.slots.set(ownCopy(f.slot), slot);
    }
    slot.failures = f.failures;
    if (ms >= slot.ms) {
      slot.controller = c.name;
      slot.life = f.life;
      slot.lifeRunner = f.lifeRunner === null ? null : ownCopy(f.lifeRunner);
      slot.resetSeconds = f.resetSeconds;
      slot.ms = ms;
    }
    this.total++;
    this.failures += newFailures;
    this.ms[this.next] = ms;
    this.reset[this.next] = f.resetSeconds;
    this.failed[this.next] = newFailures;
    this.next = (this.next + 1) % LIVES_KEPT;
    if (this.kept < LIVES_KEPT) this.kept++;
    return true;
  }

  private controller(name: string): ControllerState {
    let c = this.controllers.get(name);
    if (!c) {
      if (this.controllers.size >= LIVES_LIMITS.controllers) this.evictOldest(this.controllers);
      c = { name: ownCopy(name), ms: -Infinity, lives: 0 };
      this.controllers.set(c.name, c);
    }
    return c;
  }

  private evictOldest(map: Map<string, { ms: number }>): void {
    let oldest: string | null = null;
    let oldestMs = Infinity;
    for (const [k, v] of map) {
      if (v.ms < oldestMs) {
        oldest = k;
        oldestMs = v.ms;
      }
    }
    if (oldest !== null) {
      map.delete(oldest);
      this.evicted++;
    }
  }

  /** Lives ready in the window of `minutes` ending with the minute of `endMs` (as the job windows). */
  private window(endMs: number, minutes: number): LivesWindow {
    const to = (Math.floor(endMs / MINUTE_MS) + 1) * MINUTE_MS;
    const from = to - minutes * MINUTE_MS;
    const resets: number[] = [];
    let failures = 0;
    for (let i = 0; i < this.kept; i++) {
      const ms = this.ms[i]!;
      if (ms < from || ms >= to) continue;
      resets.push(this.reset[i]!);
      failures += this.failed[i]!;
    }
    const sorted = Float64Array.from(resets).sort();
    const rank = (q: number) =>
      sorted.length === 0 ? null : round3(sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!);
    return {
      minutes,
      lives: sorted.length,
      failures,
      resetSeconds: { p50: rank(0.5), p95: rank(0.95), max: rank(1) },
    };
  }

  stats(endMs: number): LivesStats {
    const windows = {} as Record<WindowKey, LivesWindow>;
    for (const key of WINDOW_KEYS) windows[key] = this.window(endMs, WINDOWS[key]);
    const slots = Object.create(null) as Record<string, SlotLife>;
    for (const [name, s] of sortedEntries(this.slots)) {
      slots[name] = {
        controller: s.controller,
        life: s.life,
        lifeRunner: s.lifeRunner,
        resetSeconds: round3(s.resetSeconds),
        failures: s.failures,
        at: new Date(s.ms).toISOString(),
      };
    }
    const controllers = Object.create(null) as LivesStats["controllers"];
    for (const [name, c] of sortedEntries(this.controllers)) {
      controllers[name] = { lastHeartbeatAt: new Date(c.ms).toISOString(), lives: c.lives };
    }
    return { total: this.total, failures: this.failures, windows, slots, controllers };
  }
}
