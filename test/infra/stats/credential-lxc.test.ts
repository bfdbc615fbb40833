/**
 * The per-runner ingest credentials, for real: an unprivileged LXC container
 * (Debian 12, systemd as PID 1, the LXC tests' cached image; no network, only
 * its own loopback), playing both ends.
 *
 * - The stats side: the lines of infra/stats/files/provision-stats.sh that set
 *   up the credentials (the cco-stats user, infra/stats/files/stats-credential.sh
 *   installed as /usr/local/sbin/cco-stats-credential, the directory) run
 *   there, read out of provision-stats.sh itself; then what each runner's
 *   RunnerCredential runs (add, add again, rotate: a new hash for the same
 *   runner, remove), with the service's own reader (service/credentials.ts)
 *   reading the container's files after each step. The service's user reads
 *   them; it and any other user can change none of them.
 * - The runner side: the line of infra/runners/files/provision.sh that
 *   installs the forwarder's token, read out of provision.sh, run with one
 *   token and then with another: what a rotation does on the runner
 *   (pulumi-command 1.2.1 runs `create` again when an input such as stdin
 *   changes, docs of Command.create: "If an update command isn't provided,
 *   then create will also be run when the resource's inputs are modified").
 *   The runner user, as whom jobs run, can neither read, replace, rename nor
 *   remove it.
 *
 * Needs root, lxc and the tools of test/lxc/rootfs.sh (as the LXC end-to-end
 * test); skipped otherwise, except under CI=true where it fails.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { CredentialStore } from "../../../service/credentials";
import { silentLogger } from "../../../service/log";
import { E2E_TAG, LoopbackContainer, LXC_TOOLS, requireLxc } from "../../helpers/lxc";

const LXCPATH = `/var/tmp/cco-cred-lxc${E2E_TAG}`;
const NAME = `cco-cred${E2E_TAG}`;
const STATS_FILES = join(PROJECT_ROOT, "infra", "stats", "files");
const RUNNER_FILES = join(PROJECT_ROOT, "infra", "runners", "files");
/** Where the container gets the files (as Pulumi's copy puts them beside the script). */
const HERE = "/root/cco-cred";
const TOKEN_A = "runner-05-token-A-0123456789abcdefghijklmnopqrstuv";
const TOKEN_B = "runner-05-token-B-0123456789abcdefghijklmnopqrstuv";

const sha = (t: string) => `sha256:${createHash("sha256").update(t).digest("hex")}\n`;

/**
 * The lines of SCRIPT that the patterns match (the first match of each; a line
 * opening an `if` brings its block up to its `fi`), in the script's order.
 * Fails when a pattern matches nothing.
 */
function linesOf(script: string, patterns: RegExp[]): string {
  const lines = readFileSync(script, "utf8").split("\n");
  const picked = new Set<number>();
  for (const p of patterns) {
    const i = lines.findIndex((l) => p.test(l));
    if (i < 0) throw new Error(`${script} has no line matching ${p}`);
    picked.add(i);
    if (!lines[i]!.startsWith("if ")) continue;
    for (let j = i + 1; j < lines.length; j++) {
      picked.add(j);
      if (lines[j] === "fi") break;
    }
  }
  return [...picked]
    .sort((a, b) => a - b)
    .map((i) => lines[i])
    .join("\n");
}

describe("ingest credentials in an unprivileged LXC container: stats-credential.sh, rotation, and what a job cannot do", function () {
  this.timeout(20 * 60_000);
  const ct = new LoopbackContainer(LXCPATH, NAME);

  before(function () {
    requireLxc(this, "the credentials' LXC test", [...LXC_TOOLS]);
    ct.start("cco-cred");
    // The files beside the provisioning lines, as the Pulumi program's copy puts them.
    ct.must(`install -d -m 700 ${HERE}`);
    for (const [dir, file] of [
      [STATS_FILES, "stats-credential.sh"],
      [RUNNER_FILES, "lib.sh"],
    ] as const) {
      ct.must(`cat > ${HERE}/${file}`, { input: readFileSync(join(dir, file), "utf8") });
    }
  });

  after(() => ct.destroy());

  /** Runs the given lines of a provisioning script as root, with lib.sh sourced and HERE set, as the script has them. */
  function provisionLines(lines: string, input = ""): string {
    return ct.must(`set -euo pipefail; HERE=${HERE}; . "$HERE/lib.sh"\n${lines}`, { input });
  }

  it("the stats side: add, add again, rotate and remove, as the service reads them; nobody else changes them", async function () {
    provisionLines(
      linesOf(join(STATS_FILES, "provision-stats.sh"), [
        /^id cco-stats /,
        /stats-credential\.sh" \/usr\/local\/sbin\/cco-stats-credential /,
        /^ensure_dir \/etc\/cco-stats\/credentials\.d /,
      ]),
    );
    const dir = join(ct.rootfs, "etc", "cco-stats", "credentials.d");
    const store = new CredentialStore(dir, "shared-token-0123456789abcdef", silentLogger);
    const tool = (args: string, input = "") => ct.exec(`/usr/local/sbin/cco-stats-credential ${args}`, { input });

    const add = tool("add runner-05", sha(TOKEN_A));
    expect([add.status, add.stdout], add.stderr).to.deep.equal([0, "cco-stats-credential: runner-05 added\n"]);
    expect(await store.lookup(TOKEN_A)).to.deep.equal({ runner: "runner-05" });
    expect(ct.must("stat -c '%a %U:%G' /etc/cco-stats/credentials.d /etc/cco-stats/credentials.d/runner-05")).to.equal(
      "750 root:cco-stats\n640 root:cco-stats\n",
    );
    expect(ct.must("ls -A /etc/cco-stats/credentials.d")).to.equal("runner-05\n"); // no temporary file left

    // Again with the same hash (a re-run of the same Pulumi step): nothing changes, not even the file.
    const inode = ct.must("stat -c '%i %Y' /etc/cco-stats/credentials.d/runner-05");
    expect([tool("add runner-05", sha(TOKEN_A)).status, tool("add runner-05", sha(TOKEN_A)).stdout]).to.deep.equal([
      0,
      "",
    ]);
    expect(ct.must("stat -c '%i %Y' /etc/cco-stats/credentials.d/runner-05")).to.equal(inode);

    // Rotation: a new token's hash for the same runner replaces the old one, and the old token is refused.
    const rotate = tool("add runner-05", sha(TOKEN_B));
    expect([rotate.status, rotate.stdout], rotate.stderr).to.deep.equal([0, "cco-stats-credential: runner-05 added\n"]);
    expect(await store.lookup(TOKEN_B)).to.deep.equal({ runner: "runner-05" });
    expect(await store.lookup(TOKEN_A)).to.equal(null);

    // The service's user reads them; it and other users change nothing.
    expect(ct.must("cat /etc/cco-stats/credentials.d/runner-05", { user: "cco-stats" })).to.equal(
      `runner-05 ${sha(TOKEN_B)}`,
    );
    // Each user can run commands at all (so a refusal below is the files' modes, not runuser's).
    for (const user of ["cco-stats", "nobody"]) ct.must("touch /tmp/can-run-$USER", { user });
    const before = ct.must("ls -la --time-style=+%s /etc/cco-stats/credentials.d; cat /etc/cco-stats/credentials.d/*");
    for (const user of ["cco-stats", "nobody"]) {
      for (const attempt of [
        `echo "runner-06 ${sha(TOKEN_A).trim()}" > /etc/cco-stats/credentials.d/runner-06`,
        `echo "runner-05 ${sha(TOKEN_A).trim()}" > /etc/cco-stats/credentials.d/runner-05`,
        "rm -f /etc/cco-stats/credentials.d/runner-05",
        "mv /etc/cco-stats/credentials.d/runner-05 /tmp/x",
        `echo "sha256:$(printf %064d 0)" | /usr/local/sbin/cco-stats-credential add runner-06`,
      ]) {
        expect(ct.exec(attempt, { user }).status, `${user}: ${attempt}`).to.not.equal(0);
      }
    }
    expect(ct.exec("cat /etc/cco-stats/credentials.d/runner-05", { user: "nobody" }).status).to.not.equal(0);
    expect(
      ct.must("ls -la --time-style=+%s /etc/cco-stats/credentials.d; cat /etc/cco-stats/credentials.d/*"),
    ).to.equal(before);

    // Revocation (a scale-down): removed, refused, and removing again changes nothing.
    expect(tool("remove runner-05").stdout).to.equal("cco-stats-credential: runner-05 removed\n");
    expect(await store.lookup(TOKEN_B)).to.equal(null);
    expect([tool("remove runner-05").status, tool("remove runner-05").stdout]).to.deep.equal([0, ""]);
    expect(ct.must("ls -A /etc/cco-stats/credentials.d")).to.equal("");
  });

  it("the runner side: a rotated token reaches the forwarder's file by a re-provision, and a job can neither read nor replace it", function () {
    const provision = join(RUNNER_FILES, "provision.sh");
    const lines = linesOf(provision, [/^HOME_DIR=/, /^if ! id runner /, /install_text \/etc\/cco\/ingest-token /]);
    // The lines run as provision.sh runs them: INGEST_TOKEN read from stdin by read_secrets.
    const withSecrets = `INGEST_TOKEN=""\nread_secrets\nrequire INGEST_TOKEN\n${lines}`;
    expect(lines).to.include("printf '%s\\n' \"$INGEST_TOKEN\" | install_text /etc/cco/ingest-token 600 root:root");
    provisionLines(withSecrets, `INGEST_TOKEN=${TOKEN_A}\n`);
    expect(ct.must("cat /etc/cco/ingest-token")).to.equal(`${TOKEN_A}\n`);
    provisionLines(withSecrets, `INGEST_TOKEN=${TOKEN_B}\n`);
    expect(ct.must("cat /etc/cco/ingest-token")).to.equal(`${TOKEN_B}\n`);
    expect(ct.must("stat -c '%a %U:%G' /etc/cco /etc/cco/ingest-token")).to.equal("755 root:root\n600 root:root\n");

    ct.must("touch /tmp/can-run-$USER && echo ok > /tmp/forged", { user: "runner" }); // refusals below are the modes'
    const before = ct.must("stat -c '%i %Y %s' /etc/cco/ingest-token; cat /etc/cco/ingest-token; ls -A /etc/cco");
    for (const attempt of [
      "cat /etc/cco/ingest-token",
      "echo forged > /etc/cco/ingest-token",
      "rm -f /etc/cco/ingest-token",
      "mv /etc/cco/ingest-token /tmp/stolen",
      "ln -sf /tmp/forged /etc/cco/ingest-token",
      "echo forged > /etc/cco/ingest-token.new && mv -f /etc/cco/ingest-token.new /etc/cco/ingest-token",
      "cp /etc/cco/ingest-token /tmp/stolen",
    ]) {
      expect(ct.exec(attempt, { user: "runner" }).status, `runner: ${attempt}`).to.not.equal(0);
    }
    expect(ct.must("stat -c '%i %Y %s' /etc/cco/ingest-token; cat /etc/cco/ingest-token; ls -A /etc/cco")).to.equal(
      before,
    );
  });
});
