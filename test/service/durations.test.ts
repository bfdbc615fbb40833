import { expect } from "chai";
import { DurationStats, EXACT_LIMIT, RELATIVE_ACCURACY } from "../../service/aggregate/durations";

describe("durations: quantiles with bounded cost", () => {
  it("has no quantiles without samples", () => {
    expect(new DurationStats().summary()).to.include({ count: 0, p50: null, p95: null, max: null });
  });

  it("gives exact nearest-rank quantiles while samples are few", () => {
    const d = new DurationStats();
    for (const s of [180, 60, 120, 240, 30]) d.add(s);
    // sorted: 30 60 120 180 240 -> p50 = rank 3, p95 = rank 5
    expect(d.summary()).to.include({ count: 5, p50: 120, p95: 240, max: 240, sumSeconds: 630 });
  });

  it("stays within its relative accuracy once samples fold into the sketch", () => {
    const d = new DurationStats();
    const samples: number[] = [];
    // A skewed, CI-like spread from 2 s to about an hour, deterministic.
    let x = 12345;
    for (let i = 0; i < EXACT_LIMIT * 3; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const s = 2 + 3600 * (x / 2 ** 31) ** 3;
      samples.push(s);
      d.add(s);
    }
    samples.sort((a, b) => a - b);
    const truth = (q: number) => samples[Math.ceil(q * samples.length) - 1]!;
    const sum = d.summary();
    expect(sum.count).to.equal(samples.length);
    expect(Math.abs(sum.p50! - truth(0.5)) / truth(0.5)).to.be.at.most(RELATIVE_ACCURACY + 1e-3);
    expect(Math.abs(sum.p95! - truth(0.95)) / truth(0.95)).to.be.at.most(RELATIVE_ACCURACY + 1e-3);
    expect(sum.max).to.equal(Math.round(samples.at(-1)! * 1000) / 1000);
  });

  it("keeps cumulative Prometheus buckets", () => {
    const d = new DurationStats();
    for (const s of [0.5, 1, 4, 61, 7200]) d.add(s);
    const b = d.summary().buckets;
    expect(b["1"]).to.equal(2); // le is inclusive
    expect(b["5"]).to.equal(3);
    expect(b["60"]).to.equal(3);
    expect(b["120"]).to.equal(4);
    expect(b["3600"]).to.equal(4);
    expect(b["+Inf"]).to.equal(5);
  });
});
