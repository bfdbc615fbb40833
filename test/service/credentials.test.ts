/**
 * Trust (issue 15): each runner posts with its own credential, and the service
 * binds the `runner` of every event to the credential that sent it. The file
 * of hashes is re-read when it changes: one runner's credential is rotated or
 * revoked without touching the others, and without a restart.
 */
import { expect } from "chai";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { warmingUpSnapshot } from "../../service/aggregate/engine";
import { createApp } from "../../service/app";
import { credentialLine, CredentialStore, parseCredentials, tokenHash } from "../../service/credentials";
import { EventLog } from "../../service/eventlog";
import { silentLogger } from "../../service/log";
import { createMetrics } from "../../service/metrics";
import { SnapshotStore } from "../../service/store";
import { heartbeat, jsonOf, ndjson, started } from "../helpers/events";
import { useTempDir } from "../helpers/tmp";

const SHARED = "shared-token-0123456789abcdef";
const TOKEN_1 = "runner-01-token-aaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_2 = "runner-02-token-bbbbbbbbbbbbbbbbbbbbbbbb";
const TOKEN_1_NEW = "runner-01-token-rotated-cccccccccccccccc";

describe("credentials: one per runner, bound to the runner it names", () => {
  const tmp = useTempDir();
  let app: ReturnType<typeof createApp>;
  let eventLog: EventLog;
  let metrics: ReturnType<typeof createMetrics>;
  let file: string;
  let dataDir: string;

  /** Writes the file as an operator (or provisioning) would: a new file renamed into place. */
  async function writeCredentials(lines: string[]) {
    await writeFile(`${file}.new`, `# runner sha256:hash\n${lines.join("\n")}\n`);
    await rename(`${file}.new`, file);
  }

  beforeEach(async () => {
    file = join(tmp.path, "credentials");
    dataDir = join(tmp.path, "data");
    await writeCredentials([credentialLine("runner-01", TOKEN_1), credentialLine("runner-02", TOKEN_2)]);
    const store = new SnapshotStore(warmingUpSnapshot("test"), 10, 1000);
    eventLog = new EventLog(dataDir);
    metrics = createMetrics(store);
    const credentials = new CredentialStore(file, SHARED, silentLogger);
    app = createApp({ store, eventLog, ingestToken: SHARED, credentials, metrics, log: silentLogger });
  });
  afterEach(() => eventLog.close());

  const post = (token: string, events: unknown[]) =>
    app.request("/api/events", { method: "POST", body: ndjson(events), headers: { Authorization: `Bearer ${token}` } });
  const storedRunners = async () => {
    const names = await readdir(dataDir).catch(() => []);
    const text = (await Promise.all(names.map((n) => readFile(join(dataDir, n), "utf8")))).join("");
    return text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).runner as string);
  };

  it("accepts a runner's own events with its own token", async () => {
    expect((await post(TOKEN_1, [heartbeat("runner-01"), started({ runId: 1, runner: "runner-01" })])).status).to.equal(
      202,
    );
    expect((await post(TOKEN_2, [heartbeat("runner-02")])).status).to.equal(202);
    expect(await storedRunners()).to.deep.equal(["runner-01", "runner-01", "runner-02"]);
  });

  it("refuses (403) a batch with an event that claims another runner, stores none of it, and counts it", async () => {
    const res = await post(TOKEN_1, [heartbeat("runner-01"), started({ runId: 1, runner: "runner-02" })]);
    expect(res.status).to.equal(403);
    const body = await jsonOf(res);
    expect(body).to.include({ event: 2, field: "runner", expected: "runner-01", got: "runner-02" });
    expect(body.error).to.equal(
      'event 2 of the batch claims runner "runner-02", but the credential belongs to "runner-01"',
    );
    expect(await storedRunners()).to.deep.equal([]);
    expect(metrics.ingest.refused).to.deep.include({ forged_runner: 1 });
    const text = await (await app.request("/metrics")).text();
    expect(text).to.include('cco_ingest_requests_rejected_total{reason="forged_runner"} 1');
  });

  it("keeps the shared STATS_INGEST_TOKEN working, for any runner", async () => {
    expect((await post(SHARED, [heartbeat("runner-01"), heartbeat("runner-09")])).status).to.equal(202);
  });

  it("refuses an unknown token (401) and counts it", async () => {
    const res = await post("not-a-token-of-anyone-0000000000", [heartbeat("runner-01")]);
    expect(res.status).to.equal(401);
    expect(res.headers.get("www-authenticate")).to.equal('Bearer realm="cco-stats"');
    expect(metrics.ingest.refused).to.deep.include({ unauthorized: 1 });
  });

  it("rotates one runner's token (old and new overlap, then the old is gone) without touching the other", async () => {
    await writeCredentials([
      credentialLine("runner-01", TOKEN_1),
      credentialLine("runner-01", TOKEN_1_NEW),
      credentialLine("runner-02", TOKEN_2),
    ]);
    expect((await post(TOKEN_1, [heartbeat("runner-01")])).status).to.equal(202);
    expect((await post(TOKEN_1_NEW, [heartbeat("runner-01")])).status).to.equal(202);
    await writeCredentials([credentialLine("runner-01", TOKEN_1_NEW), credentialLine("runner-02", TOKEN_2)]);
    expect((await post(TOKEN_1, [heartbeat("runner-01")])).status).to.equal(401);
    expect((await post(TOKEN_1_NEW, [heartbeat("runner-01")])).status).to.equal(202);
    expect((await post(TOKEN_2, [heartbeat("runner-02")])).status).to.equal(202);
  });

  it("revokes one runner by removing its line; a file edited in place is read again too", async () => {
    const lines = [credentialLine("runner-02", TOKEN_2)];
    await writeFile(file, `${lines.join("\n")}\n`); // in place: same inode, new size and mtime
    expect((await post(TOKEN_1, [heartbeat("runner-01")])).status).to.equal(401);
    expect((await post(TOKEN_2, [heartbeat("runner-02")])).status).to.equal(202);
  });

  it("keeps the last good set when the file is broken, and revokes all when it is deleted", async () => {
    expect((await post(TOKEN_1, [heartbeat("runner-01")])).status).to.equal(202);
    await writeFile(file, "runner-01 not-a-hash\n");
    expect((await post(TOKEN_1, [heartbeat("runner-01")])).status).to.equal(202);
    await rm(file);
    expect((await post(TOKEN_1, [heartbeat("runner-01")])).status).to.equal(401);
    expect((await post(TOKEN_2, [heartbeat("runner-02")])).status).to.equal(401);
    expect((await post(SHARED, [heartbeat("runner-02")])).status).to.equal(202);
  });

  it("parses the file strictly, naming the bad line; it holds hashes, never tokens", () => {
    const line = credentialLine("runner-01", TOKEN_1);
    expect(line)
      .to.equal(`runner-01 sha256:${tokenHash(TOKEN_1)}`)
      .and.not.include(TOKEN_1);
    expect(parseCredentials(`# comment\n\n${line}\n`)).to.deep.equal(new Map([[tokenHash(TOKEN_1), "runner-01"]]));
    expect(() => parseCredentials(`${line}\nrunner-02 sha256:XYZ\n`)).to.throw(
      /^line 2: expected "<runner> sha256:<64 lowercase hex digits>"/,
    );
    expect(() => parseCredentials(`${line}\nrunner-02 sha256:${tokenHash(TOKEN_1)}\n`)).to.throw(
      /same token hash is given to runner-01 and runner-02/,
    );
  });

  it("reads a directory of credentials, one file per runner, as runners are added and removed", async () => {
    const dir = join(tmp.path, "credentials.d");
    await mkdir(dir);
    const store = new CredentialStore(dir, SHARED, silentLogger);
    await writeFile(join(dir, "runner-01"), `${credentialLine("runner-01", TOKEN_1)}\n`);
    expect(await store.lookup(TOKEN_1)).to.deep.equal({ runner: "runner-01" });
    expect(await store.lookup(TOKEN_2)).to.equal(null);
    await writeFile(join(dir, "runner-02"), `${credentialLine("runner-02", TOKEN_2)}\n`);
    await writeFile(join(dir, ".runner-03.tmp"), "half written");
    expect(await store.lookup(TOKEN_2)).to.deep.equal({ runner: "runner-02" });
    expect(store.runners).to.deep.equal(["runner-01", "runner-02"]);
    await rm(join(dir, "runner-01"));
    expect(await store.lookup(TOKEN_1)).to.equal(null);
    expect(store.runners).to.deep.equal(["runner-02"]);
  });
});
