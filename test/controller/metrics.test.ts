import { expect } from "chai";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Figures, postHeartbeat, serveMetrics } from "../../controller/metrics";
import { credentialLine } from "../../service/credentials";
import { startTestService, TEST_TOKEN, waitFor } from "../helpers/service";
import { useTempDir } from "../helpers/tmp";

describe("controller: figures", () => {
  const tmp = useTempDir("cco-ctl-metrics-");

  it("serves /metrics in Prometheus text on its own address", async () => {
    const f = new Figures();
    f.lives.inc({ runner: "runner-01" });
    f.reset.observe({ runner: "runner-01" }, 2.5);
    f.failures.inc({ runner: "runner-01", stage: "rollback" });
    const server = await serveMetrics(f, "127.0.0.1", 0);
    try {
      const port = (server.address() as { port: number }).port;
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await res.text();
      expect(res.status).to.equal(200);
      expect(text).to.include('cco_controller_lives_total{runner="runner-01"} 1');
      expect(text).to.include('cco_controller_failures_total{runner="runner-01",stage="rollback"} 1');
      expect(text).to.include('cco_controller_reset_seconds_bucket{le="3",runner="runner-01"} 1');
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).to.equal(404);
    } finally {
      server.close();
    }
  });

  it("the stats service as it is today accepts the ready heartbeat, and keeps its figures", async () => {
    const service = await startTestService(tmp.path);
    try {
      const ok = await postHeartbeat(service.url, TEST_TOKEN, {
        runner: "runner-01",
        life: 3,
        lifeRunner: "runner-01-abc",
        resetSeconds: 1.9,
        failures: 0,
      });
      expect(ok).to.equal(true);
      const stored = await waitFor("the event on disk", () => {
        const lines = readdirSync(tmp.path)
          .filter((f) => f.endsWith(".jsonl"))
          .flatMap((f) => readFileSync(join(tmp.path, f), "utf8").split("\n").filter(Boolean));
        return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === "heartbeat");
      });
      expect(stored).to.include({
        runner: "runner-01",
        source: "cco-controller",
        life: 3,
        lifeRunner: "runner-01-abc",
        resetSeconds: 1.9,
      });
      expect(
        await postHeartbeat(service.url, "wrong-token", {
          runner: "r",
          life: 1,
          lifeRunner: "r-1",
          resetSeconds: 1,
          failures: 0,
        }),
      ).to.equal(false);
    } finally {
      await service.stop();
    }
  });

  it("with its own credential (as the deployment registers it): accepted under its own name, the slot in `slot`; refused for a runner's name", async () => {
    const dir = join(tmp.path, "credentials.d");
    mkdirSync(dir);
    const own = "controller-token-0123456789abcdef0123456789";
    // What cco-stats-credential writes for the controller's RunnerCredential (infra/controller/controller.ts).
    writeFileSync(join(dir, "cco-controller-pve"), `${credentialLine("cco-controller-pve", own)}\n`);
    const data = join(tmp.path, "data");
    const service = await startTestService(data, { credentialsFile: dir });
    try {
      const f = { runner: "runner-01", life: 2, lifeRunner: "runner-01-xyz", resetSeconds: 1.5, failures: 0 };
      expect(await postHeartbeat(service.url, own, f, "cco-controller-pve"), "its own name").to.equal(true);
      expect(await postHeartbeat(service.url, own, f), "the runner's name: forged for that credential").to.equal(false);
      const stored = await waitFor("the event on disk", () =>
        readdirSync(data)
          .filter((n) => n.endsWith(".jsonl"))
          .flatMap((n) => readFileSync(join(data, n), "utf8").split("\n").filter(Boolean))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((e) => e.type === "heartbeat"),
      );
      expect(stored).to.include({ runner: "cco-controller-pve", slot: "runner-01", lifeRunner: "runner-01-xyz" });
    } finally {
      await service.stop();
    }
  });
});
