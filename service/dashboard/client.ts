/**
 * The dashboard's script (runs in the browser; compiled into
 * assets.generated.ts by `npm run build:dashboard`). Every interval it reads
 * `/api/stats` and `/api/stats/history` and redraws the parts of the page the
 * server rendered, from the same markup functions. Data only ever becomes
 * text nodes and attribute values: no innerHTML anywhere.
 */
import type { CompactSnapshot, Snapshot } from "../aggregate/aggregator";
import { sections, statusMessage, type Child, type Clock } from "./markup";
import { dashboardView, formatAge, HISTORY_POINTS } from "./view";

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

const localClock: Clock = (iso) => new Date(iso).toLocaleString();
const localTime: Clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

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
  const points = Number(main.dataset.historyPoints) || HISTORY_POINTS;
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

  const render = (snapshot: Snapshot, history: CompactSnapshot[]) => {
    const view = dashboardView(snapshot, history);
    for (const [id, nodes] of Object.entries(sections(view, history, localClock, localTime))) {
      byId(id).replaceChildren(...nodes.map((n) => toDom(n)));
    }
    generatedAt.setAttribute("datetime", view.generatedAt);
    generatedAt.textContent = localClock(view.generatedAt);
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
      const [snapshot, history] = await Promise.all([
        getJson<Snapshot>("/api/stats"),
        getJson<CompactSnapshot[]>(`/api/stats/history?limit=${points}`),
      ]);
      render(snapshot, history);
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
  void refresh();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
