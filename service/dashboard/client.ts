/**
 * The dashboard's script (runs in the browser; compiled into
 * assets.generated.ts by `npm run build:dashboard`). Every interval it reads
 * `/api/stats` and `/api/stats/series` and redraws the parts of the page the
 * server rendered, from the same markup functions; pointing at a chart shows
 * the value under the pointer. Data only ever becomes text nodes and
 * attribute values: no innerHTML anywhere (and no inline style: the tooltip
 * is placed through the CSSOM, which the page's CSP allows).
 */
import type { SeriesPoint, Snapshot } from "../aggregate/aggregator";
import { pointText, sections, statusMessage, utcClock, type Child } from "./markup";
import { dashboardView, formatAge, windowOf } from "./view";
import { egressSections } from "./egress";

const SVG_NS = "http://www.w3.org/2000/svg";

function toDom(node: Child, inSvg = false): Node {
  if (typeof node === "string") return document.createTextNode(node);
  const svg = inSvg || node.tag === "svg";
  const el = svg ? document.createElementNS(SVG_NS, node.tag) : document.createElement(node.tag);
  for (const [k, v] of Object.entries(node.attrs)) {
    if (v === false || v === null || v === undefined) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of node.children) el.appendChild(toDom(c, svg));
  return el;
}

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as T;
}

function start(): void {
  const main = byId("dashboard");
  const intervalMs = Number(main.dataset.intervalMs) || 30_000;
  const window = windowOf(main.dataset.window);
  let series: SeriesPoint[] = [];
  const hovers: Array<() => void> = [];
  const generatedAt = byId("generated-at");
  const age = byId("age");
  const status = byId("status");
  const offline = byId("offline");
  let renders = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;

  const showAge = () => {
    const at = Date.parse(generatedAt.getAttribute("datetime") ?? "");
    // The browser's clock may run behind the server's: never "in 3 s".
    age.textContent = Number.isNaN(at) ? "" : ` (${formatAge(Math.max(0, (Date.now() - at) / 1000))})`;
  };

  const render = (snapshot: Snapshot, points: SeriesPoint[]) => {
    series = points;
    const view = dashboardView(snapshot, window, intervalMs);
    const parts = { ...sections(view, points, utcClock), ...egressSections(snapshot.egress, window) };
    for (const [id, nodes] of Object.entries(parts)) {
      byId(id).replaceChildren(...nodes.map((n) => toDom(n)));
    }
    byId("chart-queue-panel").hidden = snapshot.github === null;
    for (const place of hovers) place();
    generatedAt.setAttribute("datetime", view.generatedAt);
    generatedAt.textContent = utcClock(view.generatedAt);
    byId("aggregation").textContent = view.aggregation;
    const message = statusMessage(view.status);
    status.textContent = message ?? "";
    status.hidden = message === null;
    showAge();
    // Read by the browser test: the script has drawn the page from the API.
    main.dataset.renders = String(++renders);
  };

  const refresh = async () => {
    timer = undefined;
    inFlight = true;
    try {
      const [snapshot, points] = await Promise.all([
        getJson<Snapshot>("/api/stats"),
        getJson<SeriesPoint[]>(`/api/stats/series?window=${window}`),
      ]);
      render(snapshot, points);
      offline.hidden = true;
    } catch (err) {
      offline.textContent = `Cannot reach the stats service (${err instanceof Error ? err.message : String(err)}). Showing the last numbers received; retrying.`;
      offline.hidden = false;
    }
    inFlight = false;
    if (!document.hidden) timer = setTimeout(refresh, intervalMs);
  };

  // A hidden tab stops asking; it catches up as soon as it is shown again.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer === undefined && !inFlight) void refresh();
  });
  setInterval(showAge, 5000);
  for (const chart of Array.from(document.querySelectorAll<HTMLElement>(".chart")))
    hovers.push(hover(chart, () => series, window));
  void refresh();
}

/**
 * The value under the pointer: the point nearest to it, its text in the
 * chart's tooltip and a cursor line on the plot. A refresh redraws the
 * chart's children, so the elements are looked up each time and the returned
 * function puts the tooltip back where the pointer still is.
 */
function hover(chart: HTMLElement, points: () => SeriesPoint[], window: ReturnType<typeof windowOf>): () => void {
  let pointerX: number | null = null;
  const hide = () => {
    chart.querySelector<HTMLElement>(".tooltip")?.setAttribute("hidden", "");
    chart.querySelector(".cursor")?.setAttribute("hidden", "");
  };
  const place = () => {
    const plot = chart.querySelector<SVGSVGElement>(".plot");
    const tip = chart.querySelector<HTMLElement>(".tooltip");
    const cursor = chart.querySelector(".cursor");
    const series = points();
    if (pointerX === null || !plot || !tip || !cursor || series.length === 0) return hide();
    const box = plot.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (pointerX - box.left) / box.width));
    const i = series.length === 1 ? 0 : Math.round(f * (series.length - 1));
    const x = series.length === 1 ? 1000 : (i / (series.length - 1)) * 1000;
    cursor.setAttribute("x1", String(x));
    cursor.setAttribute("x2", String(x));
    cursor.removeAttribute("hidden");
    tip.textContent = pointText(chart.id, series, i, window);
    tip.removeAttribute("hidden");
    // CSSOM, not a style attribute: allowed by style-src 'self'.
    tip.style.left = `${Math.round(box.left - chart.getBoundingClientRect().left + (x / 1000) * box.width)}px`;
  };
  chart.addEventListener("pointerleave", () => {
    pointerX = null;
    hide();
  });
  chart.addEventListener("pointermove", (ev) => {
    pointerX = ev.clientX;
    place();
  });
  return place;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
