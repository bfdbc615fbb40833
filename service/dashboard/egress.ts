/**
 * The "Egress per job" panel: for each recent job, the names it reached
 * through the egress gateway and, highlighted, what the gateway refused it
 * (the snapshot's `egress` section, service/aggregate/egress.ts). Rendered by
 * the server into the page and redrawn by the browser script, from the same
 * element trees as the rest of the page (markup.ts). No Node APIs.
 */
import type { EgressName, EgressSnapshot } from "../aggregate/egress";
import type { WindowKey } from "../aggregate/windows";
import { h, type El } from "./markup";
import { formatCount, WINDOW_LABELS } from "./view";

export const EGRESS_COLUMNS = ["Job", "Runner", "Started", "Reached", "Refused"];
/** Names listed in a cell; the rest are summed in "+N more". */
const NAMES_SHOWN = 12;

function namesMarkup(names: EgressName[], refused: boolean, other: number): Array<El | string> {
  if (names.length === 0 && other === 0) return ["–"];
  const shown = names.slice(0, NAMES_SHOWN);
  const rest = names.slice(NAMES_SHOWN).reduce((n, x) => n + x.count, 0) + other;
  return [
    h(
      "ul",
      { class: "names" },
      ...shown.map((n) =>
        h(
          "li",
          { class: refused ? "refused" : "reached", title: n.verdict },
          n.name,
          h("span", { class: "count" }, ` ×${formatCount(n.count)}`),
          refused ? h("span", { class: "verdict" }, ` (${n.verdict.slice("refused:".length)})`) : null,
        ),
      ),
    ),
    rest > 0 ? h("span", { class: "muted" }, `+${formatCount(rest)} more`) : "",
  ];
}

function jobRow(j: EgressSnapshot["jobs"][number]): El {
  const title = `${j.repo} · ${j.workflow} / ${j.job} #${j.runId}${j.runAttempt > 1 ? `.${j.runAttempt}` : ""}`;
  return h(
    "tr",
    {
      "data-job": `${j.repo}/${j.runId}/${j.runAttempt}/${j.job}/${j.runner}`,
      class: j.refused.length ? "refused" : "",
    },
    h(
      "th",
      { scope: "row", class: "name", "data-label": "Job" },
      title,
      h("br"),
      h("span", { class: "muted" }, j.result ?? "running"),
    ),
    h("td", { "data-label": "Runner" }, j.runner),
    h(
      "td",
      { "data-label": "Started" },
      j.startedAt ? h("time", { datetime: j.startedAt }, j.startedAt.slice(0, 19).replace("T", " ")) : "–",
    ),
    h("td", { class: "egress-reached", "data-label": "Reached" }, ...namesMarkup(j.reached, false, j.otherNames)),
    h("td", { class: "egress-refused", "data-label": "Refused" }, ...namesMarkup(j.refused, true, 0)),
  );
}

/** The panel's dynamic parts, by element id (as markup.ts's sections). */
export function egressSections(e: EgressSnapshot | undefined, window: WindowKey): Record<string, El[]> {
  if (!e)
    return { "egress-job-rows": [emptyRow("The stats service has no egress figures yet.")], "egress-summary": [] };
  const w = e.refused[window];
  const between = Object.entries(e.betweenJobs).map(
    ([runner, b]) => `${runner}: ${formatCount(b.allowed)} allowed, ${formatCount(b.refused)} refused`,
  );
  const summary: El[] = [
    h(
      "p",
      { class: w.total > 0 ? "refused-total alert" : "refused-total" },
      `Refused, ${WINDOW_LABELS[window]}: ${formatCount(w.total)}`,
      ...(w.names.length ? [": ", w.names.map((n) => `${n.name} ×${formatCount(n.count)}`).join(", ")] : []),
    ),
    h(
      "p",
      { class: "muted" },
      `From ${formatCount(e.heartbeats)} heartbeats of ${e.gateway} (${formatCount(e.decisions)} connections` +
        `${e.truncated ? `, ${formatCount(e.truncated)} not sent` : ""}` +
        `${e.ignored ? `, ${formatCount(e.ignored)} from other names ignored` : ""}` +
        `${e.invalid ? `, ${formatCount(e.invalid)} invalid` : ""}).` +
        (between.length ? ` Between jobs: ${between.join("; ")}.` : ""),
    ),
  ];
  return {
    "egress-job-rows": e.jobs.length ? e.jobs.map(jobRow) : [emptyRow("No job has run behind the gateway yet.")],
    "egress-summary": summary,
  };
}

function emptyRow(text: string): El {
  return h("tr", { class: "empty" }, h("td", { colspan: EGRESS_COLUMNS.length }, text));
}
