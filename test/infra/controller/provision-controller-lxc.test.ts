/**
 * provision-controller.sh for real: an unprivileged LXC container (Debian 12,
 * systemd as PID 1, the LXC tests' cached image; no network, only its own
 * loopback) plays the Proxmox node. It gets the very files the program copies
 * (infra/controller/controller.ts controllerFiles: the script, lib.sh, the
 * unit, the bundled controller, controller.json, controller.env) in
 * /root/cco-provision-<hash>, and the program's command line runs with the
 * secrets on stdin, as the install step does over SSH.
 *
 * What the node has that the image lacks, given here:
 * - Node.js: the release the program pins is downloaded from nodejs.org; here a
 *   tarball of this machine's own node, laid out as the release's
 *   (node-v<version>-linux-x64/bin/node), reached by a file:// URL, with its
 *   real sha256 (install_node fetches and verifies it as it would the pinned one);
 * - xz (a Proxmox node has xz-utils; the image does not): this machine's
 *   /usr/bin/xz, both Debian 12;
 * - pct: a stand-in at /usr/sbin/pct (the controller's default) for a node
 *   without containers: it records each call and fails as pct fails for an
 *   unknown vmid, with test/lxc/pct's message and exit code (pve-container
 *   src/PVE/CLI/pct.pm at 94f5585, $upid_exit: exit(-1)). The controller's
 *   lives fail and back off; nothing here is reset, and nothing needs to be.
 *
 * Needs root, lxc and the tools of test/lxc/rootfs.sh; skipped otherwise,
 * except under CI=true where it fails.
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { controllerFiles } from "../../../infra/controller/controller";
import { provisionBundle, provisionCommand, type ProvisionBundle } from "../../../infra/provisioning";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { E2E_TAG, LoopbackContainer, LXC_TOOLS, must, requireLxc, run } from "../../helpers/lxc";

const LXCPATH = `/var/tmp/cco-ctl-lxc${E2E_TAG}`;
const NAME = `cco-ctl${E2E_TAG}`;
const UNIT = "cco-controller.service";
const UNIT_FILE = join(PROJECT_ROOT, "infra", "controller", "files", UNIT);
const SECRETS = "GITHUB_TOKEN=github_pat_test_0123456789abcdef\nINGEST_TOKEN=ingest-test-0123456789abcdef\n";
const PCT_LOG = "/var/log/cco-pct-standin.log";
const PCT_STANDIN = `#!/bin/sh
# A node without containers (see the test's header): records the call, fails as pct does for an unknown vmid.
echo "$*" >> ${PCT_LOG}
echo "Configuration file 'nodes/$(hostname)/lxc/$2.conf' does not exist" >&2
exit 255
`;

/** The [Service] hardening lines of the unit, as systemctl show names and prints them. */
function unitHardening(): Record<string, string> {
  const keys = [
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "NoNewPrivileges",
    "RestrictSUIDSGID",
    "LockPersonality",
    "RestrictRealtime",
    "ProtectClock",
    "ProtectKernelLogs",
    "UMask",
    "StateDirectoryMode",
  ];
  const out: Record<string, string> = {};
  for (const line of readFileSync(UNIT_FILE, "utf8").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m && keys.includes(m[1]!)) out[m[1]!] = m[2]!;
  }
  expect(Object.keys(out).sort(), "every hardening key is in the unit").to.deep.equal([...keys].sort());
  return out;
}

/** systemctl show's spelling of a unit file value: yes -> yes, true -> yes. */
function shown(key: string, value: string): string {
  if (value === "true" || value === "yes") return "yes";
  if (key.endsWith("Mode") || key === "UMask") return value.padStart(4, "0");
  return value;
}

describe("provision-controller.sh in an unprivileged LXC container with systemd: install, hardening, idempotence, a bad config", function () {
  this.timeout(20 * 60_000);
  const ct = new LoopbackContainer(LXCPATH, NAME);
  let tmp = "";
  let nodeVersion = "";

  /** The program's bundle for this config, copied where CopyToRemote puts it. */
  function bundleFor(config: Record<string, unknown> | null, nodejs: { sha256: string; url: string }): ProvisionBundle {
    const f = controllerFiles(
      {
        node: "pve",
        runners: [{ name: "runner-01", vmId: 101 }],
        githubApiUrl: "http://127.0.0.1:9",
        labels: ["self-hosted"],
        statsUrl: "",
        nodejs: { version: nodeVersion, sha256: nodejs.sha256, tarballUrl: nodejs.url },
      },
      "brentley/cco",
      join(tmp, "controller.js"),
    );
    if (config) f["controller.json"] = { text: `${JSON.stringify(config, null, 2)}\n` };
    const b = provisionBundle(f);
    const local = join(PROJECT_ROOT, ".build", "provision", b.remoteDir.slice("/root/".length));
    ct.must(`install -d -m 700 ${b.remoteDir}`);
    for (const name of readdirSync(local)) copyIn(join(local, name), `${b.remoteDir}/${name}`, "600");
    return b;
  }

  /** A file of this machine into the container (bytes as they are), with a mode. */
  function copyIn(from: string, to: string, mode: string) {
    must(
      "sh",
      [
        "-c",
        'lxc-attach -P "$1" -n "$2" -- sh -c "cat > $4 && chmod $5 $4" < "$3"',
        "-",
        LXCPATH,
        NAME,
        from,
        to,
        mode,
      ],
      {
        timeoutMs: 5 * 60_000,
      },
    );
  }

  /** The install step as the program runs it: its command line, the secrets on stdin. */
  const provision = (b: ProvisionBundle, secrets = SECRETS) =>
    ct.exec(provisionCommand(b, "provision-controller.sh"), { input: secrets, timeoutMs: 5 * 60_000 });
  const show = (props: string) => ct.must(`systemctl show -p ${props} ${UNIT}`);
  const mainPid = () => Number(ct.must(`systemctl show -P MainPID ${UNIT}`).trim());

  let node: { sha256: string; url: string };

  before(function () {
    requireLxc(this, "provision-controller.sh's LXC test", [...LXC_TOOLS, "xz"]);
    tmp = mkdtempSync(join(tmpdir(), "cco-ctl-lxc-"));
    ct.start("pve");

    // Node.js as the release lays it out (node-v<version>-linux-x64/bin/node), this machine's own binary.
    nodeVersion = process.versions.node;
    const base = `node-v${nodeVersion}-linux-x64`;
    mkdirSync(join(tmp, base, "bin"), { recursive: true });
    must("cp", [process.execPath, join(tmp, base, "bin", "node")]);
    const tarball = join(tmp, `${base}.tar.xz`);
    must("tar", ["-C", tmp, "-cf", tarball, "-I", "xz -0 -T2", base], { timeoutMs: 5 * 60_000 });
    node = {
      sha256: createHash("sha256").update(readFileSync(tarball)).digest("hex"),
      url: `file:///root/${base}.tar.xz`,
    };
    copyIn(tarball, `/root/${base}.tar.xz`, "600");
    copyIn("/usr/bin/xz", "/usr/local/bin/xz", "755");
    ct.must("cat > /usr/sbin/pct && chmod 755 /usr/sbin/pct", { input: PCT_STANDIN });
  });

  after(() => {
    ct.destroy();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  let first: ProvisionBundle;

  it("installs: the unit active, as root with the unit's hardening in force, its files with the promised modes", function () {
    first = bundleFor(null, node);
    const r = provision(first);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`[cco] enabled ${UNIT}`).and.include(`[cco] restarted ${UNIT}`);
    expect(ct.must(`systemctl is-enabled ${UNIT}; systemctl is-active ${UNIT}`)).to.equal("enabled\nactive\n");
    // The program's command removes older bundles, keeps this one.
    expect(ct.must("ls -d /root/cco-provision-*")).to.equal(`${first.remoteDir}\n`);

    // What systemd applies is what the unit says.
    const want = unitHardening();
    const got = show(Object.keys(want).join(","));
    for (const [key, value] of Object.entries(want)) expect(got, key).to.include(`${key}=${shown(key, value)}\n`);
    expect(ct.must(`systemctl show -P User ${UNIT}`), "no User=: root, because pct is root's").to.equal("\n");
    // ... and in force on the running process, not just configured.
    const pid = mainPid();
    expect(pid).to.be.greaterThan(0);
    expect(ct.must(`ps -o user= -p ${pid}`).trim()).to.equal("root");
    expect(ct.must(`grep -E '^NoNewPrivs:' /proc/${pid}/status`)).to.match(/NoNewPrivs:\s+1/);
    // ProtectSystem=true: /usr and /boot read-only in its mount namespace; ProtectHome: /root empty and read-only.
    expect(ct.exec(`nsenter -t ${pid} -m -- touch /usr/cco-probe`).status, "write to /usr").to.not.equal(0);
    expect(ct.exec(`nsenter -t ${pid} -m -- ls -A /root`).stdout).to.equal("");
    expect(ct.must(`nsenter -t ${pid} -m -- findmnt -no OPTIONS /usr`)).to.match(/(^|,)ro(,|$)/);
    // The secrets reach it as systemd credentials, never through its environment.
    expect(ct.must(`tr '\\0' '\\n' < /proc/${pid}/environ`)).to.not.match(/TOKEN|github_pat/);
    const creds = ct.must(`tr '\\0' '\\n' < /proc/${pid}/environ | sed -n 's/^CREDENTIALS_DIRECTORY=//p'`).trim();
    expect(ct.must(`cat ${creds}/github-token`)).to.equal("github_pat_test_0123456789abcdef\n");

    expect(
      ct.must(
        "stat -c '%n %a %U:%G' /etc/cco-controller /etc/cco-controller/controller.json /etc/cco-controller/github-token " +
          `/etc/cco-controller/ingest-token /opt/cco-controller/controller.js /etc/systemd/system/${UNIT} /var/lib/cco-controller`,
      ),
    ).to.equal(
      [
        "/etc/cco-controller 700 root:root",
        "/etc/cco-controller/controller.json 600 root:root",
        "/etc/cco-controller/github-token 600 root:root",
        "/etc/cco-controller/ingest-token 600 root:root",
        "/opt/cco-controller/controller.js 644 root:root",
        `/etc/systemd/system/${UNIT} 644 root:root`,
        "/var/lib/cco-controller 700 root:root",
        "",
      ].join("\n"),
    );
    expect(ct.must("readlink /opt/node; /opt/node/bin/node --version")).to.equal(
      `/opt/node-v${nodeVersion}\nv${nodeVersion}\n`,
    );
  });

  it("answers /metrics on 127.0.0.1 and drives pct (the stand-in) as root", function () {
    const metrics = ct.must("curl -fsS --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:9469/metrics");
    expect(metrics).to.include("# TYPE cco_controller_lives_total counter");
    expect(metrics).to.include("cco_controller_reset_seconds");
    // Only on loopback.
    expect(ct.must("ss -Hltn 'sport = :9469'"))
      .to.match(/127\.0\.0\.1:9469/)
      .and.not.match(/\*:9469|0\.0\.0\.0:9469/);
    for (let i = 0; i < 50 && ct.exec(`grep -q ' 101' ${PCT_LOG}`).status !== 0; i++) run("sleep", ["0.2"]);
    // A life begins with the rollback to the clean snapshot (controller/life.ts); here pct refuses it.
    expect(ct.must(`cat ${PCT_LOG}`)).to.match(/^rollback 101 cco-clean$/m);
    // Its lives fail (no container here) and back off: the unit stays up.
    expect(ct.must(`systemctl is-active ${UNIT}; systemctl show -P NRestarts ${UNIT}`)).to.equal("active\n0\n");
  });

  it("a second run changes nothing: no restart, no file rewritten", function () {
    const stamp = () =>
      ct.must(
        `systemctl show -P MainPID ${UNIT}; systemctl show -P ActiveEnterTimestampMonotonic ${UNIT}; ` +
          "stat -c '%n %i %Y' /etc/cco-controller/* /opt/cco-controller/* /etc/systemd/system/cco-controller.service",
      );
    const before = stamp();
    const r = provision(first);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.not.match(/installed|restarted|started|enabled|unpacked/);
    expect(stamp()).to.equal(before);
  });

  it("starts the controller when it is stopped (cco-node.sh stops it around a snapshot), and restarts it when a secret changes", function () {
    ct.must(`systemctl stop ${UNIT}`);
    const r = provision(first);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.include(`[cco] started ${UNIT}`).and.not.include("restarted");
    expect(ct.must(`systemctl is-active ${UNIT}`)).to.equal("active\n");

    const pid = mainPid();
    const rotated = SECRETS.replace("ingest-test-", "ingest-rotated-");
    const again = provision(first, rotated);
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stderr).to.include("installed /etc/cco-controller/ingest-token").and.include(`restarted ${UNIT}`);
    expect(mainPid()).to.not.equal(pid);
    expect(ct.must("cat /etc/cco-controller/ingest-token")).to.equal("ingest-rotated-0123456789abcdef\n");
  });

  it("refuses a bad config with the reason, and leaves the running controller and its config as they were", function () {
    const pid = mainPid();
    const config = ct.must("cat /etc/cco-controller/controller.json");
    for (const [bad, reason] of [
      [{ ...JSON.parse(config), runners: [] }, "Invalid controller config runners = []"],
      [
        { ...JSON.parse(config), labels: ["bad label"] },
        'Invalid controller config labels.0 = "bad label": a runner label',
      ],
      [{ ...JSON.parse(config), typo: 1 }, "Invalid controller config"],
    ] as const) {
      const b = bundleFor(bad, node);
      const r = provision(b);
      expect(r.status, JSON.stringify(bad)).to.equal(1);
      expect(r.stderr).to.include(reason).and.include("controller.json refused, nothing changed");
      expect(ct.must("cat /etc/cco-controller/controller.json")).to.equal(config);
      expect([mainPid(), ct.must(`systemctl is-active ${UNIT}`)]).to.deep.equal([pid, "active\n"]);
    }
    // Not JSON at all.
    const b = bundleFor(null, node);
    ct.must(`echo '{"repo":' > ${b.remoteDir}/controller.json`);
    const r = provision(b);
    expect([r.status, r.stderr]).to.satisfy(([status, err]: [number, string]) => status === 1 && /not JSON/.test(err));
    expect(mainPid()).to.equal(pid);
  });
});
