/**
 * What the dashboard shows, computed from a snapshot and its history. Shared
 * by the server (the summary rendered into the page, readable without
 * JavaScript) and the browser script (the same numbers, refreshed), so both
 * always agree. No Node APIs here: this module is bundled into the page.
 */
import type { RunnerStats, Snapshot } from "../aggregate/aggregator";
import { WINDOW_KEYS, type WindowKey } from "../aggregate/windows";

/**
 * A runner whose last heartbeat is older than this (at the time of the
 * snapshot) is stale. Forwarders send one a minute. The one place of this
 * rule: `npm run health` and the runner-health workflow rendered into cco
 * (infra/github/files.ts fills it in) use it too.
 */
export const STALE_AFTER_SECONDS = 300;
/** The window the page shows unless asked for another. */
export const DEFAULT_WINDOW: WindowKey = "24h";
/** How often the runners' forwarders send (their timer: infra/runners/files/units/cco-forwarder.timer). */
export const FORWARDER_INTERVAL_SECONDS = 60;
/** A runner no longer declared is listed (as removed) this long after its last event, then not at all. */
export const REMOVED_SHOWN_SECONDS = 24 * 3600;

export function windowOf(raw: string | null | undefined): WindowKey {
  return (WINDOW_KEYS as string[]).includes(raw ?? "") ? (raw as WindowKey) : DEFAULT_WINDOW;
}
export const WINDOW_LABELS: Record<WindowKey, string> = { "1h": "last hour", "24h": "last 24 h", "7d": "last 7 days" };
/** The page refreshes at the aggregation interval, but never more often than this. */
export const MIN_REFRESH_MS = 1000;

export interface Tile {
  /** Stable key: `data-stat` in the page. */
  key: string;
  label: string;
  value: string;
  detail: string;
  /** Draws attention (failures, stale runners). */
  alert: boolean;
}

export interface RunnerRow {
  name: string;
  running: number;
  completed: number;
  failed: number;
  busySeconds: number;
  /** This runner's part of the fleet's busy time, 0 to 1. */
  busyShare: number;
  lastHeartbeatAt: string | null;
  /** Seconds between the last heartbeat and the snapshot; null without one. */
  heartbeatAgeSeconds: number | null;
  stale: boolean;
  /** Not in STATS_RUNNERS any more (scaled down): shown as such, never as stale. */
  removed: boolean;
  /** Declared, and no event from it yet. */
  neverSeen: boolean;
  listener: RunnerStats["listener"];
  listenerExitCode: number | null;
  /** Heard from recently, and its listener (when it says) is running. */
  healthy: boolean;
  /** "owner/repo · workflow / job" of the newest job seen, or null. */
  lastJob: string | null;
}

export interface RepoRow {
  name: string;
  completed: number;
  failed: number;
  /** failed / completed, 0 when nothing completed. */
  failureRate: number;
}

export interface DashboardView {
  status: Snapshot["status"];
  generatedAt: string;
  window: WindowKey;
  tiles: Tile[];
  runners: RunnerRow[];
  repos: RepoRow[];
  aggregation: string;
  /** How far behind the events the page can be, and why. */
  freshness: string;
}

/** 1234 -> "1,234" (the same in every locale: tests compare text). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Seconds as "4.2s", "42s", "4m 10s", "2h 05m"; "–" for null. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "–";
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toString()}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s` : `${s / 60}m`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** A rate or share as "12.5" with at most one decimal. */
export function formatDecimal(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return "–";
  return (Math.round(x * 10) / 10).toString();
}

export function formatPercent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/** An age in seconds as "just now", "42s ago", "4m 10s ago" (the dashboard's and `npm run health`'s). */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 5) return "just now";
  return `${formatDuration(seconds)} ago`;
}

function lastJobText(r: RunnerStats): string | null {
  const j = r.lastJob;
  return j ? `${j.repo} · ${j.workflow} / ${j.job}` : null;
}

export function runnerRows(s: Snapshot): RunnerRow[] {
  const now = Date.parse(s.generatedAt);
  let fleetBusy = 0;
  for (const name in s.runners) fleetBusy += s.runners[name]!.busySeconds;
  const rows: RunnerRow[] = [];
  for (const name of Object.keys(s.runners)) {
    const r = s.runners[name]!;
    const hb = r.lastHeartbeatAt === null ? null : Math.max(0, (now - Date.parse(r.lastHeartbeatAt)) / 1000);
    const removed = !r.declared;
    if (removed && (r.lastEventAt === null || now - Date.parse(r.lastEventAt) > REMOVED_SHOWN_SECONDS * 1000)) continue; // gone
    const stale = !removed && (hb === null || hb > STALE_AFTER_SECONDS);
    const listenerDown = r.listener === "failed" || r.listener === "refused" || r.listener === "stopped";
    rows.push({
      name,
      running: r.running,
      completed: r.completed,
      failed: r.failed,
      busySeconds: r.busySeconds,
      busyShare: fleetBusy > 0 ? r.busySeconds / fleetBusy : 0,
      lastHeartbeatAt: r.lastHeartbeatAt,
      heartbeatAgeSeconds: hb,
      stale,
      removed,
      neverSeen: r.lastEventAt === null,
      listener: r.listener,
      listenerExitCode: r.listenerExitCode,
      healthy: !removed && !stale && !listenerDown,
      lastJob: lastJobText(r),
    });
  }
  return rows;
}

/** Repositories with the most failures first (then by name), as a failure chart wants them. */
export function repoRows(s: Snapshot): RepoRow[] {
  return Object.keys(s.repos)
    .map((name) => {
      const r = s.repos[name]!;
      return {
        name,
        completed: r.completed,
        failed: r.failed,
        failureRate: r.completed > 0 ? r.failed / r.completed : 0,
      };
    })
    .sort(
      (a, b) =>
        b.failed - a.failed || b.failureRate - a.failureRate || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
}

export function formatResult(result: string | undefined): string {
  return result ?? "running";
}

/** "up to 90 s behind: forwarders send every 60 s, a pass runs every 30 s". */
export function freshnessText(intervalMs: number): string {
  const pass = Math.round(intervalMs / 1000);
  return `Up to ${formatDuration(FORWARDER_INTERVAL_SECONDS + pass)} behind the runners: forwarders send every ${FORWARDER_INTERVAL_SECONDS} s, a pass runs every ${pass} s.`;
}

export function dashboardView(s: Snapshot, window: WindowKey = DEFAULT_WINDOW, intervalMs = 30_000): DashboardView {
  const runners = runnerRows(s);
  const live = runners.filter((r) => !r.removed);
  const busy = live.filter((r) => r.running > 0).length;
  const stale = live.filter((r) => r.stale).length;
  const listenerDown = live.filter((r) => r.listener === "failed" || r.listener === "refused").length;
  const j = s.jobs;
  const w = s.windows[window];
  const label = WINDOW_LABELS[window];
  const a = s.aggregation;
  const dropped = Object.values(s.events.dropped).reduce((x, y) => x + y, 0);
  const last = s.fleet.lastJob;
  const now = Date.parse(s.generatedAt);
  const tiles: Tile[] = [
    {
      key: "running",
      label: "Running now",
      value: formatCount(j.running),
      detail: `on ${busy} of ${live.length} runners`,
      alert: false,
    },
    {
      key: "completed",
      label: `Completed, ${label}`,
      value: formatCount(w.completed),
      detail: `${window === "1h" ? `${formatDecimal(w.jobsPerMinute)} a minute` : `${formatDecimal(w.jobsPerMinute * 60)} an hour`} · all time ${formatCount(j.completed)}`,
      alert: false,
    },
    {
      key: "failed",
      label: `Failed, ${label}`,
      value: formatCount(w.failed),
      detail: `${w.completed > 0 ? `${formatPercent(w.failed / w.completed)} of completed` : "none completed"} · all time ${formatCount(j.failed)}`,
      alert: w.failed > 0,
    },
    {
      key: "p50",
      label: `Duration p50, ${label}`,
      value: formatDuration(w.durationSeconds.p50),
      detail: `p95 ${formatDuration(w.durationSeconds.p95)} · all time p50 ${formatDuration(s.durationSeconds.p50)}`,
      alert: false,
    },
    {
      key: "utilisation",
      label: `Utilisation, ${label}`,
      value:
        w.utilisation === null
          ? "–"
          : w.utilisation < 0.1
            ? `${formatDecimal(w.utilisation * 100)} %`
            : formatPercent(w.utilisation),
      detail: `busy ${formatDuration(w.busySeconds)} of ${w.runners} runner${w.runners === 1 ? "" : "s"} × ${label.replace("last ", "")}`,
      alert: false,
    },
    {
      key: "lastJob",
      label: "Last job",
      value: last ? formatResult(last.result) : "–",
      detail: last
        ? `${formatAge(Math.max(0, (now - Date.parse(last.at)) / 1000))} · ${last.repo} · ${last.workflow} / ${last.job} on ${last.runner}`
        : "none completed yet",
      alert: last?.result === "failed",
    },
    {
      key: "stale",
      label: "Runners not healthy",
      value: formatCount(stale + listenerDown),
      detail: `${formatCount(stale)} without a heartbeat for ${STALE_AFTER_SECONDS / 60} min · ${formatCount(listenerDown)} listener failed or refused`,
      alert: stale + listenerDown > 0,
    },
    {
      key: "abandoned",
      label: "Abandoned jobs",
      value: formatCount(j.abandoned),
      detail: `started over 5 days ago, never completed · ${formatCount(dropped)} dropped by limits`,
      alert: j.abandoned > 0 || dropped > 0,
    },
  ];
  // Ephemeral mode: the controllers' lives (absent in persistent mode, where no controller reports).
  if (s.lives.total > 0) {
    const l = s.lives.windows[window];
    tiles.push({
      key: "ready",
      label: `Time to ready p50, ${label}`,
      value: formatDuration(l.resetSeconds.p50),
      detail:
        l.lives > 0
          ? `worst ${formatDuration(l.resetSeconds.max)} · ${formatCount(l.lives)} ${l.lives === 1 ? "life" : "lives"} · ${formatCount(l.failures)} failed`
          : `no life ready in the window · all time ${formatCount(s.lives.total)}`,
      alert: l.failures > 0,
    });
  }
  if (s.github) {
    const g = s.github;
    tiles.push({
      key: "queue",
      label: `Queue time p50, ${label}`,
      value: formatDuration(w.queueSeconds.p50),
      detail: `p95 ${formatDuration(w.queueSeconds.p95)} · ${formatCount(g.waiting)} waiting now`,
      alert: false,
    });
    tiles.push({
      key: "reconcile",
      label: "GitHub vs hooks",
      value: formatCount(g.resultMismatch + g.missingHook),
      detail: `mismatches of ${formatCount(g.compared)} jobs: ${formatCount(g.resultMismatch)} result, ${formatCount(g.missingHook)} no hook${g.error ? ` · last poll failed: ${g.error}` : ""}`,
      alert: g.resultMismatch + g.missingHook > 0 || g.error !== null,
    });
  }
  return {
    status: s.status,
    generatedAt: s.generatedAt,
    window,
    tiles,
    runners,
    repos: repoRows(s),
    aggregation:
      `pass ${formatCount(a.passes)} took ${formatCount(a.durationMs)} ms · ${formatCount(s.events.total)} events` +
      ` · ${formatCount(s.events.rejected)} rejected lines · ${formatCount(dropped)} dropped by limits`,
    freshness: freshnessText(intervalMs),
  };
}
