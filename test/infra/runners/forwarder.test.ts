import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { appendFile, chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import type { RunningService } from "../../../service/server";
import { completed, jsonOf, ndjson, started } from "../../helpers/events";
import { startTestService, TEST_TOKEN, waitFor } from "../../helpers/service";
import { useTempDir } from "../../helpers/tmp";

const FORWARDER = join(PROJECT_ROOT, "infra", "runners", "files", "forwarder.sh");

/** The real forwarder.sh against the real stats service on 127.0.0.1, files in a temp dir. */
describe("runners: forwarder.sh sends the spool to the stats service", function () {
  this.timeout(30_000);
  const tmp = useTempDir();
  let service: RunningService | undefined;
  before(function () {
    const missing = ["curl", "jq"].filter((tool) => spawnSync(tool, ["--version"]).status !== 0);
    if (missing.length > 0 && process.env.CI)
      throw new Error(`${missing.join(", ")} missing in CI (.ci/run installs them)`);
    if (missing.length > 0) this.skip();
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  async function forward(url: string, extraEnv: Record<string, string> = {}) {
    await writeFile(join(tmp.path, "runner.env"), `RUNNER_NAME=runner-07\nSTATS_URL=${url}\n`);
    await writeFile(join(tmp.path, "token"), `${TEST_TOKEN}\n`);
    // Asynchronous: the stats service runs in this process and must keep serving.
    const child = spawn("bash", [FORWARDER], {
      env: {
        PATH: process.env.PATH ?? "",
        CCO_PARAMS: join(tmp.path, "runner.env"),
        CCO_SPOOL: join(tmp.path, "events.jsonl"),
        CCO_STATE: tmp.path,
        CCO_TOKEN_FILE: join(tmp.path, "token"),
        CCO_BATCH_LINES: "3",
        ...extraEnv,
      },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { status, stderr };
  }

  it("forwards complete lines, advances the offset only after 202, and keeps lines while the service is down", async () => {
    const spool = join(tmp.path, "events.jsonl");
    await writeFile(
      spool,
      ndjson([started({ runId: 1, runner: "runner-07" }), completed({ runId: 1, runner: "runner-07" }, 30)]) +
        '{"v":1,"type":"job_st',
    );
    // Down: nothing is lost, the offset stays.
    const down = await forward("http://127.0.0.1:9");
    expect(down.status).to.equal(1);
    expect(existsSync(join(tmp.path, "spool.offset"))).to.equal(false);

    service = await startTestService(join(tmp.path, "stats"));
    const up = await forward(service.url);
    expect(up.status, up.stderr).to.equal(0);
    const firstTwo = Buffer.byteLength(
      ndjson([started({ runId: 1, runner: "runner-07" }), completed({ runId: 1, runner: "runner-07" }, 30)]),
    );
    expect(Number(await readFile(join(tmp.path, "spool.offset"), "utf8"))).to.equal(firstTwo);

    // The partial line completes, more lines come, one of them invalid: it is skipped, the rest goes.
    await appendFile(
      spool,
      'arted"}\n' + ndjson([started({ runId: 2, runner: "runner-07" }), started({ runId: 3, runner: "runner-07" })]),
    );
    const again = await forward(service.url);
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).to.include("skipped a line the stats service refused");
    const stats = await waitFor("events and heartbeat", async () => {
      const s = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return s.jobs.started === 3 && s.runners["runner-07"]?.lastHeartbeatAt ? s : undefined;
    });
    expect(stats.jobs).to.include({ started: 3, completed: 1 });
    expect(Number(await readFile(join(tmp.path, "spool.offset"), "utf8"))).to.equal((await readFile(spool)).length);
  });

  it("never puts the ingest token on curl's command line (any user can read /proc/*/cmdline)", async () => {
    // A curl in front of the real one, on PATH: it records its argv, then runs the real curl with it.
    const realCurl = spawnSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim();
    const shimDir = join(tmp.path, "shim");
    const argvLog = join(tmp.path, "curl-argv");
    await mkdir(shimDir);
    await writeFile(
      join(shimDir, "curl"),
      `#!/bin/sh\nprintf '%s\\n' "$0" "$@" >> '${argvLog}'\nexec '${realCurl}' "$@"\n`,
    );
    await chmod(join(shimDir, "curl"), 0o755);
    await writeFile(join(tmp.path, "events.jsonl"), ndjson([started({ runId: 11, runner: "runner-07" })]));
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url, { PATH: `${shimDir}:${process.env.PATH ?? ""}` });
    expect(r.status, r.stderr).to.equal(0);
    const argv = await readFile(argvLog, "utf8");
    // Two calls (the spool's batch, the heartbeat), both authenticated (202), neither with the token in argv.
    const args = argv.split("\n");
    expect(
      args.filter((a, i) => a.startsWith("@") && args[i - 1] === "-H"),
      argv,
    ).to.have.length(2);
    expect(argv).to.not.include(TEST_TOKEN);
    expect(argv).to.not.include("Bearer");
    const stats = await waitFor("event and heartbeat", async () => {
      const s = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return s.jobs.started === 1 && s.runners["runner-07"]?.lastHeartbeatAt ? s : undefined;
    });
    expect(stats.jobs.started).to.equal(1);
  });

  it("sends the runner service's listener state in the heartbeat", async () => {
    // The states themselves come from real systemd in the LXC end-to-end test; here, a
    // host where systemctl cannot answer: the listener cannot be seen, so it is not healthy.
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url);
    expect(r.status, r.stderr).to.equal(0);
    const stored = (await readdir(join(tmp.path, "stats")))
      .filter((f) => f.endsWith(".jsonl"))
      .map((f) => readFileSync(join(tmp.path, "stats", f), "utf8"))
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const beat = stored.find((e) => e.type === "heartbeat");
    expect(beat, JSON.stringify(stored)).to.include({ runner: "runner-07" });
    expect(["running", "stopped", "failed", "refused"]).to.include(beat!.listener);
    expect(beat).to.have.property("listenerExitCode");
    expect(beat!.listenerExitCode === null || Number.isInteger(beat!.listenerExitCode)).to.equal(true);
  });

  /**
   * systemctl and journalctl stand-ins answering as systemd does for a unit that
   * stopped, with `invocation` the lines tagged with its invocation ID and `unit`
   * those under its name since its start. The race itself (journald reading a
   * stopping unit's last line after its cgroup is gone keeps the stream's unit
   * name but not the invocation: systemd src/journal/journald-context.c,
   * client_context_read_cgroup's fallback) is not reproducible on demand; the
   * LXC end-to-end test runs the states on real systemd.
   */
  async function stoppedUnit(invocation: string[], unit: string[]): Promise<Record<string, string>> {
    const bin = join(tmp.path, "bin");
    await mkdir(bin, { recursive: true });
    await writeFile(join(tmp.path, "invocation.log"), invocation.map((l) => `${l}\n`).join(""));
    await writeFile(join(tmp.path, "unit.log"), unit.map((l) => `${l}\n`).join(""));
    const stub = (name: string, body: string) => writeFile(join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    await stub(
      "systemctl",
      `case "$*" in
  *ActiveState*) echo inactive ;;
  *InvocationID*) echo 0123456789abcdef0123456789abcdef ;;
  *ExecMainStatus*) echo 0 ;;
  *ExecMainStartTimestamp*) echo @1764680000 ;;
  *) exit 1 ;;
esac`,
    );
    await stub(
      "journalctl",
      `case "$*" in
  *_SYSTEMD_INVOCATION_ID=0123456789abcdef0123456789abcdef*) cat "${tmp.path}/invocation.log" ;;
  *"-u actions-runner.service --since @1764680000"*) cat "${tmp.path}/unit.log" ;;
  *) exit 1 ;;
esac`,
    );
    return { PATH: `${bin}:${process.env.PATH ?? ""}` };
  }

  async function heartbeatAfter(env: Record<string, string>): Promise<Record<string, unknown>> {
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url, env);
    expect(r.status, r.stderr).to.equal(0);
    const beat = (await readdir(join(tmp.path, "stats")))
      .filter((f) => f.endsWith(".jsonl"))
      .flatMap((f) =>
        readFileSync(join(tmp.path, "stats", f), "utf8")
          .split("\n")
          .filter(Boolean),
      )
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === "heartbeat");
    return beat!;
  }

  it("finds the listener's exit code under the unit's name when its last line lost the invocation ID", async () => {
    const beat = await heartbeatAfter(
      await stoppedUnit(
        ["√ Connected to GitHub"],
        ["√ Connected to GitHub", "Runner listener exit with terminated error, stop the service, no retry needed."],
      ),
    );
    expect(beat).to.include({ listener: "refused", listenerExitCode: 1 });
  });

  it("takes the code logged under this invocation before the unit's lines (a start within the second of the last)", async () => {
    // --since has whole seconds: the run before, stopped in the same second, is in the unit's lines too.
    const beat = await heartbeatAfter(
      await stoppedUnit(
        ["Runner listener exit with 0 return code, stop the service, no retry needed."],
        ["Runner listener exit with terminated error, stop the service, no retry needed."],
      ),
    );
    expect(beat).to.include({ listener: "stopped", listenerExitCode: 0 });
  });

  it("skips a single line the service refuses as too large (413), instead of retrying it forever", async () => {
    const spool = join(tmp.path, "events.jsonl");
    // Over the service's 1 MiB body limit on its own: never accepted, whatever the batch.
    const huge = { ...started({ runId: 22, runner: "runner-07" }), pad: "x".repeat(1024 * 1024 + 1) };
    await writeFile(
      spool,
      ndjson([started({ runId: 21, runner: "runner-07" }), huge, started({ runId: 23, runner: "runner-07" })]),
    );
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include("skipped a line the stats service refused as too large");
    const stats = await waitFor("the events around the huge line", async () => {
      const s = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return s.jobs.started === 2 ? s : undefined;
    });
    expect(stats.jobs.started).to.equal(2);
    expect(Number(await readFile(join(tmp.path, "spool.offset"), "utf8"))).to.equal((await readFile(spool)).length);
  });

  it("with a batch limit above the service's, falls back to one line at a time on 413", async () => {
    const spool = join(tmp.path, "events.jsonl");
    // Two lines of 600 KiB: each fits the service's limit, both in one batch do not.
    const big = (runId: number) => ({ ...started({ runId, runner: "runner-07" }), pad: "y".repeat(600 * 1024) });
    await writeFile(spool, ndjson([big(31), big(32)]));
    service = await startTestService(join(tmp.path, "stats"));
    const r = await forward(service.url, { CCO_BATCH_BYTES: String(4 * 1024 * 1024) });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.not.include("skipped");
    const stats = await waitFor("both big events", async () => {
      const s = await jsonOf(await fetch(`${service!.url}/api/stats`));
      return s.jobs.started === 2 ? s : undefined;
    });
    expect(stats.jobs.started).to.equal(2);
    expect(Number(await readFile(join(tmp.path, "spool.offset"), "utf8"))).to.equal((await readFile(spool)).length);
  });
});
