/**
 * The egress gateway's test network, shared by its LXC end-to-end test
 * (test/infra/egress/gateway-e2e.test.ts) and `npm run bench`:
 *
 *   runner netns (ccogw-run) --veth-- "Proxmox host + internet" netns (ccogw-inet) --veth-- gateway container (ccogw-gateway)
 *       192.0.2.146/28                192.0.2.145 | 192.0.2.129,                          192.0.2.130/28, eth0
 *                                     TEST-NET addresses of the internet on its loopback
 *
 * - the gateway: an unprivileged Debian 12 container (systemd as PID 1),
 *   provisioned by the REAL provision-gateway.sh with the files and the
 *   gateway.env the program ships (gatewayFiles, gatewayParams of the prod
 *   stack, bundled as ProvisionedContainer bundles them), only this
 *   network's addresses overridden;
 * - the internet: dnsmasq as the upstream DNS with fake records, and
 *   test/lxc/internet.ts (HTTPS with the test CA's certificate, HTTP), which
 *   logs every handshake and request;
 * - where the Proxmox host firewall would stand, the test's own iptables rules
 *   in ccogw-inet stand instead: made from the program's firewallRules for the
 *   runner and the gateway, in Proxmox's first-match semantics (emulated, not
 *   Proxmox's own code).
 * Nothing is routed to the host's network. Needs root, lxc, uidmap, iproute2,
 * iptables, dnsmasq, openssl, curl.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NAMESPACE, parseConfig } from "../../infra/config";
import { firewallRules, type FirewallNetwork, type FirewallRule } from "../../infra/firewall";
import {
  GATEWAY_ENV_FILE,
  gatewayFiles,
  gatewayParams,
  GATEWAY_FILES,
  runnerAddresses,
  runnerSources,
} from "../../infra/gateway/params";
import { GATEWAY_STATS_NAME } from "../../service/aggregate/egress";
import { envFile, provisionBundle, provisionCommand } from "../../infra/provisioning";
import { projectKeys, PROJECT_ROOT, readStackFile } from "../../infra/stackfile";
import { Container, ensureLine, has, must, removeLine, run, type Run } from "./lxc";

export const GW = {
  lxcpath: "/var/tmp/ccogw-lxc",
  container: "ccogw-gateway",
  inet: "ccogw-inet",
  runnerNs: "ccogw-run",
  /** host end (becomes the container's eth0) and the internet's end */
  gwVeth: "ccogw0",
  gwPeer: "ccogw1",
  runVeth: "ccogw2",
  runPeer: "ccogw3",
  router: "192.0.2.129",
  gateway: "192.0.2.130",
  runnerRouter: "192.0.2.145",
  runner: "192.0.2.146",
  lan: "192.0.2.128/27",
  port: 3128,
  dns: "198.51.100.53",
  /** name -> address in the upstream DNS. */
  records: {
    "github.com": "198.51.100.10",
    // Shares github.com's (CDN) address, not allowed.
    "evil.example": "198.51.100.10",
    "release-assets.githubusercontent.com": "198.51.100.13",
    // Not allowed, an address of its own: what a client would like to reach instead.
    "attacker.example": "198.51.100.66",
    // Allowed names whose answers point inside: loopback, and the runners' LAN.
    "rebind.github.com": "127.0.0.1",
    "lan.github.com": "192.0.2.146",
  } as Record<string, string>,
  /** A source outside the runners' blocks (an internet address). */
  outsider: "198.51.100.77",
  /** The stats service (service/main.ts, run in ccogw-inet on the router's address): the gateway's forwarder posts there. */
  statsPort: 18080,
  statsToken: "gateway-lab-ingest-token-0123456789",
};
/** Where the lab's stats service listens. */
export const STATS_URL = `http://${GW.router}:${GW.statsPort}`;
const IDMAP = "root:100000:65536";
/** Its own cache: the runner tests' root filesystems have other package lists. */
const ROOTFS_CACHE = "/var/cache/cco-infra/lxc-gateway";
const tsx = (script: string) => [process.execPath, "--import", "tsx", script];

/** Why this machine cannot run the lab, or "". */
export function labUnavailable(): string {
  if (process.getuid?.() !== 0) return "needs root (LXC containers, network namespaces)";
  const tools = [
    "lxc-create",
    "lxc-start",
    "lxc-attach",
    "lxc-usernsexec",
    "newuidmap",
    "debootstrap",
    "ip",
    "iptables",
    "dnsmasq",
    "openssl",
    "curl",
  ];
  const missing = tools.filter((t) => !has(t));
  if (missing.length > 0) return `needs ${missing.join(", ")} (.ci/run installs them)`;
  if (!existsSync("/usr/share/lxc/templates/lxc-debian")) return "needs lxc's debian template (package lxc-templates)";
  return "";
}

/** The packages provision-gateway.sh installs: the image has them, the container no internet. */
export function gatewayPackages(): string[] {
  const m = /^ensure_packages (.+)$/m.exec(readFileSync(join(GATEWAY_FILES, "provision-gateway.sh"), "utf8"));
  if (!m) throw new Error("no ensure_packages line in provision-gateway.sh");
  return m[1]!.trim().split(/\s+/);
}

export interface InternetEntry {
  kind: string;
  scheme?: string;
  host?: string;
  path?: string;
  servername?: string | null;
  remote?: string;
  local?: string;
}

export class GatewayLab {
  readonly ct = new Container(GW.lxcpath, GW.container);
  readonly tmp = mkdtempSync(join(tmpdir(), "ccogw-"));
  readonly children: ChildProcess[] = [];
  params = new Map<string, string>();
  bundleDir = "";
  private addedIdLines: string[] = [];

  /** A file the internet serves at `path` (its runner-tarball route), made of `bytes` random bytes. */
  constructor(readonly opts: { payloadBytes: number; payloadPath: string }) {}

  ca(file: string): string {
    return join(this.tmp, file);
  }

  /** A command in the runner's namespace (the client the gateway serves). */
  inRunner(cmd: string, args: string[], timeoutMs = 20_000): Run {
    return run("ip", ["netns", "exec", GW.runnerNs, cmd, ...args], { timeoutMs });
  }

  inInternet(cmd: string, args: string[], timeoutMs = 20_000): Run {
    return run("ip", ["netns", "exec", GW.inet, cmd, ...args], { timeoutMs });
  }

  /** What reached the internet's servers, as it logged it. */
  internet(): InternetEntry[] {
    return readFileSync(join(this.tmp, "internet.log"), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as InternetEntry);
  }

  /** The gateway's decision log, one object per line (key=value fields). */
  decisions(): Array<Record<string, string>> {
    return this.ct
      .must("cat /var/log/cco-gateway/access.log")
      .split("\n")
      .filter(Boolean)
      .map((line) =>
        Object.fromEntries(
          line
            .split(" ")
            .slice(1)
            .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
        ),
      );
  }

  /** Removes whatever an earlier, interrupted run left behind (same fixed names). */
  teardown(): void {
    if (existsSync(join(GW.lxcpath, GW.container))) {
      run("lxc-stop", ["-P", GW.lxcpath, "-n", GW.container, "-k"], { timeoutMs: 60_000 });
      run("lxc-destroy", ["-P", GW.lxcpath, "-n", GW.container], { timeoutMs: 60_000 });
    }
    rmSync(GW.lxcpath, { recursive: true, force: true });
    for (const ns of [GW.inet, GW.runnerNs]) {
      if (run("ip", ["netns", "pids", ns]).status === 0) {
        // Only processes of our own namespaces: the servers this lab started.
        for (const pid of run("ip", ["netns", "pids", ns]).stdout.split("\n").filter(Boolean))
          run("kill", ["-KILL", pid]);
        run("ip", ["netns", "del", ns]);
      }
    }
    run("ip", ["link", "del", GW.gwVeth]);
  }

  /** Everything up to a provisioned gateway; throws with the reason when a step fails. */
  setUp(): void {
    this.teardown();
    for (const file of ["/etc/subuid", "/etc/subgid"]) if (ensureLine(file, IDMAP)) this.addedIdLines.push(file);
    const rootfs = must(join(PROJECT_ROOT, "test", "lxc", "rootfs.sh"), gatewayPackages(), {
      timeoutMs: 15 * 60_000,
      env: { ...process.env, CCO_LXC_CACHE: ROOTFS_CACHE },
    }).trim();
    this.certificates();
    this.network();
    this.startInternet();
    this.boot(rootfs);
    this.stageBundle();
  }

  close(keep = false): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    this.teardown();
    for (const file of this.addedIdLines) removeLine(file, IDMAP);
    if (!keep) rmSync(this.tmp, { recursive: true, force: true });
  }

  private certificates(): void {
    const ca = (f: string) => this.ca(f);
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
      "/CN=cco gateway test CA",
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
    const addresses = [...new Set(Object.values(GW.records).filter((a) => a.startsWith("198.51.100.")))];
    writeFileSync(
      ca("san.ext"),
      `subjectAltName=${[...Object.keys(GW.records).map((n) => `DNS:${n}`), ...addresses.map((a) => `IP:${a}`)].join(",")}\n`,
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
  }

  private network(): void {
    const ip = (...args: string[]) => must("ip", args);
    const inet = (...args: string[]) => must("ip", ["-n", GW.inet, ...args]);
    ip("netns", "add", GW.inet);
    ip("netns", "add", GW.runnerNs);
    ip("link", "add", GW.gwVeth, "type", "veth", "peer", "name", GW.gwPeer);
    ip("link", "set", GW.gwPeer, "netns", GW.inet);
    ip("link", "add", GW.runVeth, "netns", GW.runnerNs, "type", "veth", "peer", "name", GW.runPeer, "netns", GW.inet);
    inet("link", "set", "lo", "up");
    inet("addr", "add", `${GW.router}/28`, "dev", GW.gwPeer);
    inet("link", "set", GW.gwPeer, "up");
    inet("addr", "add", `${GW.runnerRouter}/28`, "dev", GW.runPeer);
    inet("link", "set", GW.runPeer, "up");
    const internetAddresses = [
      ...new Set([...Object.values(GW.records).filter((a) => a.startsWith("198.51.100.")), GW.dns, GW.outsider]),
    ];
    for (const a of internetAddresses) inet("addr", "add", `${a}/32`, "dev", "lo");
    const runner = (...args: string[]) => must("ip", ["-n", GW.runnerNs, ...args]);
    runner("link", "set", "lo", "up");
    runner("addr", "add", `${GW.runner}/28`, "dev", GW.runVeth);
    runner("link", "set", GW.runVeth, "up");
    runner("route", "add", "default", "via", GW.runnerRouter);
    must("ip", ["netns", "exec", GW.inet, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    this.hostFirewall();
  }

  /**
   * Where the Proxmox host firewall stands: emulated by iptables in ccogw-inet,
   * made from the rules the program declares (firewallRules, roles runner and
   * gateway) with this network's addresses, in Proxmox's semantics: first
   * match wins, replies pass by connection tracking, the policy DROPs. The
   * runner's and the gateway's traffic to the internet and to each other all
   * crosses ccogw-inet, so each container's "out" rules judge what it sends
   * and the gateway's "in" rules what reaches it. Every drop of the runner's
   * is counted (RUNNER_DROP).
   */
  private hostFirewall(): void {
    const net: FirewallNetwork = {
      lanCidr: GW.lan,
      adminCidr: `${GW.router}/32`,
      dnsServers: [GW.dns],
      // The stats service of this network (the gateway's forwarder posts there).
      stats: { ip: GW.router, port: GW.statsPort },
      extraCidrs: [],
      extraCidrPorts: [],
      gateway: { ip: GW.gateway, port: GW.port, clients: [`${GW.runner}/32`] },
    };
    // onAccept RETURN: the packet goes on to the next check (the far end's "in" rules).
    const chain = (name: string, rules: FirewallRule[], onAccept: string, last: string) => [
      ...rules.map((r) =>
        [
          `-A ${name}`,
          r.proto && `-p ${r.proto}`,
          r.source && `-s ${r.source}`,
          r.dest && `-d ${r.dest}`,
          r.dport && (r.dport.includes(",") ? `-m multiport --dports ${r.dport}` : `--dport ${r.dport}`),
          `-j ${r.action === "ACCEPT" ? onAccept : last}`,
        ]
          .filter(Boolean)
          .join(" "),
      ),
      `-A ${name} -j ${last}`,
    ];
    // IPv4 only: this network has no IPv6 (the rules for IPv6 ranges belong to ip6tables, whose FORWARD here drops all).
    const v4 = (rules: FirewallRule[]) => rules.filter((r) => !r.dest?.includes(":"));
    const runnerRules = v4(firewallRules(net, "runner"));
    const gatewayRules = v4(firewallRules(net, "gateway"));
    const rules = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD DROP [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":RUNNER_OUT - [0:0]",
      ":GATEWAY_OUT - [0:0]",
      ":GATEWAY_IN - [0:0]",
      ":RUNNER_DROP - [0:0]",
      "-A INPUT -i lo -j ACCEPT",
      "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
      "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
      `-A INPUT -i ${GW.runPeer} -j RUNNER_OUT`,
      `-A FORWARD -i ${GW.runPeer} -j RUNNER_OUT`,
      `-A INPUT -i ${GW.gwPeer} -j GATEWAY_OUT`,
      // What the runner's rules let out toward the gateway must pass the gateway's "in" rules too.
      `-A FORWARD -o ${GW.gwPeer} -j GATEWAY_IN`,
      // Anything else forwarded: dropped (the runner's, counted).
      `-A FORWARD -i ${GW.runPeer} -j RUNNER_DROP`,
      ...chain(
        "RUNNER_OUT",
        runnerRules.filter((r) => r.type === "out"),
        "RETURN",
        "RUNNER_DROP",
      ),
      ...chain(
        "GATEWAY_OUT",
        gatewayRules.filter((r) => r.type === "out"),
        "ACCEPT",
        "DROP",
      ),
      ...chain(
        "GATEWAY_IN",
        gatewayRules.filter((r) => r.type === "in"),
        "ACCEPT",
        "DROP",
      ),
      "-A RUNNER_DROP -j DROP",
      "COMMIT",
      "",
    ].join("\n");
    writeFileSync(join(this.tmp, "host-firewall.rules"), rules);
    must("ip", ["netns", "exec", GW.inet, "iptables-restore"], { input: rules });
    must("ip", ["netns", "exec", GW.inet, "ip6tables-restore"], {
      input: "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
    });
  }

  /** Packets from the runner that the emulated host firewall dropped. */
  runnerDrops(): number {
    const out = this.inInternet("iptables", ["-L", "RUNNER_DROP", "-vnx"]).stdout;
    const m = /^\s*(\d+)\s+\d+\s+DROP/m.exec(out);
    return m ? Number(m[1]) : -1;
  }

  private startInternet(): void {
    const payload = join(this.tmp, "payload.bin");
    must("sh", ["-c", `head -c ${this.opts.payloadBytes} /dev/urandom > '${payload}'`], { timeoutMs: 120_000 });
    const start = (name: string, args: string[], env: Record<string, string> = {}) => {
      const out = openSync(join(this.tmp, `${name}.log`), "a");
      const child = spawn("ip", ["netns", "exec", GW.inet, ...args], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", out, out],
      });
      this.children.push(child);
    };
    start("upstream-dns", [
      "dnsmasq",
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--bind-interfaces",
      `--listen-address=${GW.dns}`,
      "--pid-file=",
      "--user=nobody",
      "--log-queries",
      "--log-facility=-",
      ...Object.entries(GW.records).map(([n, a]) => `--host-record=${n},${a}`),
    ]);
    // The real stats service (npm start's program), on the router's address of this network.
    start("stats", tsx(join(PROJECT_ROOT, "service", "main.ts")), {
      STATS_HOST: GW.router,
      STATS_PORT: String(GW.statsPort),
      STATS_DATA_DIR: join(this.tmp, "stats"),
      STATS_INGEST_TOKEN: GW.statsToken,
      STATS_INTERVAL_MS: "500",
    });
    start("internet", tsx(join(PROJECT_ROOT, "test", "lxc", "internet.ts")), {
      CCO_E2E_CERT: this.ca("server.crt"),
      CCO_E2E_KEY: this.ca("server.key"),
      CCO_E2E_TARBALL: payload,
      CCO_E2E_TARBALL_PATH: this.opts.payloadPath,
      // Every name serves the payload itself (no redirect): the redirect host is the one asked.
      CCO_E2E_REDIRECT_HOST: "github.com",
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listening = this.inInternet("ss", ["-Hltun"]).stdout;
      if ([`${GW.dns}:53`, ":443", ":80", `${GW.router}:${GW.statsPort}`].every((a) => listening.includes(a))) break;
      for (const c of this.children)
        if (c.exitCode !== null) throw new Error(`a server of the internet exited: see ${this.tmp}/*.log`);
      if (Date.now() > deadline) throw new Error(`the internet (or the stats service) did not come up:\n${listening}`);
      run("sleep", ["0.2"]);
    }
  }

  private boot(rootfs: string): void {
    const ct = this.ct;
    mkdirSync(ct.dir, { recursive: true });
    must("cp", ["-a", rootfs, ct.rootfs], { timeoutMs: 120_000 });
    writeFileSync(
      join(ct.dir, "config"),
      [
        "lxc.include = /usr/share/lxc/config/debian.common.conf",
        "lxc.include = /usr/share/lxc/config/debian.userns.conf",
        "lxc.idmap = u 0 100000 65536",
        "lxc.idmap = g 0 100000 65536",
        `lxc.rootfs.path = dir:${ct.rootfs}`,
        "lxc.uts.name = cco-gateway",
        "lxc.arch = amd64",
        "lxc.tty.max = 1",
        "lxc.pty.max = 64",
        "lxc.net.0.type = phys",
        `lxc.net.0.link = ${GW.gwVeth}`,
        "lxc.net.0.name = eth0",
        "lxc.net.0.flags = up",
        `lxc.apparmor.profile = ${existsSync("/sys/kernel/security/apparmor") ? "generated" : "unconfined"}`,
        `lxc.log.file = ${ct.dir}/lxc.log`,
        "lxc.log.level = NOTICE",
        "",
      ].join("\n"),
    );
    const own = (path: string, text: string) => {
      writeFileSync(join(ct.rootfs, path), text);
      must("chown", ["100000:100000", join(ct.rootfs, path)]);
    };
    own(
      "etc/network/interfaces",
      `auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress ${GW.gateway}/28\n\tgateway ${GW.router}\n`,
    );
    own("etc/hostname", "cco-gateway\n");
    // The image has squid preinstalled (the container has no internet), and Debian
    // enables it: as on a fresh template, where provision-gateway.sh installs it
    // without starting it, it must not run before provisioning (it would hang the
    // boot waiting for a network it may not use). Disabled here, masked by the script.
    rmSync(join(ct.rootfs, "etc/systemd/system/multi-user.target.wants/squid.service"), { force: true });
    must("lxc-start", ["-P", GW.lxcpath, "-n", GW.container, "-d"]);
    ct.waitBooted();
  }

  /** The bundle the program ships, with only this network's addresses overridden. */
  private stageBundle(): void {
    const stack = readStackFile("prod");
    const c = parseConfig(projectKeys(stack.values, NAMESPACE));
    if (!c.gateway) throw new Error("the prod stack has no egress gateway (egressMode direct): nothing to test");
    const params = gatewayParams({
      gateway: c.gateway,
      network: c.network,
      domains: c.egress.domains,
      clients: runnerSources(c.runners.instances, c.network.cidr),
      runners: runnerAddresses(c.runners.instances),
      stats: {
        url: `http://${c.stats.ip}:${c.stats.port}`,
        ip: c.stats.ip,
        port: c.stats.port,
        runner: GATEWAY_STATS_NAME,
      },
    });
    const overrides: Record<string, string> = {
      GATEWAY_ADDRESS: GW.gateway,
      GATEWAY_PORT: String(GW.port),
      RUNNER_SOURCES: `${GW.runner}/32`,
      ADMIN_CIDR: `${GW.router}/32`,
      DNS_SERVERS: GW.dns,
      LAN_CIDR: GW.lan,
      STATS_URL,
      STATS_HOST: GW.router,
      STATS_PORT: String(GW.statsPort),
      RUNNER_ADDRESSES: `${GW.runner}=runner-01`,
    };
    for (const key of Object.keys(overrides))
      if (!(key in params)) throw new Error(`gatewayParams has no ${key}: the contract changed`);
    this.params = new Map(Object.entries({ ...params, ...overrides }));
    // As ProvisionedContainer bundles them: the files and the env file beside them.
    const bundle = provisionBundle({
      ...gatewayFiles(),
      [GATEWAY_ENV_FILE]: { text: envFile(Object.fromEntries(this.params)) },
    });
    this.bundleDir = bundle.remoteDir;
    const target = join(this.ct.rootfs, bundle.remoteDir);
    rmSync(target, { recursive: true, force: true });
    cpSync(join(PROJECT_ROOT, ".build", "provision", bundle.remoteDir.slice("/root/".length)), target, {
      recursive: true,
    });
    must("chown", ["-R", "100000:100000", target]);
  }

  /** provision-gateway.sh run as the Pulumi program runs it (provisionCommand). */
  provision(): Run {
    return this.ct.exec(provisionCommand({ remoteDir: this.bundleDir }, "provision-gateway.sh"), {
      timeoutMs: 300_000,
      // As the program sends it (EgressGateway's stdin): the gateway's own stats credential.
      input: `INGEST_TOKEN=${GW.statsToken}\n`,
    });
  }

  /** The lab's stats service, asked from its own namespace (the test's host cannot route there). */
  stats(path: string, body?: string): Run {
    const args = ["-sS", "--max-time", "5", `${STATS_URL}${path}`];
    if (body !== undefined)
      args.push(
        "-H",
        `Authorization: Bearer ${GW.statsToken}`,
        "--data-binary",
        "@-",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
      );
    return body === undefined
      ? this.inInternet("curl", args)
      : run("ip", ["netns", "exec", GW.inet, "curl", ...args], { input: body });
  }

  /** curl in the runner's namespace through the gateway (as a job would with https_proxy set). */
  curl(args: string[], timeoutMs = 20_000): Run {
    return this.inRunner(
      "curl",
      ["-sS", "--max-time", "8", "--cacert", this.ca("ca.crt"), "-x", `http://${GW.gateway}:${GW.port}`, ...args],
      timeoutMs,
    );
  }
}
