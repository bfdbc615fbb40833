import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { appendFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gatewayFiles } from "../../../infra/gateway/params";
import { GATEWAY_STATS_NAME } from "../../../service/aggregate/egress";
import type { RunningService } from "../../../service/server";
import { jsonOf } from "../../helpers/events";
import { startTestService, TEST_TOKEN, waitFor } from "../../helpers/service";
import { useTempDir } from "../../helpers/tmp";

/**
 * One access log line in squid.conf's logformat cco, as squid 5.7 writes it
 * (the fields of `logformat cco`; a peeked tunnel logs NONE_NONE, then TCP_TUNNEL).
 */
function line(ms: number, client: string, name: string, verdict: string, squid = "TCP_TUNNEL"): string {
  const ts = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}`;
  return `${ts} client=${client} method=CONNECT name=${name} port=443 sni=${name} verdict=${verdict} status=200 squid=${squid} server=198.51.100.10 up=10 down=20 ms=5\n`;
}

/** The real egress-forwarder.sh against the real stats service on 127.0.0.1, files in a temp dir. */
describe("egress gateway: egress-forwarder.sh sends the decisions to the stats service", function () {
  this.timeout(30_000);
  const tmp = useTempDir();
  let service: RunningService | undefined;
  const log = () => join(tmp.path, "access.log");
  before(function () {
    if (spawnSync("curl", ["--version"]).status !== 0) {
      if (process.env.CI) throw new Error("curl missing in CI");
      this.skip();
    }
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  async function forward(url: string, extraEnv: Record<string, string> = {}) {
    await writeFile(
      join(tmp.path, "gateway.env"),
      `STATS_URL=${url}\nSTATS_RUNNER=${GATEWAY_STATS_NAME}\nRUNNER_ADDRESSES=10.0.0.11=runner-01 10.0.0.12=runner-02\n`,
    );
    await writeFile(join(tmp.path, "token"), `${TEST_TOKEN}\n`);
    // As in the container: the script beside the files it uses (gatewayFiles, as the program bundles them).
    const bin = join(tmp.path, "bin");
    mkdirSync(bin, { recursive: true });
    const files = gatewayFiles();
    for (const f of ["egress-forwarder.sh", "egress-decisions.awk", "lib.sh"])
      copyFileSync((files[f] as { path: string }).path, join(bin, f));
    const child = spawn("bash", [join(bin, "egress-forwarder.sh")], {
      env: {
        PATH: process.env.PATH ?? "",
        CCO_PARAMS: join(tmp.path, "gateway.env"),
        CCO_ACCESS_LOG: log(),
        CCO_STATE: tmp.path,
        CCO_TOKEN_FILE: join(tmp.path, "token"),
        ...extraEnv,
      },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { status, stderr };
  }

  /** The gateway's heartbeats the service stored. */
  function stored(): Array<Record<string, unknown> & { egress?: { decisions: unknown[]; truncated: number } }> {
    const dir = join(tmp.path, "stats");
    return readdirSync(dir)
      .filter((f) => f.endsWith(".jsonl"))
      .flatMap((f) => readFileSync(join(dir, f), "utf8").split("\n").filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.runner === GATEWAY_STATS_NAME);
  }

  const offset = () => readFileSync(join(tmp.path, "access.offset"), "utf8").trim().split(" ").map(Number);

  it("groups per runner, name and verdict with each connection's time, and advances only after a 202", async () => {
    const t = Date.now() - 60_000;
    const whole =
      line(t, "10.0.0.11", "github.com", "allowed:tls", "NONE_NONE") +
      line(t + 1, "10.0.0.11", "github.com", "allowed:tls") +
      line(t + 2, "10.0.0.11", "github.com", "allowed:tls") +
      line(t + 3, "10.0.0.11", "evil.example", "refused:name", "TCP_DENIED") +
      line(t + 4, "10.0.0.12", "pypi.org", "refused:name", "TCP_DENIED") +
      line(t + 5, "192.0.2.99", "github.com", "refused:not-a-runner", "TCP_DENIED");
    await writeFile(log(), whole + "1764680000.1 client=10.0.0.11 meth");
    const down = await forward("http://127.0.0.1:9");
    expect(down.status).to.equal(1);
    expect(existsSync(join(tmp.path, "access.offset")) ? offset()[1] : 0).to.equal(0);

    service = await startTestService(join(tmp.path, "stats"));
    const up = await forward(service.url);
    expect(up.status, up.stderr).to.equal(0);
    expect(offset()[1], "the partial last line is left for the next run").to.equal(Buffer.byteLength(whole));
    const beats = stored();
    expect(beats, up.stderr).to.have.length(1);
    expect(beats[0]!.egress, up.stderr + JSON.stringify(beats)).to.deep.equal({
      decisions: [
        { runner: "runner-01", name: "github.com", verdict: "allowed:tls", at: [t + 1, t + 2] },
        { runner: "runner-01", name: "evil.example", verdict: "refused:name", at: [t + 3] },
        { runner: "runner-02", name: "pypi.org", verdict: "refused:name", at: [t + 4] },
        { runner: "unknown", name: "github.com", verdict: "refused:not-a-runner", at: [t + 5] },
      ],
      truncated: 0,
    });
    const s = await waitFor("the decisions in the snapshot", async () => {
      const x = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return x.egress.decisions === 5 ? x : undefined;
    });
    expect(s.egress).to.include({ heartbeats: 1, invalid: 0, ignored: 0 });

    // Nothing twice: a second run without new lines sends only a plain heartbeat.
    const again = await forward(service.url);
    expect(again.status, again.stderr).to.equal(0);
    expect(stored().filter((e) => e.egress)).to.have.length(1);
    expect(stored()).to.have.length(2);
  });

  it("splits a long log into several heartbeats of at most CCO_BATCH_LINES lines", async () => {
    const t = Date.now() - 60_000;
    let text = "";
    for (let i = 0; i < 7; i++) text += line(t + i, "10.0.0.11", `n${i}.example`, "refused:name", "TCP_DENIED");
    await writeFile(log(), text);
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url, { CCO_BATCH_LINES: "3" });
    expect(r.status, r.stderr).to.equal(0);
    const beats = stored().filter((e) => e.egress);
    expect(beats.map((b) => b.egress!.decisions.length)).to.deep.equal([3, 3, 1]);
    expect(offset()[1]).to.equal(Buffer.byteLength(text));
  });

  it("finishes a rotated log first (found by its inode), then reads the new one from its start", async () => {
    const t = Date.now() - 60_000;
    const first = line(t, "10.0.0.11", "a.example", "refused:name", "TCP_DENIED");
    await writeFile(log(), first);
    service = await startTestService(join(tmp.path, "stats"));
    expect((await forward(service.url)).status).to.equal(0);
    // logrotate renames the log; squid writes one more line there before it reopens.
    await rename(log(), `${log()}.1`);
    await appendFile(`${log()}.1`, line(t + 1, "10.0.0.11", "b.example", "refused:name", "TCP_DENIED"));
    const fresh = line(t + 2, "10.0.0.11", "c.example", "refused:name", "TCP_DENIED");
    await writeFile(log(), fresh);
    const r = await forward(service.url);
    expect(r.status, r.stderr).to.equal(0);
    const names = stored()
      .filter((e) => e.egress)
      .flatMap((e) => e.egress!.decisions.map((d) => (d as { name: string }).name));
    expect(names).to.deep.equal(["a.example", "b.example", "c.example"]);
    expect(offset()[1]).to.equal(Buffer.byteLength(fresh));
  });

  it("never sends a name out of shape, and counts connections too old for the service as truncated", async () => {
    const t = Date.now();
    await writeFile(
      log(),
      line(t - 8 * 24 * 3600_000, "10.0.0.11", "old.example", "refused:name", "TCP_DENIED") +
        line(t - 1000, "10.0.0.11", 'x"y', "refused:name", "TCP_DENIED") +
        line(t - 1000, "10.0.0.11", "ok.example", "refused:name", "TCP_DENIED"),
    );
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include("skipped 1 log lines");
    const [beat] = stored().filter((e) => e.egress);
    expect(beat!.egress!.truncated).to.equal(1);
    expect(beat!.egress!.decisions).to.have.length(1);
  });
});
