import { expect } from "chai";
import { ABANDON_AFTER_MS, Aggregator, RECENT_COMPLETIONS } from "../../service/aggregate/aggregator";
import { at, completed, heartbeat, ndjson, PASS_INFO as info, started } from "../helpers/events";

/** When `snap` takes its snapshot, and the aggregator's clock then: the windows are measured back from it, whatever today is. */
const SNAP_AT = new Date("2026-11-27T00:00:00Z");

function snap(events: unknown[], extra = "", end = SNAP_AT) {
  const a = new Aggregator({ now: () => end.getTime() });
  a.consume(ndjson(events) + extra);
  return a.snapshot(end, "ok", info);
}

describe("aggregator: statistics from events", () => {
  it("matches starts with completions and counts results, durations and busy time", () => {
    const s = snap([
      started({ runId: 1 }, 0),
      started({ runId: 2, runner: "runner-02" }, 10),
      completed({ runId: 1 }, 250.5, "succeeded"),
      completed({ runId: 2, runner: "runner-02" }, 70, "failed"),
      started({ runId: 3, repo: "brentley/other" }, 100),
    ]);
    expect(s.jobs).to.deep.equal({
      started: 3,
      completed: 2,
      running: 1,
      succeeded: 1,
      failed: 1,
      cancelled: 0,
      unknown: 0,
      abandoned: 0,
    });
    expect(s.durationSeconds).to.include({ count: 2, p50: 60, p95: 250.5, max: 250.5 });
    expect(s.runners["runner-01"]).to.include({ started: 2, completed: 1, running: 1, busySeconds: 250.5 });
    expect(s.runners["runner-02"]).to.include({ started: 1, completed: 1, running: 0, failed: 1, busySeconds: 60 });
    expect(s.repos["brentley/cco"]).to.include({ completed: 2, failed: 1 });
    expect(s.repos["brentley/other"]).to.include({ started: 1, completed: 0 });
    expect(s.events).to.deep.equal({
      total: 5,
      rejected: 0,
      duplicates: 0,
      dropped: {
        future: 0,
        openJobs: 0,
        runners: 0,
        repos: 0,
        jobNames: 0,
        lifeFigures: 0,
        lives: 0,
        gatewayEvents: 0,
      },
    });
  });

  it("counts a completion whose result the hook could not tell as completed, under no result", () => {
    // job-hook.sh reports "unknown" when the Worker log holds no final job state (issue 13).
    const s = snap([started({ runId: 1 }, 0), completed({ runId: 1 }, 30, "unknown")]);
    expect(s.jobs).to.deep.include({
      started: 1,
      completed: 1,
      running: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
      unknown: 1,
    });
    expect(s.durationSeconds).to.include({ count: 1, max: 30 });
    expect(s.runners["runner-01"]).to.include({ completed: 1, succeeded: 0, failed: 0, cancelled: 0 });
    expect(s.events.rejected).to.equal(0);
  });

  it("tells jobs apart by repo, run, attempt, job and runner", () => {
    const s = snap([
      started({ runId: 1 }),
      started({ runId: 1, runAttempt: 2 }),
      started({ runId: 1, job: "lint" }),
      started({ runId: 1, runner: "runner-02" }),
      started({ runId: 1, repo: "brentley/other" }),
      completed({ runId: 1, runAttempt: 2 }, 30),
    ]);
    expect(s.jobs).to.include({ started: 5, completed: 1, running: 4 });
  });

  it("counts re-sent events once (the forwarder delivers at least once)", () => {
    const s = snap([
      started({ runId: 1 }, 0),
      started({ runId: 1 }, 0),
      completed({ runId: 1 }, 30),
      completed({ runId: 1 }, 30),
      started({ runId: 1 }, 0),
    ]);
    expect(s.jobs).to.include({ started: 1, completed: 1, running: 0 });
    expect(s.events).to.include({ total: 5, duplicates: 3 });
    expect(s.durationSeconds.count).to.equal(1);
  });

  it("finds each job whatever the order of runIds: older runs, re-sent ones, completions before starts", () => {
    // The hot path skips the job lookup for a start of a run newer than any seen, and looks among the
    // runner's open jobs first for a completion: neither may change what is matched.
    const s = snap([
      started({ runId: 10 }, 0),
      started({ runId: 5 }, 1),
      completed({ runId: 7 }, 40),
      started({ runId: 5, runner: "runner-02" }, 2),
      completed({ runId: 5 }, 21),
      started({ runId: 5 }, 1), // re-sent, after its completion
      started({ runId: 7 }, 10), // its completion came first
      completed({ runId: 10, job: "lint" }, 50), // another job of run 10: no start yet
      completed({ runId: 10 }, 30),
      completed({ runId: 10 }, 30), // re-sent
      started({ runId: 11, runAttempt: 2 }, 3),
      completed({ runId: 11 }, 33), // attempt 1: never started
    ]);
    expect(s.jobs).to.include({ started: 5, completed: 5, running: 2 });
    expect(s.events).to.include({ total: 12, duplicates: 2 });
    expect(s.durationSeconds).to.include({ count: 3, max: 30 });
    expect(s.runners["runner-02"]).to.include({ started: 1, running: 1 });
  });

  it("pairs a completion read before its start", () => {
    const s = snap([completed({ runId: 1 }, 90), started({ runId: 1 }, 30)]);
    expect(s.jobs).to.include({ started: 1, completed: 1, running: 0 });
    expect(s.durationSeconds).to.include({ count: 1, max: 60 });
  });

  it("skips (and counts) malformed and invalid lines without stopping", () => {
    const s = snap(
      [started({ runId: 1 }), { v: 1, type: "nope", ts: "x", runner: "r" }],
      '{"v":1,"type":\nnot json\n\n   \n[1,2]\n"a string"\n42\ntrue\n{"v":1} \t\n' +
        // CRLF: JSON.parse takes the \r as whitespace, so this event counts
        `${JSON.stringify(started({ runId: 2 }))}\r\n`,
    );
    expect(s.events).to.include({ total: 2, rejected: 8 });
    expect(s.jobs.started).to.equal(2);
  });

  it("shows each runner's last heartbeat and last event", () => {
    const s = snap([
      heartbeat("runner-03", 100),
      heartbeat("runner-03", 50),
      started({ runId: 1, runner: "runner-03" }, 70),
    ]);
    expect(s.runners["runner-03"]).to.include({
      lastHeartbeatAt: "2026-11-26T18:01:40.000Z",
      lastEventAt: "2026-11-26T18:01:40.000Z",
    });
    expect(s.runners["runner-03"]!.lastJob).to.include({ runId: 1, at: "2026-11-26T18:01:10.000Z" });
    expect(s.runners["runner-03"]!.lastJob).to.not.have.property("result");
  });

  it("gives up on a start older than GitHub's 5-day job limit", () => {
    const later = (ABANDON_AFTER_MS + 60_000) / 1000;
    const s = snap(
      [started({ runId: 1 }, 0), heartbeat("runner-02", later)],
      "",
      new Date(Date.parse(at(later)) + 60_000),
    );
    expect(s.jobs).to.include({ started: 1, running: 0, abandoned: 1 });
    expect(s.runners["runner-01"]!.running).to.equal(0);
  });

  it("keeps names that look like object internals as plain keys", () => {
    const s = snap([heartbeat("__proto__"), heartbeat("constructor")]);
    const parsed = JSON.parse(JSON.stringify(s));
    expect(Object.keys(parsed.runners)).to.deep.equal(["__proto__", "constructor"]);
  });

  it("answers a snapshot for a time before the minutes it keeps (a clock set back) with empty windows", () => {
    const a = new Aggregator({ now: () => SNAP_AT.getTime() + 30 * 24 * 3600_000 });
    a.consume(ndjson([started({ runId: 1 }, 0), completed({ runId: 1 }, 60, "succeeded")]));
    const s = a.snapshot(SNAP_AT, "ok", info);
    expect(s.jobs.completed).to.equal(1);
    for (const w of Object.values(s.windows)) expect(w).to.include({ started: 0, completed: 0, busySeconds: 0 });
    expect(a.series(SNAP_AT.getTime(), "24h").every((p) => p.completed === 0)).to.equal(true);
  });

  it("remembers a bounded number of completions", () => {
    const a = new Aggregator();
    const events = [];
    for (let i = 1; i <= RECENT_COMPLETIONS + 10; i++) events.push(completed({ runId: i }, 1));
    a.consume(ndjson(events));
    // The oldest completions are forgotten: the first one re-sent now counts again.
    a.consume(ndjson([completed({ runId: 1 }, 1), completed({ runId: RECENT_COMPLETIONS + 10 }, 1)]));
    const s = a.snapshot(new Date(), "ok", info);
    expect(s.jobs.completed).to.equal(RECENT_COMPLETIONS + 11);
    expect(s.events.duplicates).to.equal(1);
  });

  it("makes the history from event time: a minute per entry, jobs running on average over it", () => {
    const a = new Aggregator({ now: () => Date.parse(at(600)) });
    a.consume(
      ndjson([
        started({ runId: 1 }, 0),
        started({ runId: 2, runner: "runner-02" }, 30),
        completed({ runId: 2, runner: "runner-02" }, 90),
      ]),
    );
    const h = a.history(Date.parse(at(150)), 3);
    expect(h.map((e) => e.at)).to.deep.equal([at(0), at(60), at(120)]);
    // Minute 0: job 1 all of it, job 2 half of it; minute 1: job 1, job 2 until 90 s; minute 2: job 1 (open) to 150 s.
    expect(h.map((e) => e.running)).to.deep.equal([1.5, 1.5, 0.5]);
    expect(h.map((e) => e.started)).to.deep.equal([2, 2, 2]);
    expect(h.map((e) => e.completed)).to.deep.equal([0, 1, 1]);
  });

  it("shows the listener state of each runner's newest heartbeat that gave one", () => {
    const s = snap([
      { ...heartbeat("runner-01", 10), listener: "running", listenerExitCode: null },
      { ...heartbeat("runner-01", 30), listener: "failed", listenerExitCode: 3 },
      { ...heartbeat("runner-01", 20), listener: "running" }, // older, read later (a late batch)
      heartbeat("runner-01", 40), // says nothing of the listener
      heartbeat("runner-02", 40),
    ]);
    expect(s.runners["runner-01"]).to.include({ listener: "failed", listenerExitCode: 3, lastHeartbeatAt: at(40) });
    expect(s.runners["runner-02"]).to.include({ listener: null, listenerExitCode: null });
  });

  it("marks runners not in STATS_RUNNERS as undeclared, and lists declared ones never heard from", () => {
    const a = new Aggregator({ declaredRunners: ["runner-01", "runner-02"], now: () => Date.parse(at(100)) });
    a.consume(ndjson([heartbeat("runner-01", 10), heartbeat("runner-09", 10)]));
    const s = a.snapshot(new Date(at(100)), "ok", info);
    expect(Object.keys(s.runners)).to.deep.equal(["runner-01", "runner-02", "runner-09"]);
    expect([
      s.runners["runner-01"]!.declared,
      s.runners["runner-02"]!.declared,
      s.runners["runner-09"]!.declared,
    ]).to.deep.equal([true, true, false]);
    expect(s.runners["runner-02"]!.lastEventAt).to.equal(null);
    expect(s.fleet.declared).to.deep.equal(["runner-01", "runner-02"]);
  });

  it("places a late batch at its event time: windows and charts count it where it happened", () => {
    const now = Date.parse(at(4 * 3600));
    const a = new Aggregator({ now: () => now });
    // Read last, as a forwarder catching up after an outage delivers it: two hours of one job every two minutes.
    const late: unknown[] = [];
    for (let i = 0; i < 60; i++)
      late.push(started({ runId: i + 1 }, 3600 + i * 120), completed({ runId: i + 1 }, 3600 + i * 120 + 60));
    a.consume(ndjson([heartbeat("runner-01", 4 * 3600 - 10)]));
    a.consume(ndjson(late));
    const s = a.snapshot(new Date(now), "ok", info);
    expect(s.windows["1h"].completed).to.equal(0); // nothing happened in the last hour
    expect(s.windows["24h"]).to.include({ completed: 60, jobsPerMinute: 0.042, busySeconds: 3600 });
    const points = a.series(now, "24h"); // 10-minute points
    const busy = points.filter((p) => p.completed > 0);
    expect(busy.map((p) => p.completed)).to.deep.equal(new Array(12).fill(5));
    expect(busy[0]!.at).to.equal(at(3600));
    expect(busy.every((p) => p.running === 0.5)).to.equal(true);
  });
});
