/**
 * `GET /` and its assets. The page is rendered from the cached snapshot and
 * history (so it reads without JavaScript), once per aggregation pass; the
 * script then refreshes the same parts from `/api/stats` and
 * `/api/stats/history`. Assets are strings compiled into the service
 * (assets.generated.ts), so the one-file esbuild bundle carries them.
 */
import { createHash } from "node:crypto";
import type { SeriesPoint, Snapshot } from "../aggregate/aggregator";
import { WINDOW_KEYS, type WindowKey } from "../aggregate/windows";
import { DASHBOARD_CSS, DASHBOARD_JS } from "./assets.generated";
import {
  CHART_TITLES,
  h,
  REPO_COLUMNS,
  RUNNER_COLUMNS,
  sections,
  statusMessage,
  toHtml,
  utcClock,
  type El,
} from "./markup";
import { dashboardView, MIN_REFRESH_MS, WINDOW_LABELS } from "./view";
import { EGRESS_COLUMNS, egressSections } from "./egress";

/**
 * Headers of the page and its assets (never of the JSON API): scripts and
 * styles only from this origin (no inline code, so injected markup could not
 * run even if some escaped the escaping), no framing, no referrer.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

export interface Asset {
  /** Content-addressed: a new build gets a new URL, so it can be cached for good. */
  path: string;
  body: string;
  headers: Record<string, string>;
}

function asset(name: string, ext: string, type: string, body: string): Asset {
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 12);
  return {
    path: `/assets/${name}-${hash}.${ext}`,
    body,
    headers: {
      ...PAGE_SECURITY_HEADERS,
      "Content-Type": type,
      "Cache-Control": "public, max-age=31536000, immutable",
    },
  };
}

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">' +
  '<rect width="16" height="16" rx="3" fill="#1f6feb"/>' +
  '<path d="M4 12V8M8 12V4M12 12V6" stroke="#fff" stroke-width="2" stroke-linecap="round"/></svg>';

export const SCRIPT = asset("dashboard", "js", "text/javascript; charset=utf-8", DASHBOARD_JS);
export const STYLE = asset("dashboard", "css", "text/css; charset=utf-8", DASHBOARD_CSS);
export const ICON = asset("icon", "svg", "image/svg+xml", ICON_SVG);
export const ASSETS: readonly Asset[] = [SCRIPT, STYLE, ICON];

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  ...PAGE_SECURITY_HEADERS,
  "Content-Type": "text/html; charset=utf-8",
  "Cache-Control": "no-cache",
};

function table(id: string, caption: string, columns: string[], body: El[]): El {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { id, class: "cards" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", { id: `${id.replace(/s$/, "")}-rows` }, ...body),
    ),
  );
}

function chartPanel(id: string, body: El[], hidden = false): El {
  const { title, keys } = CHART_TITLES[id]!;
  return h(
    "figure",
    { class: "panel chart-panel", id: `${id}-panel`, hidden },
    h(
      "figcaption",
      {},
      h("h2", {}, title),
      h("span", { class: "legend" }, ...keys.map(([k, label]) => h("span", { class: `key ${k}` }, label))),
    ),
    h("div", { class: "chart", id }, ...body),
  );
}

/** The window picker: plain links, so it works without JavaScript too. */
function windowNav(current: WindowKey): El {
  return h(
    "nav",
    { class: "windows", "aria-label": "Window" },
    ...WINDOW_KEYS.map((k) =>
      h(
        "a",
        { href: `/?window=${k}`, "data-window": k, "aria-current": k === current ? "page" : undefined },
        WINDOW_LABELS[k],
      ),
    ),
  );
}

/** The whole page for one snapshot and the chart of the chosen window. */
export function renderPage(
  snapshot: Snapshot,
  series: readonly SeriesPoint[],
  intervalMs: number,
  window: WindowKey,
): string {
  const view = dashboardView(snapshot, window, intervalMs);
  const parts = { ...sections(view, series, utcClock), ...egressSections(snapshot.egress, window) };
  const refreshMs = Math.max(MIN_REFRESH_MS, intervalMs);
  const status = statusMessage(view.status);
  const main = h(
    "main",
    { id: "dashboard", "data-interval-ms": refreshMs, "data-window": window },
    h(
      "header",
      {},
      h("h1", {}, "cco runner fleet"),
      h(
        "p",
        { class: "updated" },
        "Last aggregation ",
        h("time", { id: "generated-at", datetime: view.generatedAt }, utcClock(view.generatedAt)),
        h("span", { id: "age" }),
        h("br"),
        h("span", { id: "freshness", class: "muted" }, view.freshness),
        h("br"),
        h("span", { id: "aggregation", class: "muted" }, view.aggregation),
      ),
    ),
    windowNav(window),
    h("p", { id: "status", class: "banner warn", role: "status", hidden: status === null }, status ?? ""),
    h("p", { id: "offline", class: "banner error", role: "alert", hidden: true }),
    h("section", { id: "tiles", class: "tiles", "aria-label": "Summary" }, ...parts.tiles!),
    h(
      "section",
      { class: "charts", "aria-label": `Over the ${WINDOW_LABELS[window]}, in event time` },
      ...["chart-running", "chart-rate", "chart-duration"].map((id) => chartPanel(id, parts[id]!)),
      chartPanel("chart-queue", parts["chart-queue"]!, snapshot.github === null),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "runners-title" },
      h("h2", { id: "runners-title" }, "Runners"),
      table(
        "runners",
        "Runners: state, share of the fleet's busy time, jobs, last heartbeat and last job",
        RUNNER_COLUMNS,
        parts["runner-rows"]!,
      ),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "repos-title" },
      h("h2", { id: "repos-title" }, "Failures by repository"),
      table("repos", "Failed jobs by repository", REPO_COLUMNS, parts["repo-rows"]!),
    ),
    h(
      "section",
      { class: "panel", id: "egress", "aria-labelledby": "egress-title" },
      h("h2", { id: "egress-title" }, "Egress per job"),
      h("div", { id: "egress-summary" }, ...parts["egress-summary"]!),
      table(
        "egress-jobs",
        "Names each recent job reached through the egress gateway, and what it refused",
        EGRESS_COLUMNS,
        parts["egress-job-rows"]!,
      ),
    ),
    h(
      "footer",
      {},
      `Refreshes every ${Math.round(refreshMs / 1000)} s. Times are UTC; charts place each event at its own time. Machine-readable: `,
      h("a", { href: "/api/stats" }, "/api/stats"),
      " · ",
      h("a", { href: `/api/stats/series?window=${window}` }, "/api/stats/series"),
      " · ",
      h("a", { href: "/api/stats/history?limit=60" }, "/api/stats/history"),
      " · ",
      h("a", { href: "/metrics" }, "/metrics"),
    ),
  );
  // Without JavaScript the page reloads itself, at most every 5 s.
  const reloadSeconds = Math.max(5, Math.ceil(refreshMs / 1000));
  return (
    "<!doctype html>\n" +
    '<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="color-scheme" content="light dark">' +
    "<title>cco runner fleet</title>" +
    `<link rel="icon" href="${ICON.path}" type="image/svg+xml">` +
    `<link rel="stylesheet" href="${STYLE.path}">` +
    `<script src="${SCRIPT.path}" defer></script>` +
    `<noscript><meta http-equiv="refresh" content="${reloadSeconds}"></noscript>` +
    `</head><body>${toHtml(main)}</body></html>\n`
  );
}
