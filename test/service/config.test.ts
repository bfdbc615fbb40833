import { expect } from "chai";
import { loadStatsConfig } from "../../service/config";

describe("config: STATS_* environment", () => {
  it("has the contract's defaults", () => {
    expect(loadStatsConfig({})).to.deep.equal({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "./.data/stats",
      ingestToken: undefined,
      intervalMs: 30000,
      historyLimit: 3600,
      aggregation: "inline",
      workerHeapMb: 128,
      runners: null,
      credentialsFile: null,
      github: null,
    });
  });

  it("reads every variable", () => {
    const c = loadStatsConfig({
      STATS_HOST: "0.0.0.0",
      STATS_PORT: "9000",
      STATS_DATA_DIR: "/var/lib/x",
      STATS_INGEST_TOKEN: "t".repeat(20),
      STATS_INTERVAL_MS: "500",
      STATS_HISTORY_LIMIT: "10",
      STATS_AGGREGATION: "worker",
    });
    expect(c).to.include({
      host: "0.0.0.0",
      port: 9000,
      dataDir: "/var/lib/x",
      intervalMs: 500,
      historyLimit: 10,
      aggregation: "worker",
    });
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ STATS_HOST: "" }, /^STATS_HOST="" must name an address/],
    [{ STATS_PORT: "http" }, /^STATS_PORT="http" must be a whole number from 0 to 65535/],
    [{ STATS_PORT: "70000" }, /^STATS_PORT="70000"/],
    [{ STATS_INTERVAL_MS: "-5" }, /^STATS_INTERVAL_MS="-5"/],
    [{ STATS_HISTORY_LIMIT: "0" }, /^STATS_HISTORY_LIMIT="0" must be a whole number from 1/],
    [{ STATS_AGGREGATION: "threads" }, /^STATS_AGGREGATION="threads"/],
    [{ STATS_WORKER_HEAP_MB: "8" }, /^STATS_WORKER_HEAP_MB="8" must be a whole number from 32/],
    [{ STATS_INGEST_TOKEN: "" }, /^STATS_INGEST_TOKEN=\(hidden\) must not be empty/],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      expect(() => loadStatsConfig(env)).to.throw(message);
    });
  }
});
