import { expect } from "chai";
import { Aggregator } from "../../service/aggregate/aggregator";
import { at, controllerReady as ready, heartbeat, ndjson, PASS_INFO as info, started } from "../helpers/events";

// heartbeat() stamps from 2026-11-26T18:00:00Z; the snapshot is taken 5 minutes after.
const END = new Date(Date.parse(at(300)));
function snap(events: unknown[], declaredRunners?: string[]) {
  const a = new Aggregator({ declaredRunners, now: () => END.getTime() });
  a.consume(ndjson(events));
  return a.snapshot(END, "ok", info);
}

describe("aggregator: ephemeral lives from the controllers' heartbeats", () => {
  it("counts a controller's ready lives: time to ready per window, failures, each slot's newest life", () => {
    const s = snap([
      ready(10, 4.2, { life: 1 }),
      ready(20, 3.1, { slot: "runner-02", life: 1 }),
      ready(100, 6.5, { life: 2, failures: 1 }),
      ready(200, 2.25, { life: 3, failures: 1 }),
    ]);
    expect(s.lives.total).to.equal(4);
    expect(s.lives.failures).to.equal(1);
    expect(s.lives.windows["1h"]).to.deep.equal({
      minutes: 60,
      lives: 4,
      failures: 1,
      resetSeconds: { p50: 3.1, p95: 6.5, max: 6.5 },
    });
    expect(s.lives.slots["runner-01"]).to.deep.equal({
      controller: "cco-controller-pve",
      life: 3,
      lifeRunner: "runner-01-m1abc3",
      resetSeconds: 2.25,
      failures: 1,
      at: at(200),
    });
    expect(s.lives.controllers).to.deep.equal({ "cco-controller-pve": { lastHeartbeatAt: at(200), lives: 4 } });
    expect(s.events).to.include({ total: 4, rejected: 0 });
    expect(s.events.dropped).to.include({ lifeFigures: 0, lives: 0 });
  });

  it("keeps controllers out of the runners (nothing to go stale), declared or not", () => {
    const s = snap([ready(10, 4), started({ runId: 1 }, 20)], ["runner-01", "cco-controller-pve"]);
    expect(Object.keys(s.runners)).to.deep.equal(["runner-01"]);
    expect(s.fleet.declared).to.deep.equal(["runner-01"]);
    expect(s.windows["1h"].runners).to.equal(1); // utilisation is over runners, not controllers
  });

  it("ignores the figures of a heartbeat under a runner's name: a runner's credential cannot speak for a controller", () => {
    const s = snap([ready(10, 0.5, { runner: "runner-01" })]);
    expect(s.lives.total).to.equal(0);
    expect(s.lives.windows["1h"].resetSeconds.p50).to.equal(null);
    expect(s.runners["runner-01"]!.lastHeartbeatAt).to.equal(at(10)); // still a plain heartbeat of that runner
    expect(s.events.dropped.lifeFigures).to.equal(0);
  });

  it("ignores and counts a controller's invalid figures, and job events under its name", () => {
    const bad: Array<Record<string, unknown>> = [
      { resetSeconds: -1 },
      { resetSeconds: 86_400 },
      { resetSeconds: "3" },
      { resetSeconds: null },
      { life: 0 },
      { life: 1.5 },
      { failures: -1 },
      { failures: 2.5 },
      { slot: "" },
      { slot: "../etc" },
      { slot: "cco-controller-pve" },
      { slot: 7 },
    ];
    const s = snap([
      ...bad.map((b, i) => ({ ...ready(10 + i, 3), ...b })),
      heartbeat("cco-controller-pve", 30), // a heartbeat with no figures at all
      started({ runId: 1, runner: "cco-controller-pve" }, 40),
      ready(50, 3),
    ]);
    expect(s.lives.total).to.equal(1);
    expect(s.lives.windows["1h"].resetSeconds).to.deep.equal({ p50: 3, p95: 3, max: 3 });
    expect(s.events.dropped.lifeFigures).to.equal(bad.length + 2);
    expect(s.events.total).to.equal(bad.length + 3);
    expect(s.runners).to.deep.equal({});
    expect(s.jobs.started).to.equal(0);
  });

  it("places lives in the windows by event time, whenever they arrive", () => {
    const hour = 3600;
    const s = snap([
      ready(200, 1), // this hour
      ready(300 - 2 * hour, 20, { life: 1, slot: "runner-02" }), // 2 h ago: 24h and 7d only
      ready(300 - 3 * 24 * hour, 90, { life: 1, slot: "runner-03", failures: 2 }), // 3 days ago: 7d only
      ready(300 - 8 * 24 * hour, 500, { life: 1, slot: "runner-04" }), // past every window
    ]);
    const w = s.lives.windows;
    expect([w["1h"].lives, w["24h"].lives, w["7d"].lives]).to.deep.equal([1, 2, 3]);
    expect([w["1h"].resetSeconds.max, w["24h"].resetSeconds.max, w["7d"].resetSeconds.max]).to.deep.equal([1, 20, 90]);
    expect([w["1h"].failures, w["24h"].failures, w["7d"].failures]).to.deep.equal([0, 0, 2]);
    expect(s.lives.total).to.equal(4);
  });

  it("counts a slot's failures as its counter rises, and from zero after the controller restarts", () => {
    const s = snap([
      ready(10, 3, { life: 1, failures: 0 }),
      ready(20, 3, { life: 2, failures: 2 }),
      ready(30, 3, { life: 3, failures: 2 }),
      ready(40, 3, { life: 1, failures: 1 }), // restarted: its counter began again
    ]);
    expect(s.lives.failures).to.equal(3);
    expect(s.lives.windows["1h"].failures).to.equal(3);
  });

  it("counts a heartbeat delivered twice once", () => {
    const s = snap([ready(10, 4), ready(10, 4), ready(20, 5, { life: 2 })]);
    expect([
      s.lives.total,
      s.lives.windows["1h"].lives,
      s.lives.controllers["cco-controller-pve"]!.lives,
    ]).to.deep.equal([2, 2, 2]);
  });

  it("gives the same figures after a restart: a new aggregator over the same lines", () => {
    const lines = [ready(10, 4.2), ready(70, 3.3, { life: 2, failures: 1 }), ready(80, 9, { slot: "runner-02" })];
    const first = snap(lines);
    const again = new Aggregator({ now: () => END.getTime() });
    again.consume(ndjson(lines.slice(0, 1)));
    again.consume(ndjson(lines.slice(1)));
    expect(again.snapshot(END, "ok", info).lives).to.deep.equal(first.lives);
    expect(first.lives.total).to.equal(3);
  });
});
