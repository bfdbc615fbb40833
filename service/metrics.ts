/**
 * `/metrics` in Prometheus text format. Names follow actions-runner-controller's
 * (`..._jobs_started_total`, `..._jobs_completed_total{result}`, ...) with the
 * `cco_` prefix. Every value is read from the cached snapshot at scrape time
 * (`collect()`), so a scrape costs no aggregation and agrees with /api/stats.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from "prom-client";
import { PROMETHEUS_BUCKETS } from "./aggregate/durations";
import type { SnapshotStore } from "./store";

/** Counters the HTTP layer updates itself (they are not in the snapshot). */
export interface IngestCounters {
  acceptedEvents: Counter;
  rejectedRequests: Counter<"reason">;
  /** Counts a refused request (in the metric and in `refused`). */
  refuse(reason: string): void;
  /** Refused requests since start, by reason: handed to each pass for the snapshot. */
  refused: Record<string, number>;
}

export interface ServiceMetrics {
  registry: Registry;
  ingest: IngestCounters;
}

export function createMetrics(store: SnapshotStore): ServiceMetrics {
  const registry = new Registry();
  const registers = [registry];
  const snap = () => store.snapshot;

  // Metrics that mirror values kept in the snapshot: reset, then set from it.
  type Fill<L extends string> = (set: (value: number, labels?: Partial<Record<L, string>>) => void) => void;
  function mirror<L extends string>(
    kind: "counter" | "gauge",
    name: string,
    help: string,
    labelNames: L[],
    fill: Fill<L>,
  ) {
    const config = { name, help, labelNames, registers };
    if (kind === "counter") {
      return new Counter<L>({
        ...config,
        collect() {
          this.reset();
          fill((v, labels = {}) => this.inc(labels, v));
        },
      });
    }
    return new Gauge<L>({
      ...config,
      collect() {
        this.reset();
        fill((v, labels = {}) => this.set(labels, v));
      },
    });
  }
  const mirroredCounter = <L extends string>(name: string, help: string, labelNames: L[], fill: Fill<L>) =>
    mirror("counter", name, help, labelNames, fill);
  const mirroredGauge = <L extends string>(name: string, help: string, labelNames: L[], fill: Fill<L>) =>
    mirror("gauge", name, help, labelNames, fill);

  mirroredCounter("cco_events_total", "Valid events aggregated from the event files.", [], (set) =>
    set(snap().events.total),
  );
  mirroredCounter("cco_events_rejected_total", "Malformed or invalid lines skipped.", [], (set) =>
    set(snap().events.rejected),
  );
  mirroredCounter("cco_events_duplicate_total", "Events delivered twice and counted once.", [], (set) =>
    set(snap().events.duplicates),
  );
  mirroredCounter(
    "cco_events_dropped_total",
    "What aggregation let go to stay within its limits, by reason.",
    ["reason"],
    (set) => {
      for (const [reason, n] of Object.entries(snap().events.dropped)) set(n, { reason });
    },
  );
  // Egress through the gateway (service/aggregate/egress.ts): bounded labels, the top refused names of each window.
  mirroredCounter(
    "cco_egress_decisions_total",
    "Connections the egress gateway reported (allowed and refused).",
    [],
    (set) => set(snap().egress?.decisions ?? 0),
  );
  mirroredGauge(
    "cco_egress_refused_connections",
    "Connections the egress gateway refused in the window ending at the snapshot.",
    ["window"],
    (set) => {
      for (const [window, w] of Object.entries(snap().egress?.refused ?? {})) set(w.total, { window });
    },
  );
  mirroredGauge(
    "cco_egress_refused_by_name",
    "Refused connections in the window by name (the most refused names only).",
    ["window", "name"],
    (set) => {
      for (const [window, w] of Object.entries(snap().egress?.refused ?? {}))
        for (const n of w.names) set(n.count, { window, name: n.name });
    },
  );
  mirroredCounter("cco_jobs_abandoned_total", "Jobs started more than 5 days ago and never completed.", [], (set) =>
    set(snap().jobs.abandoned),
  );
  mirroredGauge(
    "cco_runner_listener_up",
    "1 when the runner's last heartbeat said its listener is running, 0 otherwise (absent: never said).",
    ["runner", "state"],
    (set) => {
      for (const [runner, r] of Object.entries(snap().runners)) {
        if (r.listener) set(r.listener === "running" ? 1 : 0, { runner, state: r.listener });
      }
    },
  );
  mirroredGauge(
    "cco_github_jobs_waiting",
    "Jobs GitHub reports queued, waiting for a runner (absent without GitHub polling).",
    [],
    (set) => {
      const g = snap().github;
      if (g) set(g.waiting);
    },
  );
  mirroredCounter(
    "cco_github_reconciliation_total",
    "GitHub's completed jobs compared with the hooks', by outcome.",
    ["outcome"],
    (set) => {
      const g = snap().github;
      if (!g) return;
      set(g.matched, { outcome: "matched" });
      set(g.resultMismatch, { outcome: "result_mismatch" });
      set(g.missingHook, { outcome: "missing_hook" });
    },
  );
  mirroredCounter("cco_jobs_started_total", "Jobs started.", [], (set) => set(snap().jobs.started));
  mirroredCounter("cco_jobs_completed_total", "Jobs completed, by result.", ["result"], (set) => {
    const j = snap().jobs;
    set(j.succeeded, { result: "succeeded" });
    set(j.failed, { result: "failed" });
    set(j.cancelled, { result: "cancelled" });
  });
  mirroredGauge("cco_jobs_running", "Jobs started and not completed.", [], (set) => set(snap().jobs.running));
  mirroredCounter("cco_runner_jobs_completed_total", "Jobs completed per runner.", ["runner"], (set) => {
    for (const [runner, r] of Object.entries(snap().runners)) set(r.completed, { runner });
  });
  mirroredGauge("cco_runner_jobs_running", "Jobs running per runner.", ["runner"], (set) => {
    for (const [runner, r] of Object.entries(snap().runners)) set(r.running, { runner });
  });
  mirroredCounter("cco_runner_busy_seconds_total", "Seconds spent in completed jobs per runner.", ["runner"], (set) => {
    for (const [runner, r] of Object.entries(snap().runners)) set(r.busySeconds, { runner });
  });
  mirroredGauge(
    "cco_runner_last_heartbeat_timestamp_seconds",
    "Time of each runner's last heartbeat.",
    ["runner"],
    (set) => {
      for (const [runner, r] of Object.entries(snap().runners)) {
        if (r.lastHeartbeatAt) set(Date.parse(r.lastHeartbeatAt) / 1000, { runner });
      }
    },
  );
  mirroredCounter(
    "cco_repo_jobs_completed_total",
    "Jobs completed per repository, by result.",
    ["repo", "result"],
    (set) => {
      for (const [repo, r] of Object.entries(snap().repos)) {
        set(r.succeeded, { repo, result: "succeeded" });
        set(r.failed, { repo, result: "failed" });
        set(r.cancelled, { repo, result: "cancelled" });
      }
    },
  );
  mirroredCounter("cco_lives_total", "Ephemeral runner lives ready, from the controllers' heartbeats.", [], (set) =>
    set(snap().lives.total),
  );
  mirroredCounter(
    "cco_lives_failures_total",
    "Ephemeral runner lives that failed, as the controllers count them.",
    [],
    (set) => set(snap().lives.failures),
  );
  mirroredGauge(
    "cco_lives_ready_seconds",
    "Time to ready (a container's stop to its next runner ready) over each window, by quantile (absent without lives).",
    ["window", "quantile"],
    (set) => {
      for (const [window, w] of Object.entries(snap().lives.windows)) {
        const r = w.resetSeconds;
        for (const [quantile, v] of [
          ["0.5", r.p50],
          ["0.95", r.p95],
          ["1", r.max],
        ] as const) {
          if (v !== null) set(v, { window, quantile });
        }
      }
    },
  );
  mirroredGauge("cco_lives_window", "Lives ready in each window (event time).", ["window"], (set) => {
    for (const [window, w] of Object.entries(snap().lives.windows)) set(w.lives, { window });
  });
  mirroredGauge(
    "cco_controller_last_heartbeat_timestamp_seconds",
    "Time of each controller's newest heartbeat with life figures.",
    ["controller"],
    (set) => {
      for (const [controller, c] of Object.entries(snap().lives.controllers)) {
        set(Date.parse(c.lastHeartbeatAt) / 1000, { controller });
      }
    },
  );
  mirroredGauge("cco_aggregation_duration_seconds", "Duration of the last aggregation pass.", [], (set) =>
    set(snap().aggregation.durationMs / 1000),
  );
  mirroredCounter("cco_aggregation_bytes_read_total", "Bytes of event files read.", [], (set) =>
    set(snap().aggregation.totalBytesRead),
  );
  mirroredGauge(
    "cco_aggregation_heap_used_bytes",
    "V8 heap used by the aggregating thread after the last pass.",
    [],
    (set) => set(snap().aggregation.heapUsedBytes),
  );
  mirroredGauge("cco_aggregation_files", "Event files followed.", [], (set) => set(snap().aggregation.files));
  mirroredCounter("cco_aggregation_passes_total", "Aggregation passes, by outcome.", ["outcome"], (set) => {
    const h = store.health().body;
    set(h.passes, { outcome: "ok" });
    set(h.failedPasses, { outcome: "failed" });
  });
  mirroredGauge("cco_snapshot_age_seconds", "Age of the last complete snapshot (-1 before the first).", [], (set) => {
    const age = store.health().body.ageMs;
    set(age === null ? -1 : age / 1000);
  });
  registry.registerMetric(durationHistogram(store) as unknown as Metric);

  const refused = Object.create(null) as Record<string, number>;
  const rejectedRequests = new Counter({
    name: "cco_ingest_requests_rejected_total",
    help: "POST /api/events requests refused, by reason (unauthorized, forged_runner, invalid, too_large, ...).",
    labelNames: ["reason"],
    registers,
  });
  const ingest: IngestCounters = {
    acceptedEvents: new Counter({
      name: "cco_ingest_events_accepted_total",
      help: "Events accepted by POST /api/events (durably appended).",
      registers,
    }),
    rejectedRequests,
    refused,
    refuse(reason) {
      rejectedRequests.inc({ reason });
      refused[reason] = (refused[reason] ?? 0) + 1;
    },
  };
  collectDefaultMetrics({ register: registry });
  return { registry, ingest };
}

/**
 * `cco_job_duration_seconds`: prom-client's Histogram only grows by observe(),
 * but these buckets already exist in the snapshot, so this metric hands them to
 * the registry in the shape its `get()` returns.
 */
function durationHistogram(store: SnapshotStore) {
  const name = "cco_job_duration_seconds";
  return {
    name,
    help: "Duration of completed jobs (start to completion).",
    type: "histogram",
    aggregator: "sum",
    reset() {},
    get() {
      const d = store.snapshot.durationSeconds;
      const values = [
        ...PROMETHEUS_BUCKETS.map((le) => ({
          metricName: `${name}_bucket`,
          labels: { le },
          value: d.buckets[String(le)] ?? 0,
        })),
        { metricName: `${name}_bucket`, labels: { le: "+Inf" }, value: d.count },
        { metricName: `${name}_sum`, labels: {}, value: d.sumSeconds },
        { metricName: `${name}_count`, labels: {}, value: d.count },
      ];
      return { name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };
}
