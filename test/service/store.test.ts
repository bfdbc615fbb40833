import { expect } from "chai";
import { Aggregator } from "../../service/aggregate/aggregator";
import { passResult as resultOf, publish, warmingUpSnapshot, type PassResult } from "../../service/aggregate/engine";
import { SnapshotStore, STALE_AFTER_INTERVALS } from "../../service/store";
import { PASS_INFO } from "../helpers/events";

function passResult(n: number, historyMinutes = 5): PassResult {
  const at = new Date(Date.UTC(2026, 10, 26, 0, n, 0));
  const a = new Aggregator({ now: () => at.getTime() });
  const s = a.snapshot(at, "ok", { ...PASS_INFO, passes: n });
  return resultOf(a, s, historyMinutes);
}

describe("store: latest snapshot, history ring, health", () => {
  it("serves the warming-up snapshot until a pass publishes", () => {
    const store = new SnapshotStore(warmingUpSnapshot("test"), 10, 1000);
    expect(JSON.parse(store.current.json).status).to.equal("warming_up");
    expect(store.health().healthy).to.equal(false);
    expect(store.health().body.status).to.equal("warming_up");
  });

  it("takes partial snapshots only until the first complete one", () => {
    const store = new SnapshotStore(warmingUpSnapshot("test"), 10, 1000);
    const partial = publish({ ...passResult(1).snapshot, status: "partial" });
    store.progress(partial);
    expect(store.current.snapshot.status).to.equal("partial");
    store.passSucceeded(passResult(2));
    store.progress(partial);
    expect(store.current.snapshot.status).to.equal("ok");
  });

  it("serves the last pass's history (minutes of event time), at most historyLimit entries, newest last", () => {
    const store = new SnapshotStore(warmingUpSnapshot("test"), 3, 1000);
    store.passSucceeded(passResult(7, 10));
    expect(store.historyLength).to.equal(3);
    const minutes = (json: string) => JSON.parse(json).map((e: { at: string }) => new Date(e.at).getUTCMinutes());
    expect(minutes(store.historyJson())).to.deep.equal([5, 6, 7]);
    expect(minutes(store.historyJson(2))).to.deep.equal([6, 7]);
    expect(minutes(store.historyJson(100))).to.deep.equal([5, 6, 7]);
  });

  it("is unhealthy when the last good pass is older than 3 intervals", () => {
    const store = new SnapshotStore(warmingUpSnapshot("test"), 3, 1000);
    store.passSucceeded(passResult(1), 10_000);
    expect(store.health(10_000 + STALE_AFTER_INTERVALS * 1000).healthy).to.equal(true);
    const h = store.health(10_000 + STALE_AFTER_INTERVALS * 1000 + 1);
    expect(h.healthy).to.equal(false);
    expect(h.body.status).to.equal("stale");
  });

  it("records failed passes without dropping the snapshot", () => {
    const store = new SnapshotStore(warmingUpSnapshot("test"), 3, 1000);
    store.passSucceeded(passResult(1));
    const before = store.current.json;
    store.passFailed(new Error("disk on fire"));
    expect(store.current.json).to.equal(before);
    expect(store.health().body).to.include({ failedPasses: 1, lastError: "disk on fire", passes: 1 });
  });
});
