/**
 * infra/stats/files/stats-credential.sh (what each runner's RunnerCredential
 * runs on the stats container) against the service's own reader
 * (service/credentials.ts): what it adds is accepted, what it removes is
 * refused, twice changes nothing, bad input changes nothing.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CredentialStore, tokenHash } from "../../service/credentials";
import { silentLogger } from "../../service/log";
import { useTempDir } from "../helpers/tmp";

const SCRIPT = join(__dirname, "..", "..", "infra", "stats", "files", "stats-credential.sh");
const TOKEN = "runner-05-token-0123456789abcdefghijklmnop";

describe("stats-credential.sh: adds and removes one runner's credential", () => {
  const tmp = useTempDir();
  const dir = () => join(tmp.path, "credentials.d");
  const group = spawnSync("id", ["-gn"], { encoding: "utf8" }).stdout.trim();
  const run = (args: string[], input = "") =>
    spawnSync("bash", [SCRIPT, ...args], {
      input,
      encoding: "utf8",
      env: { ...process.env, CCO_STATS_CREDENTIALS_DIR: dir(), CCO_STATS_GROUP: group },
    });

  it("writes a file the service reads, idempotently, and removes it", async () => {
    const store = new CredentialStore(dir(), "shared-0123456789abcdef", silentLogger);
    const add = run(["add", "runner-05"], `sha256:${tokenHash(TOKEN)}\n`);
    expect(add.status, add.stderr).to.equal(0);
    expect(add.stdout).to.equal("cco-stats-credential: runner-05 added\n");
    expect(await store.lookup(TOKEN)).to.deep.equal({ runner: "runner-05" });
    expect(statSync(join(dir(), "runner-05")).mode & 0o777).to.equal(0o640);
    expect(readdirSync(dir())).to.deep.equal(["runner-05"]); // no temporary file left behind
    const again = run(["add", "runner-05"], `sha256:${tokenHash(TOKEN)}\n`);
    expect([again.status, again.stdout]).to.deep.equal([0, ""]);
    const remove = run(["remove", "runner-05"]);
    expect([remove.status, remove.stdout]).to.deep.equal([0, "cco-stats-credential: runner-05 removed\n"]);
    expect(await store.lookup(TOKEN)).to.equal(null);
    expect([run(["remove", "runner-05"]).status, run(["remove", "runner-05"]).stdout]).to.deep.equal([0, ""]);
  });

  it("refuses a bad runner name or hash, and changes nothing", () => {
    for (const [args, input, message] of [
      [["add", "../etc"], `sha256:${tokenHash(TOKEN)}\n`, "bad runner name"],
      [["add", "runner-05"], "not-a-hash\n", "expected sha256:<64 hex digits> on stdin"],
      [["add", "runner-05"], TOKEN, "expected sha256:<64 hex digits> on stdin"],
      [["rotate", "runner-05"], "", "usage"],
    ] as const) {
      const r = run([...args], input);
      expect(r.status, args.join(" ")).to.equal(2);
      expect(r.stderr).to.include(message);
    }
    expect(spawnSync("ls", [dir()]).status).to.not.equal(0); // never created
  });
});
