/**
 * The dashboard's markup as plain element trees, built once here and turned
 * into HTML text by the server (`toHtml`) or into DOM nodes by the browser
 * script. Event text (runner, repository, workflow and job names) only ever
 * becomes a text node or an escaped attribute value: nothing here is parsed
 * as HTML in the browser, and the server escapes every string it writes.
 */
import type { SeriesPoint } from "../aggregate/aggregator";
import { SERIES_STEP_MINUTES, type WindowKey } from "../aggregate/windows";
import {
  formatAge,
  formatCount,
  formatDecimal,
  formatDuration,
  formatPercent,
  type DashboardView,
  type RepoRow,
  type RunnerRow,
  type Tile,
} from "./view";

export type Attrs = Record<string, string | number | boolean | null | undefined>;
export interface El {
  tag: string;
  attrs: Attrs;
  children: Child[];
}
export type Child = El | string;

const NAME = /^[a-z][a-z0-9-]*$/i;

/** An element. Tag and attribute names are constants of this code, never data. */
export function h(tag: string, attrs: Attrs = {}, ...children: Array<Child | null | undefined | false>): El {
  if (!NAME.test(tag)) throw new Error(`bad tag name ${tag}`);
  for (const k of Object.keys(attrs)) if (!NAME.test(k)) throw new Error(`bad attribute name ${k}`);
  return { tag, attrs, children: children.filter((c): c is Child => c !== null && c !== undefined && c !== false) };
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe in HTML content and in a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Elements without content or end tag (an end tag "</br>" would be read as a second <br>). */
const VOID = new Set(["br", "hr", "img", "wbr"]);

export function toHtml(node: Child): string {
  if (typeof node === "string") return escapeHtml(node);
  let out = `<${node.tag}`;
  for (const [k, v] of Object.entries(node.attrs)) {
    if (v === false || v === null || v === undefined) continue;
    out += v === true ? ` ${k}` : ` ${k}="${escapeHtml(String(v))}"`;
  }
  out += ">";
  if (VOID.has(node.tag)) return out;
  for (const c of node.children) out += toHtml(c);
  return `${out}</${node.tag}>`;
}

/** A horizontal bar for a share from 0 to 1 (SVG attributes, not inline styles: the CSP allows none). */
function bar(share: number, cls: string): El {
  const w = Math.max(0, Math.min(1, share)) * 100;
  return h(
    "svg",
    {
      class: `bar ${cls}`,
      viewBox: "0 0 100 10",
      preserveAspectRatio: "none",
      "aria-hidden": "true",
      focusable: "false",
    },
    h("rect", { class: "track", width: 100, height: 10 }),
    h("rect", { class: "fill", width: Number(w.toFixed(2)), height: 10 }),
  );
}

/**
 * How a time is shown: in UTC, the same in the server's render and in the
 * browser (a page that switched to local time on load would show two formats).
 */
export type Clock = (iso: string) => string;

export const utcClock: Clock = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
/** Axis labels: the time of day, with the date when the window spans days. */
export function axisClock(window: WindowKey): Clock {
  return window === "7d" ? (iso) => `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : (iso) => iso.slice(11, 16);
}
/** A chart point's time, in the tooltip. */
export const pointClock: Clock = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

export function tileMarkup(t: Tile): El {
  return h(
    "div",
    { class: t.alert ? "tile alert" : "tile", "data-stat": t.key },
    h("h2", {}, t.label),
    h("p", { class: "value" }, t.value),
    h("p", { class: "detail" }, t.detail),
  );
}

function listenerText(r: RunnerRow): string | null {
  if (r.listener === null || r.listener === "running") return null;
  return `listener ${r.listener}${r.listenerExitCode === null ? "" : ` (exit ${r.listenerExitCode})`}`;
}

export function runnerRowMarkup(r: RunnerRow, clock: Clock): El {
  const busy = r.running > 1 ? `busy ×${r.running}` : r.running ? "busy" : null;
  const listener = listenerText(r);
  const rowClass = r.removed ? "removed" : r.stale ? "stale" : !r.healthy ? "unhealthy" : undefined;
  return h(
    "tr",
    { class: rowClass, "data-runner": r.name },
    h("th", { scope: "row", class: "name" }, r.name),
    h(
      "td",
      { class: "state" },
      // Removed by a scale-down: neither stale nor idle, just no longer part of the fleet.
      r.removed && h("span", { class: "badge removed" }, "removed"),
      // A stale runner that still has a job running is probably stuck: both show.
      r.stale && h("span", { class: "badge stale" }, r.neverSeen ? "never seen" : "stale"),
      listener && h("span", { class: `badge listener ${r.listener}` }, listener),
      busy && h("span", { class: "badge busy" }, busy),
      !r.removed && !r.stale && !busy && !listener && h("span", { class: "badge idle" }, "idle"),
    ),
    h(
      "td",
      { class: "share", "data-label": "Busy" },
      bar(r.busyShare, "busy"),
      h("span", { class: "num" }, formatPercent(r.busyShare)),
    ),
    h("td", { class: "num", "data-field": "completed", "data-label": "Jobs" }, formatCount(r.completed)),
    h("td", { class: "num", "data-field": "failed", "data-label": "Failed" }, formatCount(r.failed)),
    h(
      "td",
      { class: "heartbeat", "data-label": "Heartbeat" },
      r.lastHeartbeatAt
        ? h("time", { datetime: r.lastHeartbeatAt, title: clock(r.lastHeartbeatAt) }, formatAge(r.heartbeatAgeSeconds))
        : "never",
    ),
    h("td", { class: "last-job", "data-label": "Last job" }, r.lastJob ?? "–"),
  );
}

export function repoRowMarkup(r: RepoRow, maxFailed: number): El {
  return h(
    "tr",
    { "data-repo": r.name },
    h("th", { scope: "row", class: "name" }, r.name),
    h(
      "td",
      { class: "share", "data-field": "failed", "data-label": "Failed" },
      bar(maxFailed > 0 ? r.failed / maxFailed : 0, "failed"),
      h("span", { class: "num" }, formatCount(r.failed)),
    ),
    h("td", { class: "num", "data-label": "Rate" }, formatPercent(r.failureRate)),
    h("td", { class: "num", "data-field": "completed", "data-label": "Completed" }, formatCount(r.completed)),
  );
}

function emptyRow(columns: number, text: string): El {
  return h("tr", { class: "empty" }, h("td", { colspan: columns }, text));
}

export const RUNNER_COLUMNS = ["Runner", "Now", "Busy share", "Jobs", "Failed", "Last heartbeat", "Last job"];
export const REPO_COLUMNS = ["Repository", "Failed", "Rate", "Completed"];

/** The bodies of the page's dynamic parts, by element id. */
export function sections(
  view: DashboardView,
  series: readonly SeriesPoint[],
  clock: Clock = utcClock,
): Record<string, El[]> {
  const maxFailed = view.repos.reduce((m, r) => Math.max(m, r.failed), 0);
  return {
    tiles: view.tiles.map(tileMarkup),
    "runner-rows": view.runners.length
      ? view.runners.map((r) => runnerRowMarkup(r, clock))
      : [emptyRow(RUNNER_COLUMNS.length, "No runner has sent an event yet.")],
    "repo-rows": view.repos.length
      ? view.repos.map((r) => repoRowMarkup(r, maxFailed))
      : [emptyRow(REPO_COLUMNS.length, "No job has completed yet.")],
    ...charts(series, view.window),
  };
}

/** One line of a chart; null values leave a gap. */
export interface Series {
  key: string;
  /** What the line is, in words. */
  label: string;
  values: Array<number | null>;
}

/** The smallest of 1, 2, 5 x 10^k at or above x (a readable axis maximum). */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

/** Readable maxima of a time axis, in seconds. */
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** The smallest readable time (1 s, 2 s, 5 s ... 30 min, 1 h ...) at or above `seconds`. */
export function niceSeconds(seconds: number): number {
  return TIME_STEPS.find((s) => s >= seconds) ?? niceCeil(seconds / 86400) * 86400;
}

/** Plot coordinates: x from 0 to 1000, y from 0 (top) to 100, stretched to the box by CSS. */
const W = 1000;
const H = 100;

function pathOf(xs: number[], values: Array<number | null>, max: number): string {
  let d = "";
  let run: Array<[number, number]> = [];
  const flush = () => {
    // A lone point (the first entry, or one between gaps) is drawn as a short dash.
    if (run.length === 1) {
      const [x, y] = run[0]!;
      run.push([x + 6 <= W ? x + 6 : x - 6, y]);
    }
    run.forEach(([x, y], i) => (d += `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`));
    run = [];
  };
  values.forEach((v, i) => {
    if (v === null) flush();
    else run.push([xs[i]!, H - (v / max) * H]);
  });
  flush();
  return d;
}

/**
 * A time chart: the plot as SVG (lines keep their width however the box is
 * stretched), the axis labels as HTML text around it.
 */
export function timeChart(
  id: string,
  times: readonly string[],
  series: Series[],
  y: { format: (v: number) => string; ceil: (v: number) => number },
  axisClock: Clock,
): El[] {
  const t = times.map((x) => Date.parse(x));
  const t0 = t[0] ?? 0;
  const span = (t[t.length - 1] ?? 0) - t0;
  const xs = t.map((x) => (span > 0 ? ((x - t0) / span) * W : W));
  let top = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > top) top = v;
  const max = y.ceil(top);
  const grid = [0, 0.5, 1].map((f) => h("line", { class: "grid", x1: 0, x2: W, y1: f * H, y2: f * H }));
  const lines = series.map((s) =>
    h("path", { class: `line ${s.key}`, d: pathOf(xs, s.values, max), "data-series": s.key }),
  );
  const mid = times.length ? new Date(t0 + span / 2).toISOString() : "";
  const xLabels = times.length ? distinct([times[0]!, mid, times[times.length - 1]!].map(axisClock)) : ["no data yet"];
  const yLabels = distinct([y.format(max), y.format(max / 2), y.format(0)]);
  // What the lines show, for screen readers (the plot itself is hidden from them).
  const told = series.map((s) => {
    const known = s.values.filter((v): v is number => v !== null);
    return known.length
      ? `${s.label} now ${y.format(known[known.length - 1]!)}, highest ${y.format(Math.max(...known))}`
      : `${s.label}: no data yet`;
  });
  return [
    h("p", { class: "visually-hidden" }, `Over the last ${formatDuration(span / 1000)}: ${told.join("; ")}.`),
    h("div", { class: "y-axis", "aria-hidden": "true" }, ...yLabels.map((l) => h("span", {}, l))),
    h(
      "svg",
      {
        class: "plot",
        id: `${id}-plot`,
        viewBox: `0 0 ${W} ${H}`,
        preserveAspectRatio: "none",
        "aria-hidden": "true",
        focusable: "false",
      },
      ...grid,
      ...lines,
      h("line", { class: "cursor", x1: 0, x2: 0, y1: 0, y2: H, hidden: true }),
    ),
    h("div", { class: "x-axis", "aria-hidden": "true" }, ...xLabels.map((l) => h("span", {}, l))),
    h("p", { class: "tooltip", role: "status", hidden: true }),
  ];
}

/** Labels with repeats removed (a short span can give two equal times; a small maximum two equal values). */
function distinct(labels: string[]): string[] {
  return labels.filter((l, i) => labels.indexOf(l) === i);
}

/** What the tooltip says of point `i` of a chart. */
export function pointText(id: string, series: readonly SeriesPoint[], i: number, window: WindowKey): string {
  const p = series[i];
  if (!p) return "";
  const step = SERIES_STEP_MINUTES[window];
  const at = `${pointClock(p.at)}${step > 1 ? ` (${step} min)` : ""}`;
  const d = (v: number | null) => (v === null ? "–" : formatDuration(v));
  if (id === "chart-running") return `${at}: ${formatDecimal(p.running)} running on average`;
  if (id === "chart-rate")
    return `${at}: ${formatDecimal(p.completed / step)} completed a minute (${formatCount(p.completed)}), ${formatCount(p.failed)} failed`;
  if (id === "chart-queue") return `${at}: queue p50 ${d(p.queueP50)}, p95 ${d(p.queueP95)}`;
  return `${at}: p50 ${d(p.p50)}, p95 ${d(p.p95)}`;
}

/** The time charts of a window, by the id of the element that holds each. */
export function charts(series: readonly SeriesPoint[], window: WindowKey): Record<string, El[]> {
  const times = series.map((p) => p.at);
  const step = SERIES_STEP_MINUTES[window];
  const clock = axisClock(window);
  const count = { format: formatDecimal, ceil: niceCeil };
  const time = { format: (v: number) => (v === 0 ? "0" : formatDuration(v)), ceil: niceSeconds };
  const quantiles = (what: string, p50: (p: SeriesPoint) => number | null, p95: (p: SeriesPoint) => number | null) => [
    { key: "p50", label: `p50 ${what}`, values: series.map(p50) },
    { key: "p95", label: `p95 ${what}`, values: series.map(p95) },
  ];
  return {
    "chart-running": timeChart(
      "chart-running",
      times,
      [{ key: "running", label: "running jobs", values: series.map((p) => p.running) }],
      count,
      clock,
    ),
    "chart-rate": timeChart(
      "chart-rate",
      times,
      [{ key: "rate", label: "jobs completed per minute", values: series.map((p) => p.completed / step) }],
      count,
      clock,
    ),
    "chart-duration": timeChart(
      "chart-duration",
      times,
      quantiles(
        "duration",
        (p) => p.p50,
        (p) => p.p95,
      ),
      time,
      clock,
    ),
    "chart-queue": timeChart(
      "chart-queue",
      times,
      quantiles(
        "queue time",
        (p) => p.queueP50,
        (p) => p.queueP95,
      ),
      time,
      clock,
    ),
  };
}

export const CHART_TITLES: Record<string, { title: string; keys: Array<[string, string]> }> = {
  "chart-running": { title: "Running jobs", keys: [["running", "on average"]] },
  "chart-rate": { title: "Jobs completed per minute", keys: [["rate", "completed"]] },
  "chart-duration": {
    title: "Job duration",
    keys: [
      ["p50", "p50"],
      ["p95", "p95"],
    ],
  },
  "chart-queue": {
    title: "Queue time (GitHub)",
    keys: [
      ["p50", "p50"],
      ["p95", "p95"],
    ],
  },
};

/** What the status line says about a snapshot that is not from a finished pass; null when it is. */
export function statusMessage(status: DashboardView["status"]): string | null {
  if (status === "warming_up")
    return "Warming up: the first aggregation pass has not finished. Numbers appear when it has.";
  if (status === "partial")
    return "The first aggregation pass is still reading the event files: numbers are incomplete.";
  return null;
}
