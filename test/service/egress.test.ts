import { expect } from "chai";
import { Aggregator } from "../../service/aggregate/aggregator";
import { EGRESS_LIMITS, GATEWAY_STATS_NAME, parseEgress } from "../../service/aggregate/egress";
import { at, completed, heartbeat, ndjson, PASS_INFO as info, started } from "../helpers/events";

const T0 = Date.parse(at(0));
const ms = (seconds: number) => T0 + seconds * 1000;

/** A gateway heartbeat as infra/gateway/files/egress-forwarder.sh sends it. */
function gatewayBeat(
  atSeconds: number,
  decisions: Array<{ runner?: string; name: string; verdict: string; at: number[] }>,
  runner = GATEWAY_STATS_NAME,
  truncated = 0,
): Record<string, unknown> {
  return {
    ...heartbeat(runner, atSeconds),
    egress: { decisions: decisions.map((d) => ({ runner: "runner-01", ...d, at: d.at.map(ms) })), truncated },
  };
}

function snapOf(chunks: unknown[][], endSeconds = 3600) {
  const a = new Aggregator({ now: () => ms(endSeconds) });
  // Each chunk is one pass's text: what the gateway and the runner sent, in the order read.
  for (const c of chunks) a.consume(ndjson(c));
  return a.snapshot(new Date(ms(endSeconds)), "ok", info).egress;
}

const job1 = { runId: 1 };
const job2 = { runId: 2 };

describe("aggregator: per-job egress from the gateway's heartbeats", () => {
  it("gives each connection to the job that ran on its runner then, split exactly at the job boundaries", () => {
    const e = snapOf([
      [started(job1, 0), completed(job1, 100), started(job2, 200), completed(job2, 300)],
      [
        gatewayBeat(310, [
          // 0 and 100: the boundaries belong to the job; 150: between the two jobs.
          { name: "github.com", verdict: "allowed:tls", at: [0, 50, 100, 150, 250] },
          { name: "evil.example", verdict: "refused:name", at: [60, 260, 260] },
        ]),
      ],
    ]);
    expect(e.jobs.map((j) => j.runId)).to.deep.equal([2, 1]);
    const [second, first] = e.jobs;
    expect(first!.reached).to.deep.equal([{ name: "github.com", verdict: "allowed:tls", count: 3 }]);
    expect(first!.refused).to.deep.equal([{ name: "evil.example", verdict: "refused:name", count: 1 }]);
    expect(second!.reached).to.deep.equal([{ name: "github.com", verdict: "allowed:tls", count: 1 }]);
    expect(second!.refused).to.deep.equal([{ name: "evil.example", verdict: "refused:name", count: 2 }]);
    expect(first).to.include({ runner: "runner-01", repo: "brentley/cco", result: "succeeded", startedAt: at(0) });
    expect(e.betweenJobs["runner-01"]).to.deep.equal({
      allowed: 1,
      refused: 0,
      names: [{ name: "github.com", verdict: "allowed:tls", count: 1 }],
    });
    expect(e).to.include({ heartbeats: 1, decisions: 8, ignored: 0, invalid: 0 });
    expect(e.refused["1h"]).to.deep.equal({ total: 3, names: [{ name: "evil.example", count: 3 }] });
  });

  it("attributes the same way whatever is read first: the gateway's heartbeat before the job's events", () => {
    const beat = gatewayBeat(120, [{ name: "crates.io", verdict: "allowed:tls", at: [10, 20] }]);
    const early = snapOf([[beat], [started(job1, 0)], [completed(job1, 100)]]);
    const late = snapOf([[started(job1, 0), completed(job1, 100)], [beat]]);
    expect(early.jobs).to.deep.equal(late.jobs);
    expect(early.jobs[0]!.reached).to.deep.equal([{ name: "crates.io", verdict: "allowed:tls", count: 2 }]);
    expect(early.betweenJobs).to.deep.equal({});
  });

  it("a connection after an open job's start is its job's until the completion says otherwise", () => {
    const beat = gatewayBeat(200, [{ name: "npmjs.org", verdict: "allowed:tls", at: [50, 150] }]);
    const open = snapOf([[started(job1, 0), beat]]);
    expect(open.jobs[0]!.reached[0]!.count).to.equal(2);
    const done = snapOf([[started(job1, 0), beat], [completed(job1, 100)]]);
    expect(done.jobs[0]!.reached[0]!.count).to.equal(1);
    expect(done.betweenJobs["runner-01"]!.allowed).to.equal(1);
  });

  it("keeps each runner's connections apart (ephemeral lives report as their container slot)", () => {
    const e = snapOf([
      [started(job1, 0), started({ runId: 3, runner: "runner-02" }, 0)],
      [
        gatewayBeat(60, [
          { runner: "runner-01", name: "github.com", verdict: "allowed:tls", at: [10] },
          { runner: "runner-02", name: "pypi.org", verdict: "refused:name", at: [10] },
        ]),
      ],
    ]);
    const byRun = Object.fromEntries(e.jobs.map((j) => [j.runId, j]));
    expect(byRun[1]!.reached.map((n) => n.name)).to.deep.equal(["github.com"]);
    expect(byRun[1]!.refused).to.deep.equal([]);
    expect(byRun[3]!.refused.map((n) => n.name)).to.deep.equal(["pypi.org"]);
  });

  it("ignores egress figures in a heartbeat of any other runner (a job forging them)", () => {
    const e = snapOf([
      [
        started(job1, 0),
        gatewayBeat(10, [{ name: "github.com", verdict: "allowed:tls", at: [5] }], "runner-01"),
        gatewayBeat(10, [{ name: "github.com", verdict: "allowed:tls", at: [5] }], "cco-gateway-2"),
      ],
    ]);
    expect(e).to.include({ ignored: 2, heartbeats: 0, decisions: 0 });
    expect(e.jobs[0]!.reached).to.deep.equal([]);
  });

  it("refuses a gateway heartbeat out of shape or bounds, whole", () => {
    const bad: unknown[] = [
      { decisions: [{ runner: "runner-01", name: "Not A Name!", verdict: "allowed:tls", at: [ms(1)] }] },
      { decisions: [{ runner: "runner-01", name: "a.example", verdict: "allowed:everything", at: [ms(1)] }] },
      { decisions: [{ runner: "runner-01", name: "a.example", verdict: "allowed:tls", at: [] }] },
      { decisions: [{ runner: "runner-01", name: "a.example", verdict: "allowed:tls", at: ["1"] }] },
      { decisions: [{ runner: "runner 01", name: "a.example", verdict: "allowed:tls", at: [ms(1)] }] },
      // A connection stamped an hour after the heartbeat that reports it.
      { decisions: [{ runner: "runner-01", name: "a.example", verdict: "allowed:tls", at: [ms(3610)] }] },
      {
        decisions: [
          {
            runner: "runner-01",
            name: "a.example",
            verdict: "allowed:tls",
            at: Array(EGRESS_LIMITS.timesPerHeartbeat + 1).fill(ms(1)),
          },
        ],
      },
      { decisions: "github.com" },
      { decisions: [], truncated: -1 },
    ];
    for (const b of bad) expect(parseEgress(b, ms(10)), JSON.stringify(b).slice(0, 120)).to.equal(null);
    expect(parseEgress({ decisions: [], truncated: 3 }, ms(10))).to.deep.equal({ groups: [], truncated: 3 });
    const e = snapOf([[{ ...heartbeat(GATEWAY_STATS_NAME, 10), egress: bad[0] }]]);
    expect(e).to.include({ invalid: 1, heartbeats: 0, decisions: 0 });
  });

  it("stays bounded: jobs shown, names per job, and counts what it let go", () => {
    const events: unknown[] = [];
    for (let i = 1; i <= EGRESS_LIMITS.jobs + 5; i++) {
      events.push(started({ runId: i, runner: `runner-${String((i % 9) + 1).padStart(2, "0")}` }, i));
    }
    const names = Array.from({ length: EGRESS_LIMITS.namesPerJob + 10 }, (_, i) => ({
      runner: "runner-01",
      name: `n${i}.example`,
      verdict: "refused:name",
      at: [3000],
    }));
    const e = snapOf([events, [gatewayBeat(3001, names, GATEWAY_STATS_NAME, 7)]]);
    expect(e.jobs).to.have.length(EGRESS_LIMITS.jobs);
    expect(e.truncated).to.equal(7);
    const j = e.jobs.find((x) => x.runner === "runner-01" && x.runId === 54)!;
    expect(j.refused).to.have.length(EGRESS_LIMITS.namesPerJob);
    expect(j.otherNames).to.equal(10);
    expect(e.refused["1h"].total).to.equal(EGRESS_LIMITS.namesPerJob + 10);
    expect(e.refused["1h"].names).to.have.length(EGRESS_LIMITS.refusedNamesShown);
  });

  it("the gateway is no runner: not listed, nothing of it stale; its events without egress are counted", () => {
    const a = new Aggregator({ now: () => ms(3600) });
    a.consume(ndjson([started(job1, 0), gatewayBeat(10, []), heartbeat(GATEWAY_STATS_NAME, 20)]));
    const s = a.snapshot(new Date(ms(3600)), "ok", info);
    expect(Object.keys(s.runners)).to.deep.equal(["runner-01"]);
    expect(s.events.dropped.gatewayEvents).to.equal(1);
    expect(s.egress.heartbeats).to.equal(1);
  });

  it("keeps each runner's newest jobs by their times, whatever order their events arrive in", () => {
    const n = EGRESS_LIMITS.jobsPerRunner;
    // Jobs 1..n+1 started 10 s apart, read newest first: the oldest (job 1) is the one let go.
    const events = Array.from({ length: n + 1 }, (_, k) => started({ runId: n + 1 - k }, (n + 1 - k) * 10)).concat(
      gatewayBeat((n + 2) * 10, [{ name: "github.com", verdict: "allowed:tls", at: [15, (n + 1) * 10 + 1] }]),
    );
    const e = snapOf([events]);
    expect(e.dropped.jobs).to.equal(1);
    const ids = e.jobs.map((j) => j.runId);
    expect(ids).to.not.include(1);
    expect(ids).to.include(n + 1);
    // The connection at 15 s fell in the let-go job 1's time, so it counts between jobs, not in job 2.
    expect(e.jobs.find((j) => j.runId === 2)!.reached).to.deep.equal([]);
    expect(e.jobs.find((j) => j.runId === n + 1)!.reached).to.have.length(1);
  });

  it("counts a decision for good once the newest event is an hour past it: in its job, or between jobs", () => {
    const beat = gatewayBeat(120, [{ name: "github.com", verdict: "allowed:tls", at: [10, 110] }]);
    // Two hours later (a heartbeat of another runner moves the edge): settled, then a late start changes nothing.
    const later = heartbeat("runner-09", 7200);
    const a = new Aggregator({ now: () => ms(7300) });
    a.consume(ndjson([started(job1, 0), completed(job1, 100), beat, later]));
    a.snapshot(new Date(ms(7300)), "ok", info); // a pass ends: what is an hour old is settled
    a.consume(ndjson([started({ runId: 9 }, 105)])); // a start read two hours late
    const e = a.snapshot(new Date(ms(7300)), "ok", info).egress;
    const first = e.jobs.find((j) => j.runId === 1)!;
    expect(first.reached[0]!.count).to.equal(1);
    expect(e.betweenJobs["runner-01"]!.allowed).to.equal(1);
    expect(e.jobs.find((j) => j.runId === 9)!.reached).to.deep.equal([]);
  });

  it("gives the same figures after a restart (derived from the files alone)", () => {
    const text = [
      started(job1, 0),
      gatewayBeat(30, [{ name: "github.com", verdict: "allowed:tls", at: [10] }]),
      completed(job1, 100),
    ];
    expect(snapOf([text])).to.deep.equal(snapOf([text.slice(0, 1), text.slice(1)]));
  });
});
