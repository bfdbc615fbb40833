/**
 * The egress gateway, for real: squid in its own unprivileged Debian 12
 * container (systemd as PID 1), provisioned by the REAL provision-gateway.sh
 * with the files and parameters the program ships, then attacked from a
 * runner's network namespace the way a job would (a job sets https_proxy or
 * ignores it; it cannot change the host firewall). The fake internet's own
 * log (handshakes with their SNI, requests with their Host) is the verdict of
 * what got out; the gateway's decision log is checked line by line.
 *
 * What is not real, and why (test/helpers/gateway-lab.ts):
 * - the internet is a network namespace with TEST-NET addresses, a fake DNS
 *   (dnsmasq) and test/lxc/internet.ts; nothing is routed to the host's network;
 * - the Proxmox host firewall is EMULATED by the test's own iptables rules
 *   where it would stand, made from the program's firewallRules for the
 *   runner and the gateway (the runner out only to the gateway's port);
 * - provisioning runs through lxc-attach instead of SSH, with the same command.
 *
 * Needs root and lxc (skipped otherwise, except under CI=true where it fails).
 * Run under the shared lock: flock /var/lock/cco-lxc.lock npx mocha ...
 */
import { expect } from "chai";
import { declinedLayer } from "../../helpers/layers";
import { GatewayLab, GW, labUnavailable } from "../../helpers/gateway-lab";
import { Probes, run, type Run } from "../../helpers/lxc";

/** Lines provision scripts log only when they change something. */
const CHANGE_WORDS = /\b(installed|created|fixed|enabled|started|restarted|masked|applied|installing)\b/;

/** Sends `first`, then (after the proxy answers) `second`; prints what came back. Raw bytes a proxy client library would not send. */
const RAW_CLIENT = `
const net = require("node:net");
const [host, port, first, second] = process.argv.slice(1);
const s = net.connect(Number(port), host);
let got = "", sent = false;
s.setTimeout(4000, () => { console.log(JSON.stringify({ got, end: "timeout" })); process.exit(0); });
s.on("connect", () => s.write(first.replace(/\\\\r\\\\n/g, "\\r\\n")));
s.on("data", (d) => { got += d.toString("latin1"); if (!sent && second) { sent = true; s.write(second.replace(/\\\\r\\\\n/g, "\\r\\n")); } });
s.on("error", (e) => { console.log(JSON.stringify({ got, end: e.code })); process.exit(0); });
s.on("close", () => { console.log(JSON.stringify({ got, end: "closed" })); process.exit(0); });
`;

describe("egress gateway: LXC end-to-end (squid in its own unprivileged container, names enforced outside the runner)", function () {
  this.timeout(20 * 60_000);
  const probes = new Probes();
  let lab: GatewayLab | undefined;
  const describeRun = (r: Run) =>
    `exit ${r.status}: ${(r.stdout + " " + r.stderr).trim().slice(0, 200) || "(no output)"}`;
  const expectGroup = (group: string) => expect(probes.failed(group), probes.report()).to.deep.equal([]);
  const L = () => lab!;
  /** What reached the internet after index `from`. */
  const reached = (from: number) =>
    L()
      .internet()
      .slice(from)
      .filter((e) => e.kind !== "ready");
  const show = (entries: ReturnType<typeof reached>) =>
    entries
      .map((e) => `${e.kind} ${e.servername ?? e.host ?? ""}@${(e.local ?? "").replace("::ffff:", "")}`)
      .join(", ") || "nothing";
  const raw = (first: string, second = "") =>
    JSON.parse(
      L().inRunner(process.execPath, ["-e", RAW_CLIENT, GW.gateway, String(GW.port), first, second]).stdout || "{}",
    ) as { got?: string; end?: string };
  /** openssl's TLS client through the gateway: CONNECT `connect`, ClientHello with `sni` (none: no SNI). */
  const tlsVia = (connect: string, sni: string | null, host: string) =>
    L().inRunner("sh", [
      "-c",
      `printf 'GET / HTTP/1.1\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n' | timeout 8 openssl s_client -quiet -verify_return_error ` +
        `-CAfile '${L().ca("ca.crt")}' -proxy ${GW.gateway}:${GW.port} -connect ${connect} ${sni === null ? "-noservername" : `-servername ${sni}`} 2>&1`,
    ]);

  before(function () {
    const declined = declinedLayer("lxc");
    if (declined) {
      console.log(`      skipped: ${declined}`);
      this.skip();
    }
    const reason = labUnavailable();
    if (reason && process.env.CI === "true") throw new Error(`gateway LXC test cannot run in CI: ${reason}`);
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    lab = new GatewayLab({ payloadBytes: 1024 * 1024, payloadPath: "/payload.bin" });
    lab.setUp();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && lab?.ct.state() === "RUNNING") {
      const r = lab.ct.exec(
        "systemctl --failed --no-pager; journalctl -b --no-pager -u cco-gateway -u cco-gateway-firewall | tail -n 40; tail -n 20 /var/log/cco-gateway/*.log",
      );
      console.log(`      diagnostics from the gateway:\n${(r.stdout + r.stderr).replace(/^/gm, "        ")}`);
    }
  });

  after(function () {
    if (probes.all.length > 0) console.log(probes.report());
    if (!lab) return;
    if (process.env.CCO_E2E_KEEP === "all") {
      console.log(
        `      CCO_E2E_KEEP=all: container ${GW.container} (lxc-attach -P ${GW.lxcpath} -n ${GW.container}), netns ${GW.inet}, ${GW.runnerNs}, ${lab.tmp}`,
      );
      for (const c of lab.children) c.unref();
      return;
    }
    lab.close(Boolean(process.env.CCO_E2E_KEEP));
  });

  it("provision-gateway.sh provisions the container, and a second run changes nothing", function () {
    const g = "provisioning";
    const first = L().provision();
    probes.add(g, "provision-gateway.sh exits 0", "exit 0", describeRun(first), first.status === 0);
    expect(first.status, first.stdout + first.stderr).to.equal(0);
    const pid = () => L().ct.must("systemctl show -P MainPID cco-gateway.service").trim();
    const before = pid();
    const second = L().provision();
    const changes = (second.stdout + second.stderr).split("\n").filter((l) => CHANGE_WORDS.test(l));
    probes.add(
      g,
      "a second run changes nothing",
      "exit 0, no change logged",
      `exit ${second.status}; ${changes.join(" | ") || "no change"}`,
      second.status === 0 && changes.length === 0,
    );
    probes.add(g, "a second run leaves squid running (same PID)", before, pid(), pid() === before && before !== "0");
    const units = L()
      .ct.exec(
        "systemctl is-enabled squid.service; systemctl is-active squid.service; systemctl is-active cco-gateway-firewall.service cco-gateway.service",
      )
      .stdout.trim()
      .split("\n");
    probes.add(
      g,
      "Debian's squid.service masked and stopped; the firewall and cco-gateway active",
      "masked, inactive, active, active",
      units.join(", "),
      units.join(",") === "masked,inactive,active,active",
    );
    const status = L()
      .ct.must(`grep -E '^(Uid|CapEff|NoNewPrivs)' /proc/${pid()}/status; cat /proc/1/uid_map`)
      .replace(/\s+/g, " ")
      .trim();
    probes.add(
      g,
      "squid runs as proxy, no capabilities, no new privileges, in an unprivileged container",
      "uid 13, CapEff 0, NoNewPrivs 1, map 0 100000",
      status,
      /Uid: 13 /.test(status) &&
        /CapEff: 0+ /.test(status) &&
        /NoNewPrivs: 1/.test(status) &&
        /0 100000 65536/.test(status),
    );
    const listening = L().ct.must("ss -Hltn | awk '{print $4}' | sort -u").trim().split("\n");
    probes.add(
      g,
      "squid listens on the gateway's own address only (and sshd)",
      `${GW.gateway}:${GW.port}`,
      listening.join(" "),
      listening.includes(`${GW.gateway}:${GW.port}`) &&
        listening.every((a) => a === `${GW.gateway}:${GW.port}` || a.endsWith(":22")),
    );
    const policies = L().ct.must("iptables -S | grep '^-P'; ip6tables -S | grep '^-P'").trim().split("\n");
    probes.add(
      g,
      "the gateway's own firewall: IPv4 and IPv6 policies DROP",
      "6 x DROP",
      policies.join(", "),
      policies.length === 6 && policies.every((p) => p.endsWith(" DROP")),
    );
    expectGroup(g);
  });

  it("after a reboot the firewall and squid are back, and an allowed name passes", function () {
    const g = "reboot";
    const boot = L().ct.reboot();
    const active = L()
      .ct.exec("systemctl is-active cco-gateway-firewall.service cco-gateway.service | paste -sd/")
      .stdout.trim();
    probes.add(
      g,
      "rebooted (new PID 1), firewall and squid active",
      "active/active",
      `pid ${boot.before} -> ${boot.after}, ${boot.state}, ${active}`,
      boot.after !== boot.before && active === "active/active",
    );
    // squid may need a moment after the unit is active to accept.
    let r: Run = { status: 1, stdout: "", stderr: "" };
    for (let i = 0; i < 20 && r.stdout.trim() !== "ok github.com"; i++) r = L().curl(["https://github.com/"]);
    probes.add(
      g,
      "HTTPS to github.com through the gateway after the reboot",
      "ok github.com",
      describeRun(r),
      r.stdout.trim() === "ok github.com",
    );
    expectGroup(g);
  });

  it("allowed names pass, by their own resolution", function () {
    const g = "allowed";
    let from = L().internet().length;
    let r = L().curl(["https://github.com/"]);
    let saw = reached(from);
    probes.add(
      g,
      "HTTPS to github.com (CONNECT, SNI github.com, certificate verified)",
      "ok github.com; handshake with SNI github.com at its address",
      `${describeRun(r)}; internet: ${show(saw)}`,
      r.stdout.trim() === "ok github.com" &&
        saw.some(
          (e) => e.kind === "tls" && e.servername === "github.com" && e.local?.endsWith(GW.records["github.com"]!),
        ),
    );
    r = L().curl(["https://release-assets.githubusercontent.com/"]);
    probes.add(
      g,
      "HTTPS to release-assets.githubusercontent.com (a subdomain entry)",
      "ok release-assets.githubusercontent.com",
      describeRun(r),
      r.stdout.trim() === "ok release-assets.githubusercontent.com",
    );
    r = L().curl(["http://github.com/"]);
    probes.add(
      g,
      "plain HTTP to github.com (port 80, by Host)",
      "ok github.com",
      describeRun(r),
      r.stdout.trim() === "ok github.com",
    );
    // The client says github.com is the attacker's address: the gateway does not ask the client.
    from = L().internet().length;
    r = L().curl(["--resolve", `github.com:443:${GW.records["attacker.example"]}`, "https://github.com/"]);
    saw = reached(from);
    probes.add(
      g,
      "the client overrides github.com's address (--resolve to attacker.example's)",
      `reaches ${GW.records["github.com"]} only`,
      `${describeRun(r)}; internet: ${show(saw)}`,
      saw.length > 0 &&
        saw.every((e) => e.local?.endsWith(GW.records["github.com"]!)) &&
        !saw.some((e) => e.local?.endsWith(GW.records["attacker.example"]!)),
    );
    from = L().internet().length;
    const t = tlsVia("github.com:443", null, "github.com");
    saw = reached(from);
    probes.add(
      g,
      "a ClientHello without SNI in CONNECT github.com (squid takes the CONNECT name)",
      "reaches github.com's address only",
      `${t.stdout.split("\n").filter(Boolean).slice(-1)[0] ?? ""}; internet: ${show(saw)}`,
      saw.every((e) => e.local?.endsWith(GW.records["github.com"]!)),
    );
    expectGroup(g);
  });

  it("anything but an allowed name is refused, and nothing of it reaches the internet", function () {
    const g = "refused (through the gateway)";
    const from = L().internet().length;
    const shared = GW.records["github.com"]!;
    // TLS
    let t = tlsVia("github.com:443", "evil.example", "evil.example");
    probes.add(
      g,
      "CONNECT github.com:443 with SNI evil.example (same CDN address)",
      "handshake fails",
      t.stdout.replace(/\n/g, " ").slice(0, 160),
      !t.stdout.includes("ok evil.example") && !t.stdout.includes("ok github.com"),
    );
    let r = L().curl(["https://evil.example/"]);
    probes.add(
      g,
      "CONNECT evil.example:443 (its address is github.com's)",
      "refused",
      describeRun(r),
      r.status !== 0 && !r.stdout.includes("ok"),
    );
    r = L().curl(["-k", `https://${shared}/`]);
    probes.add(
      g,
      "CONNECT to a raw IP (github.com's own address)",
      "refused",
      describeRun(r),
      r.status !== 0 && !r.stdout.includes("ok"),
    );
    t = tlsVia(`${GW.records["attacker.example"]}:443`, "github.com", "github.com");
    probes.add(
      g,
      "CONNECT to a client-chosen address with SNI github.com",
      "refused",
      t.stdout.replace(/\n/g, " ").slice(0, 160),
      !t.stdout.includes("ok github.com"),
    );
    r = L().curl(["--connect-to", `github.com:443:attacker.example:443`, "https://github.com/"]);
    probes.add(
      g,
      "CONNECT attacker.example:443 for github.com (--connect-to)",
      "refused",
      describeRun(r),
      r.status !== 0,
    );
    r = L().curl(["https://rebind.github.com/"]);
    probes.add(
      g,
      "an allowed name resolving to 127.0.0.1 (rebinding), HTTPS",
      "refused",
      describeRun(r),
      r.status !== 0,
    );
    r = L().curl(["https://lan.github.com/"]);
    probes.add(
      g,
      "an allowed name resolving to a runner's LAN address, HTTPS",
      "refused",
      describeRun(r),
      r.status !== 0,
    );
    r = L().curl(["-o", "/dev/null", "-w", "%{http_code}", "http://lan.github.com/"]);
    probes.add(
      g,
      "an allowed name resolving to a runner's LAN address, HTTP",
      "403",
      describeRun(r),
      r.stdout.trim() === "403",
    );
    r = L().curl(["-k", "https://github.com:22/"]);
    probes.add(g, "CONNECT github.com:22", "refused", describeRun(r), r.status !== 0);
    let x = raw("CONNECT github.com:443 HTTP/1.1\\r\\nHost: github.com:443\\r\\n\\r\\n", "SSH-2.0-OpenSSH_9.2\\r\\n");
    probes.add(
      g,
      "not TLS inside CONNECT github.com:443 (an SSH client)",
      "closed, no SSH banner back",
      JSON.stringify(x),
      !(x.got ?? "").includes("SSH-2.0"),
    );
    // Plain HTTP
    r = L().curl(["-o", "/dev/null", "-w", "%{http_code}", "http://evil.example/"]);
    probes.add(g, "HTTP to evil.example (a shared address)", "403", describeRun(r), r.stdout.trim() === "403");
    r = L().curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: evil.example", `http://${shared}/`]);
    probes.add(
      g,
      "HTTP to the shared raw address with Host evil.example",
      "403",
      describeRun(r),
      r.stdout.trim() === "403",
    );
    const hostFrom = L().internet().length;
    r = L().curl(["-H", "Host: evil.example", "http://github.com/"]);
    const hosts = reached(hostFrom)
      .filter((e) => e.kind === "request")
      .map((e) => e.host);
    probes.add(
      g,
      "HTTP to github.com with a foreign Host header",
      "the internet sees Host github.com only",
      `${describeRun(r)}; hosts: ${hosts.join(",")}`,
      hosts.length > 0 && hosts.every((h) => h === "github.com"),
    );
    x = raw("GET / HTTP/1.1\\r\\nHost: evil.example\\r\\nConnection: close\\r\\n\\r\\n");
    probes.add(
      g,
      "origin-form GET with Host evil.example (as to a transparent proxy)",
      "400",
      (x.got ?? "").split("\r\n")[0] ?? "",
      /^HTTP\/1\.1 400/.test(x.got ?? ""),
    );
    r = L().curl(["-o", "/dev/null", "-w", "%{http_code}", "http://github.com:8080/"]);
    probes.add(g, "HTTP to github.com on port 8080", "403", describeRun(r), r.stdout.trim() === "403");
    const leaked = reached(from).filter(
      (e) => !(e.kind === "request" && e.host === "github.com" && e.local?.endsWith(shared)),
    );
    probes.add(
      g,
      "the internet saw none of the refused attempts (only the rewritten Host request to github.com)",
      "nothing else",
      show(leaked),
      leaked.length === 0,
    );
    expectGroup(g);
  });

  it("the emulated host firewall (the program's rules as iptables): the runner reaches nothing but the gateway's port", function () {
    const g = "host wall (emulated Proxmox firewall)";
    const from = L().internet().length;
    const drops = L().runnerDrops();
    const direct = (args: string[]) =>
      L().inRunner("curl", ["-sS", "--max-time", "3", "--cacert", L().ca("ca.crt"), ...args]);
    let r = direct(["--resolve", `github.com:443:${GW.records["github.com"]}`, "https://github.com/"]);
    probes.add(g, "HTTPS to github.com's address without the proxy", "fails", describeRun(r), r.status !== 0);
    r = direct([`http://${GW.records["github.com"]}/`]);
    probes.add(g, "HTTP to github.com's address without the proxy", "fails", describeRun(r), r.status !== 0);
    r = direct([`telnet://${GW.gateway}:22`]);
    probes.add(g, "SSH port of the gateway from the runner", "fails", describeRun(r), r.status !== 0);
    const after = L().runnerDrops();
    probes.add(
      g,
      "the emulated host firewall counted the drops",
      "> before",
      `${drops} -> ${after} packets`,
      after > drops,
    );
    const saw = reached(from);
    probes.add(g, "the internet saw none of them", "nothing", show(saw), saw.length === 0);
    r = L().inInternet(process.execPath, [
      "-e",
      RAW_CLIENT.replace(
        "net.connect(Number(port), host)",
        `net.connect({ port: Number(port), host, localAddress: "${GW.outsider}" })`,
      ),
      GW.gateway,
      String(GW.port),
      "CONNECT github.com:443 HTTP/1.1\\r\\n\\r\\n",
    ]);
    const out = JSON.parse(r.stdout || "{}") as { got?: string; end?: string };
    probes.add(
      g,
      "the proxy port from an address outside the runners' (the gateway's own firewall)",
      "no answer",
      JSON.stringify(out),
      !(out.got ?? "").includes("200"),
    );
    // Root in the gateway itself (a squid gone wrong): its own firewall keeps it off the LAN.
    r = L().ct.exec(`curl -sS --max-time 3 http://${GW.runner}/`);
    probes.add(
      g,
      "from inside the gateway to a runner's LAN address (its own firewall)",
      "fails",
      describeRun(r),
      r.status !== 0,
    );
    expectGroup(g);
  });

  it("every decision is in the gateway's log: client, name, verdict, and the bytes of every allowed connection", function () {
    const g = "decision log";
    // A download of the 1 MiB payload: its tunnel's line must count at least that many bytes down.
    const dl = L().curl(["-o", "/dev/null", "-w", "%{size_download}", "https://github.com/payload.bin"]);
    const lines = L().decisions();
    const ofRunner = lines.filter((l) => l.client === GW.runner);
    const has = (what: string, pred: (l: Record<string, string>) => boolean) => {
      const hit = ofRunner.find(pred);
      probes.add(
        g,
        what,
        "a line with client, name, verdict",
        hit
          ? `client=${hit.client} name=${hit.name} sni=${hit.sni} verdict=${hit.verdict} server=${hit.server}`
          : "none",
        hit !== undefined,
      );
    };
    has(
      "allowed TLS to github.com, with the address squid dialled",
      (l) =>
        l.name === "github.com" &&
        l.verdict === "allowed:tls" &&
        l.squid === "TCP_TUNNEL" &&
        l.server === GW.records["github.com"],
    );
    has("allowed HTTP to github.com", (l) => l.name === "github.com" && l.verdict === "allowed:http");
    has(
      "refused SNI evil.example inside CONNECT github.com",
      (l) => l.name === "github.com" && l.sni === "evil.example" && l.verdict === "refused:sni",
    );
    has("refused name evil.example", (l) => l.name === "evil.example" && l.verdict === "refused:name");
    has("refused raw address", (l) => l.name === GW.records["github.com"] && l.verdict === "refused:name");
    has(
      "refused rebinding to 127.0.0.1",
      (l) => l.name === "rebind.github.com" && l.verdict === "refused:private-address",
    );
    has("refused rebinding to the LAN", (l) => l.name === "lan.github.com" && l.verdict === "refused:private-address");
    has("refused port 22", (l) => l.name === "github.com" && l.port === "22" && l.verdict === "refused:port");
    has("refused non-TLS in a tunnel", (l) => l.verdict === "refused:not-tls");
    const summary = L().ct.must("cco-egress-summary");
    const count = (name: string, verdict: string) =>
      Number(
        new RegExp(
          `^cco_gateway_decisions_total\\{runner="${GW.runner.replace(/\./g, "\\.")}",name="${name.replace(/\./g, "\\.")}",verdict="${verdict}"\\} (\\d+)$`,
          "m",
        ).exec(summary)?.[1] ?? 0,
      );
    const tunnels = ofRunner.filter((l) => l.name === "github.com" && l.squid === "TCP_TUNNEL").length;
    probes.add(
      g,
      "cco-egress-summary counts per runner, name and verdict (one per connection)",
      `allowed:tls github.com = ${tunnels} tunnels; refused:name evil.example >= 1`,
      `allowed:tls ${count("github.com", "allowed:tls")}, refused:name evil.example ${count("evil.example", "refused:name")}, refused:sni github.com ${count("github.com", "refused:sni")}`,
      tunnels > 0 &&
        count("github.com", "allowed:tls") === tunnels &&
        count("evil.example", "refused:name") >= 1 &&
        count("github.com", "refused:sni") >= 1,
    );
    const payload = ofRunner.filter(
      (l) => l.verdict === "allowed:tls" && l.squid === "TCP_TUNNEL" && Number(l.down) >= 1024 * 1024,
    );
    probes.add(
      g,
      "the 1 MiB download through the gateway: its tunnel's line counts the bytes",
      `downloaded ${1024 * 1024}; a TCP_TUNNEL line with down >= that`,
      `downloaded ${dl.stdout.trim()}; ${payload.map((l) => `name=${l.name} up=${l.up} down=${l.down}`).join(", ") || "no such line"}`,
      dl.stdout.trim() === String(1024 * 1024) && payload.length === 1 && payload[0]!.name === "github.com",
    );
    // Every allowed connection (the tunnel's final line; squid also logs a NONE_NONE line per peeked handshake) has runner, name and bytes.
    const allowed = ofRunner.filter(
      (l) => (l.verdict === "allowed:tls" && l.squid === "TCP_TUNNEL") || l.verdict === "allowed:http",
    );
    const incomplete = allowed.filter(
      (l) => !(l.client && l.name && l.name !== "-" && /^\d+$/.test(l.up ?? "") && Number(l.down) > 0),
    );
    probes.add(
      g,
      "every allowed connection's line has the runner, the name and bytes up and down",
      `0 of ${allowed.length} without`,
      incomplete.map((l) => JSON.stringify(l)).join(" | ") || `0 of ${allowed.length}`,
      allowed.length >= 5 && incomplete.length === 0,
    );
    const unexplained = ofRunner.filter((l) => !/^(allowed|refused):/.test(l.verdict ?? "") && l.status !== "400");
    probes.add(
      g,
      "every line of the runner has a verdict (but squid's 400 for a malformed request)",
      "0 without",
      `${unexplained.length} of ${ofRunner.length}`,
      unexplained.length === 0,
    );
    expectGroup(g);
  });

  it("the gateway's forwarder posts its decisions to the real stats service, each attributed to its job", function () {
    const g = "egress per job";
    // A job on runner-01 (the runner's namespace holds runner-01's address in RUNNER_ADDRESSES): its events as the hook sends them.
    const job = {
      v: 1,
      runner: "runner-01",
      repo: "brentley/cco",
      workflow: "build",
      job: "egress",
      runId: 4242,
      runAttempt: 1,
    };
    const post = (e: Record<string, unknown>) => L().stats("/api/events", JSON.stringify(e)).stdout.trim();
    const started = post({ ...job, type: "job_started", ts: new Date().toISOString() });
    run("sleep", ["0.05"]);
    const reachedRun = L().curl(["-o", "/dev/null", "-w", "%{http_code}", "https://github.com/"]);
    const refusedRun = L().curl(["-o", "/dev/null", "https://evil.example/"]);
    run("sleep", ["0.05"]);
    const done = post({ ...job, type: "job_completed", ts: new Date().toISOString(), result: "succeeded" });
    probes.add(
      g,
      "the job's events reach the stats service; in the job, github.com passes and evil.example is refused",
      "202 202, 200, refused",
      `${started} ${done}, ${reachedRun.stdout.trim()}, exit ${refusedRun.status}`,
      started === "202" && done === "202" && reachedRun.stdout.trim() === "200" && refusedRun.status !== 0,
    );
    // The timer's unit, run now rather than within the minute: the real unit (DynamicUser, LoadCredential).
    const unit = L().ct.exec(
      "systemctl start cco-egress-forwarder.service; systemctl show -P Result,ExecMainStatus cco-egress-forwarder.service",
    );
    const timer = L().ct.exec("systemctl is-active cco-egress-forwarder.timer").stdout.trim();
    probes.add(
      g,
      "cco-egress-forwarder.service runs as its own unit and succeeds; its timer is active",
      "success 0; timer active",
      `${unit.stdout.trim().replace(/\n/g, " ")}; timer ${timer}; ${unit.stderr.trim().slice(0, 200)}`,
      unit.status === 0 && unit.stdout.trim().split("\n").join(" ") === "success 0" && timer === "active",
    );
    type EgressJob = {
      runId: number;
      reached: Array<{ name: string }>;
      refused: Array<{ name: string; verdict: string }>;
    };
    type Egress = { decisions: number; invalid: number; ignored: number; heartbeats: number; jobs: EgressJob[] };
    let egress: Egress | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = L().stats("/api/stats");
      egress = r.status === 0 ? (JSON.parse(r.stdout) as { egress: Egress }).egress : undefined;
      if (egress?.jobs.some((j) => j.runId === 4242 && j.refused.length > 0)) break;
      run("sleep", ["0.5"]);
    }
    const mine = egress?.jobs.find((j) => j.runId === 4242);
    probes.add(
      g,
      "the job's allowed name arrives attributed to it",
      "reached github.com",
      mine
        ? `reached ${mine.reached.map((n) => n.name).join(",") || "nothing"}`
        : `no such job: ${JSON.stringify(egress)?.slice(0, 200)}`,
      mine !== undefined && mine.reached.map((n) => n.name).join(",") === "github.com",
    );
    probes.add(
      g,
      "the job's refused name arrives attributed to it",
      "refused evil.example (refused:name)",
      mine ? `refused ${mine.refused.map((n) => `${n.name} (${n.verdict})`).join(",") || "nothing"}` : "no such job",
      mine !== undefined &&
        mine.refused.map((n) => `${n.name} (${n.verdict})`).join(",") === "evil.example (refused:name)",
    );
    // Run again: nothing new in the log, nothing sent twice; every decision in the log was sent once.
    L().ct.exec("systemctl start cco-egress-forwarder.service");
    run("sleep", ["1.5"]);
    const after = (JSON.parse(L().stats("/api/stats").stdout || "{}") as { egress?: Egress }).egress;
    const inLog = Number(
      L()
        .ct.must("awk -f /opt/cco-gateway/egress-decisions.awk /var/log/cco-gateway/access.log 2>/dev/null | wc -l")
        .trim(),
    );
    probes.add(
      g,
      "every decision in the log reaches the service once (a second run sends none again), none refused as invalid or forged",
      `${inLog} decisions, 0 invalid, 0 ignored`,
      `${after?.decisions} decisions in ${after?.heartbeats} heartbeats, ${after?.invalid} invalid, ${after?.ignored} ignored`,
      after !== undefined && inLog > 0 && after.decisions === inLog && after.invalid === 0 && after.ignored === 0,
    );
    expectGroup(g);
  });
});
