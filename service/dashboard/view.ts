/**
 * What the dashboard shows, computed from a snapshot and its history. Shared
 * by the server (the summary rendered into the page, readable without
 * JavaScript) and the browser script (the same numbers, refreshed), so both
 * always agree. No Node APIs here: this module is bundled into the page.
 */
import type { CompactSnapshot, RunnerStats, Snapshot } from "../aggregate/aggregator";

/**
 * A runner whose last heartbeat is older than this (at the time of the
 * snapshot) is stale. Forwarders send one a minute; the runner-health
 * workflow raises an error after the same 5 minutes.
 */
export const STALE_AFTER_SECONDS = 300;
/** Jobs per minute are measured over this much of the history. */
export const RATE_WINDOW_SECONDS = 300;
/** History entries the page asks for: 2 hours at the default 30 s interval. */
export const HISTORY_POINTS = 240;
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
  tiles: Tile[];
  runners: RunnerRow[];
  repos: RepoRow[];
  aggregation: string;
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

/** An age in seconds as "just now", "3 min ago"... */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 5) return "just now";
  return `${formatDuration(seconds)} ago`;
}

/**
 * Completed jobs per minute over the last `windowSeconds` of history; null
 * until the history covers half a window (a rate over one short interval
 * swings from 0 to several per minute).
 */
export function jobsPerMinute(history: readonly CompactSnapshot[], windowSeconds = RATE_WINDOW_SECONDS): number | null {
  const last = history[history.length - 1];
  if (!last) return null;
  const end = Date.parse(last.at);
  let first: CompactSnapshot | undefined;
  for (let i = history.length - 2; i >= 0; i--) {
    const h = history[i]!;
    if (end - Date.parse(h.at) > windowSeconds * 1000) break;
    first = h;
  }
  if (!first) return null;
  const minutes = (end - Date.parse(first.at)) / 60_000;
  if (minutes * 60 < windowSeconds / 2) return null;
  // A restart starts the counters (and the history) again; never show a negative rate.
  return Math.max(0, last.completed - first.completed) / minutes;
}

/** Points of the jobs-per-minute chart: the rate over the window ending at each entry. */
export function jobsPerMinuteSeries(history: readonly CompactSnapshot[], windowSeconds = RATE_WINDOW_SECONDS): Array<number | null> {
  const out: Array<number | null> = [];
  let from = 0;
  for (let i = 0; i < history.length; i++) {
    const end = Date.parse(history[i]!.at);
    while (end - Date.parse(history[from]!.at) > windowSeconds * 1000) from++;
    const minutes = (end - Date.parse(history[from]!.at)) / 60_000;
    out.push(minutes * 60 >= windowSeconds / 2 ? Math.max(0, history[i]!.completed - history[from]!.completed) / minutes : null);
  }
  return out;
}

function lastJobText(r: RunnerStats): string | null {
  const j = r.lastJob;
  return j ? `${j.repo} · ${j.workflow} / ${j.job}` : null;
}

export function runnerRows(s: Snapshot): RunnerRow[] {
  const now = Date.parse(s.generatedAt);
  let fleetBusy = 0;
  for (const name in s.runners) fleetBusy += s.runners[name]!.busySeconds;
  return Object.keys(s.runners).map((name) => {
    const r = s.runners[name]!;
    const hb = r.lastHeartbeatAt === null ? null : Math.max(0, (now - Date.parse(r.lastHeartbeatAt)) / 1000);
    return {
      name,
      running: r.running,
      completed: r.completed,
      failed: r.failed,
      busySeconds: r.busySeconds,
      busyShare: fleetBusy > 0 ? r.busySeconds / fleetBusy : 0,
      lastHeartbeatAt: r.lastHeartbeatAt,
      heartbeatAgeSeconds: hb,
      stale: hb === null || hb > STALE_AFTER_SECONDS,
      lastJob: lastJobText(r),
    };
  });
}

/** Repositories with the most failures first (then by name), as a failure chart wants them. */
export function repoRows(s: Snapshot): RepoRow[] {
  return Object.keys(s.repos)
    .map((name) => {
      const r = s.repos[name]!;
      return { name, completed: r.completed, failed: r.failed, failureRate: r.completed > 0 ? r.failed / r.completed : 0 };
    })
    .sort((a, b) => b.failed - a.failed || b.failureRate - a.failureRate || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function dashboardView(s: Snapshot, history: readonly CompactSnapshot[]): DashboardView {
  const runners = runnerRows(s);
  const busy = runners.filter((r) => r.running > 0).length;
  const stale = runners.filter((r) => r.stale).length;
  const j = s.jobs;
  const rate = jobsPerMinute(history);
  const a = s.aggregation;
  return {
    status: s.status,
    generatedAt: s.generatedAt,
    tiles: [
      { key: "running", label: "Running jobs", value: formatCount(j.running), detail: `on ${busy} of ${runners.length} runners`, alert: false },
      { key: "perMinute", label: "Jobs per minute", value: rate === null ? "–" : rate.toFixed(1), detail: `completed, last ${RATE_WINDOW_SECONDS / 60} min`, alert: false },
      { key: "completed", label: "Completed", value: formatCount(j.completed), detail: `${formatCount(j.succeeded)} succeeded · ${formatCount(j.cancelled)} cancelled`, alert: false },
      {
        key: "failed",
        label: "Failed",
        value: formatCount(j.failed),
        detail: j.completed > 0 ? `${formatPercent(j.failed / j.completed)} of completed` : "none completed yet",
        alert: j.failed > 0,
      },
      { key: "p50", label: "Duration p50", value: formatDuration(s.durationSeconds.p50), detail: `p95 ${formatDuration(s.durationSeconds.p95)}`, alert: false },
      { key: "stale", label: "Stale runners", value: formatCount(stale), detail: `no heartbeat for ${STALE_AFTER_SECONDS / 60} min`, alert: stale > 0 },
    ],
    runners,
    repos: repoRows(s),
    aggregation:
      `pass ${formatCount(a.passes)} took ${formatCount(a.durationMs)} ms · ${formatCount(s.events.total)} events` +
      ` · ${formatCount(s.events.rejected)} rejected lines` +
      ` · ${formatCount(Object.values(s.events.dropped).reduce((a, b) => a + b, 0))} dropped by limits`,
  };
}
