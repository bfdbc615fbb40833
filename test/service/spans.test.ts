import { expect } from "chai";
import { JobSpans, sortKey, type SpanKey } from "../../service/aggregate/spans";

const blank = (): SpanKey => ({ repo: "", job: "", runId: 0, runAttempt: 0, startMs: NaN, doneMs: NaN });

/** Adds a span of run `runId` started (or, with `done`, only completed) at `ms`. */
function add(spans: JobSpans<SpanKey>, runId: number, ms: number, dropped = { jobs: 0 }, done = false): boolean {
  const s = spans.take();
  Object.assign(s, {
    repo: "o/r",
    job: "test",
    runId,
    runAttempt: 1,
    startMs: done ? NaN : ms,
    doneMs: done ? ms : NaN,
  });
  return spans.add(s, dropped);
}

const order = (spans: JobSpans<SpanKey>) => spans.list.map((s) => s.runId);

describe("JobSpans: a runner's newest job spans, kept in start order", () => {
  it("keeps spans read out of order in order, equal times in arrival order", () => {
    const spans = new JobSpans(8, blank);
    for (const [id, ms] of [
      [10, 100],
      [11, 300],
      [3, 50],
      [12, 200],
      [13, 200],
    ]) {
      add(spans, id!, ms!);
    }
    expect(order(spans)).to.deep.equal([3, 10, 12, 13, 11]);
    expect(spans.list.map(sortKey)).to.deep.equal([50, 100, 200, 200, 300]);
  });

  it("full: the oldest goes, and a span older than every one kept is not kept at all", () => {
    const spans = new JobSpans(3, blank);
    const dropped = { jobs: 0 };
    for (let id = 1; id <= 4; id++) add(spans, id, id * 100, dropped);
    expect(order(spans)).to.deep.equal([2, 3, 4]);
    expect(dropped.jobs).to.equal(1);
    expect(add(spans, 9, 50, dropped)).to.equal(false);
    expect(order(spans)).to.deep.equal([2, 3, 4]);
    expect(dropped.jobs).to.equal(2);
    expect(spans.find(9, 1, "test", "o/r")).to.equal(undefined);
    // One older than the newest but newer than the oldest still gets in; the oldest goes.
    expect(add(spans, 8, 250, dropped)).to.equal(true);
    expect(order(spans)).to.deep.equal([8, 3, 4]);
  });

  it("finds a span by run, attempt, job and repository, also of a run older than the newest", () => {
    const spans = new JobSpans(8, blank);
    add(spans, 5, 100);
    add(spans, 7, 200);
    expect(spans.find(5, 1, "test", "o/r")?.startMs).to.equal(100);
    expect(spans.find(5, 2, "test", "o/r")).to.equal(undefined);
    expect(spans.find(5, 1, "lint", "o/r")).to.equal(undefined);
    expect(spans.find(5, 1, "test", "o/other")).to.equal(undefined);
    expect(spans.find(8, 1, "test", "o/r")).to.equal(undefined);
  });

  it("a completion read first sorts by its end, and moves to its start once that is read", () => {
    const spans = new JobSpans(8, blank);
    add(spans, 1, 100);
    add(spans, 2, 500, undefined, true); // only its completion so far
    add(spans, 3, 300);
    expect(order(spans)).to.deep.equal([1, 3, 2]);
    const s = spans.find(2, 1, "test", "o/r")!;
    s.startMs = 50;
    spans.moved(s);
    expect(order(spans)).to.deep.equal([2, 1, 3]);
    // Its times found again through the numbers kept beside the spans.
    expect(spans.find(2, 1, "test", "o/r")).to.equal(s);
  });

  it("reuses the span let go for the next one (every field set again by its user)", () => {
    const spans = new JobSpans(1, blank);
    add(spans, 1, 100);
    const first = spans.list[0];
    add(spans, 2, 200);
    expect(spans.take()).to.equal(first);
  });
});
