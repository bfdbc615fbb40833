/**
 * The pieces of the LXC end-to-end test (test/infra/runners/lxc-e2e.test.ts):
 * running commands, a container driven with lxc-attach, the probe list it
 * prints, and the test network's address plan.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUNNER_FILES } from "../../infra/provisioning";
import { declinedLayer } from "./layers";

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (no shell), with a time limit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Run {
  const r = spawnSync(cmd, args, {
    input: opts.input ?? "",
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  const err = r.error ? `\n${r.error.message}` : "";
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + err };
}

/** run(), failing with its output unless it exits 0; returns stdout. */
export function must(cmd: string, args: readonly string[], opts: Parameters<typeof run>[2] = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export function has(cmd: string): boolean {
  return run("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

/**
 * CCO_E2E_TAG (up to 6 letters or digits): a suffix for the container, namespace and veth
 * names, so that two runs of the LXC test (from two checkouts) never tear down each other's.
 */
export const E2E_TAG = /^[a-z0-9]{0,6}$/.test(process.env.CCO_E2E_TAG ?? "") ? (process.env.CCO_E2E_TAG ?? "") : "";

/**
 * What every LXC test here needs: lxc and uidmap for the unprivileged
 * container, and what lxc's debian template calls to build its root
 * filesystem (debootstrap, rsync, wget, debian-distro-info).
 */
export const LXC_TOOLS = [
  "lxc-create",
  "lxc-start",
  "lxc-attach",
  "lxc-usernsexec",
  "newuidmap",
  "debootstrap",
  "rsync",
  "wget",
  "debian-distro-info",
] as const;

/**
 * Skips an LXC test this machine cannot run (saying why), or fails it under
 * CI=true, where every layer must run. MORE names a further need, or "".
 */
export function requireLxc(ctx: Mocha.Context, test: string, tools: readonly string[], more = ""): void {
  const missing = tools.filter((t) => !has(t));
  const reason =
    process.getuid?.() !== 0
      ? "needs root (LXC containers, network namespaces, mounts)"
      : missing.length > 0
        ? `needs ${missing.join(", ")} (.ci/run installs them)`
        : !existsSync("/usr/share/lxc/templates/lxc-debian")
          ? "needs lxc's debian template (package lxc-templates)"
          : more;
  const declined = declinedLayer("lxc");
  if (declined) {
    console.log(`      skipped: ${declined}`);
    ctx.skip();
  }
  if (reason && process.env.CI === "true") throw new Error(`${test} cannot run in CI: ${reason}`);
  if (reason) {
    console.log(`      skipped: ${reason}`);
    ctx.skip();
  }
}

/** The test network: TEST-NET addresses only, nothing routed to the host's network. */
export const NET = {
  /** The "internet" namespace and the veth pair: one end becomes the container's eth0. */
  netns: `cco-e2e-inet${E2E_TAG}`,
  hostVeth: `ccoe2e0${E2E_TAG}`,
  inetVeth: `ccoe2e1${E2E_TAG}`,
  container: "192.0.2.10",
  gateway: "192.0.2.1",
  container6: "2001:db8:1::10",
  gateway6: "2001:db8:1::1",
  /** The upstream resolver the runner is configured with (DNS_SERVERS). */
  dns: "198.51.100.53",
  /** A resolver the runner is not configured with. */
  otherDns: "203.0.113.54",
  stats: "203.0.113.10",
  statsPort: 8080,
  /** A source address outside the admin CIDR, for SSH from elsewhere. */
  outsider: "203.0.113.77",
  /** An address no name resolves to. */
  neverResolved: "203.0.113.99",
  v6: "2001:db8:2::10",
  /** name -> address in the upstream DNS; the first four are allowed by the prod allowlist. */
  records: {
    "github.com": "198.51.100.10",
    "api.github.com": "198.51.100.11",
    "x.actions.githubusercontent.com": "198.51.100.12",
    "release-assets.githubusercontent.com": "198.51.100.13",
    "evil.example": "198.51.100.66",
    "notgithub.com": "198.51.100.67",
    "github.com.evil.example": "198.51.100.68",
    /** One of GitHub's own storage accounts (allowed by name), and someone else's (not). */
    "productionresultssa0.blob.core.windows.net": "198.51.100.14",
    "cco-attacker.blob.core.windows.net": "198.51.100.69",
  } as Record<string, string>,
  /** An allowed name the upstream DNS moves from one address to another during the test. */
  moved: { name: "moved.github.com", from: "198.51.100.20", to: "198.51.100.21" },
  /**
   * An allowed name the upstream DNS answers with a private address (DNS rebinding). Only
   * ever DNS data: no interface has it and no probe connects to it.
   */
  rebind: { name: "rebind.github.com", address: "10.0.0.5" },
  /** Where the runner's egress gateway stands in the gateway-mode probes (internet.ts's port 3128 records what reaches it). */
  egressGateway: "203.0.113.30",
  /** The log collector (systemd-journal-remote) the container ships its journal to. */
  collector: "203.0.113.20",
  collectorPort: 19532,
};

/** Every address the internet namespace answers on (its loopback holds them). */
export function internetAddresses(): string[] {
  return [
    ...new Set([
      ...Object.values(NET.records),
      NET.moved.from,
      NET.moved.to,
      NET.dns,
      NET.otherDns,
      NET.stats,
      NET.outsider,
      NET.neverResolved,
      NET.collector,
      NET.egressGateway,
    ]),
  ];
}

/** The packages provision.sh installs (its ensure_packages line): the image has them, the container no internet. */
function provisionPackages(): string[] {
  const m = /^ensure_packages (.+)$/m.exec(readFileSync(join(RUNNER_FILES, "provision.sh"), "utf8"));
  if (!m) throw new Error("no ensure_packages line in provision.sh");
  return m[1]!.trim().split(/\s+/);
}

/**
 * What the LXC tests' image (test/lxc/rootfs.sh, cached by this list) holds:
 * provision.sh's packages, and test tools: dig, auditctl, and cron and at (a
 * job must not be able to use them). One list, so every LXC test shares one cache.
 */
export const IMAGE_PACKAGES = [...provisionPackages(), "bind9-dnsutils", "auditd", "cron", "at"];

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The config of an unprivileged Debian container with systemd as init
 * (container root = host uid/gid 100000, as IDMAP lines in /etc/subuid and
 * /etc/subgid allow): `net` and `extra` are its network lines and any others.
 */
export function unprivilegedConfig(o: {
  dir: string;
  rootfs: string;
  hostname: string;
  net: readonly string[];
  extra?: readonly string[];
}): string {
  return [
    "lxc.include = /usr/share/lxc/config/debian.common.conf",
    "lxc.include = /usr/share/lxc/config/debian.userns.conf",
    "lxc.idmap = u 0 100000 65536",
    "lxc.idmap = g 0 100000 65536",
    `lxc.rootfs.path = dir:${o.rootfs}`,
    `lxc.uts.name = ${o.hostname}`,
    "lxc.arch = amd64",
    "lxc.tty.max = 1",
    "lxc.pty.max = 64",
    ...o.net,
    ...(o.extra ?? []),
    // AppArmor when the host has it (Proxmox does); nothing to confine with otherwise.
    `lxc.apparmor.profile = ${existsSync("/sys/kernel/security/apparmor") ? "generated" : "unconfined"}`,
    `lxc.log.file = ${o.dir}/lxc.log`,
    "lxc.log.level = NOTICE",
    "",
  ].join("\n");
}

/** An LXC container driven from the host. */
export class Container {
  constructor(
    readonly lxcpath: string,
    readonly name: string,
  ) {}

  get dir(): string {
    return `${this.lxcpath}/${this.name}`;
  }

  get rootfs(): string {
    return `${this.dir}/rootfs`;
  }

  /** bash -c SCRIPT inside the container, as root or (runuser) as another user, with a clean environment. */
  exec(
    script: string,
    opts: { user?: string; input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Run {
    const user = opts.user ?? "root";
    const home = user === "root" ? "/root" : `/home/${user}`;
    const vars = { PATH, LANG: "C.UTF-8", HOME: home, USER: user, LOGNAME: user, ...opts.env };
    const setVars = Object.entries(vars).flatMap(([k, v]) => ["--set-var", `${k}=${v}`]);
    const argv = user === "root" ? ["bash", "-c", script] : ["runuser", "-u", user, "--", "bash", "-c", script];
    return run("lxc-attach", ["-P", this.lxcpath, "-n", this.name, "--clear-env", ...setVars, "--", ...argv], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
  }

  /** exec() that must exit 0; returns stdout. */
  must(script: string, opts: Parameters<Container["exec"]>[1] = {}): string {
    const r = this.exec(script, opts);
    if (r.status !== 0) throw new Error(`in ${this.name}: ${script}\nexited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  initPid(): number {
    const r = run("lxc-info", ["-P", this.lxcpath, "-n", this.name, "-pH"]);
    return r.status === 0 ? Number(r.stdout.trim()) : 0;
  }

  state(): string {
    return run("lxc-info", ["-P", this.lxcpath, "-n", this.name, "-sH"]).stdout.trim();
  }

  /** Waits until systemd (PID 1) finished booting; returns its state (running, degraded). */
  waitBooted(timeoutMs = 120_000): string {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // lxc-attach fails while the container is still coming up: retry.
      const r = this.exec("systemctl is-system-running --wait", { timeoutMs: Math.max(1000, deadline - Date.now()) });
      const state = r.stdout.trim();
      if (["running", "degraded"].includes(state)) return state;
      if (Date.now() > deadline) throw new Error(`${this.name} did not finish booting: ${state} ${r.stderr}`);
      spawnSync("sleep", ["0.5"]);
    }
  }

  /** Reboots from inside (systemctl reboot) and waits for the new boot. */
  reboot(timeoutMs = 120_000): { before: number; after: number; state: string } {
    const before = this.initPid();
    this.exec("systemctl reboot", { timeoutMs: 10_000 });
    const deadline = Date.now() + timeoutMs;
    let after = 0;
    while (Date.now() < deadline) {
      after = this.initPid();
      if (after !== 0 && after !== before && this.state() === "RUNNING") break;
      spawnSync("sleep", ["0.2"]);
    }
    if (after === 0 || after === before) throw new Error(`${this.name} did not come back after reboot`);
    return { before, after, state: this.waitBooted(Math.max(1000, deadline - Date.now())) };
  }
}

export interface Probe {
  group: string;
  name: string;
  expected: string;
  got: string;
  ok: boolean;
}

/** Every probe of the test, listed and counted at the end. */
export class Probes {
  readonly all: Probe[] = [];

  constructor(readonly title = "LXC end-to-end probes") {}

  add(group: string, name: string, expected: string, got: string, ok: boolean): Probe {
    const p = { group, name, expected, got: got.trim().replace(/\s+/g, " ").slice(0, 160), ok };
    this.all.push(p);
    return p;
  }

  failed(group: string): Probe[] {
    return this.all.filter((p) => p.group === group && !p.ok);
  }

  report(): string {
    const passed = this.all.filter((p) => p.ok).length;
    const lines = [`${this.title}: ${this.all.length} run, ${passed} as expected, ${this.all.length - passed} not`];
    let group = "";
    this.all.forEach((p, i) => {
      if (p.group !== group) lines.push(`  [${(group = p.group)}]`);
      lines.push(
        `  ${p.ok ? "ok  " : "FAIL"} ${String(i + 1).padStart(3)}. ${p.name} | expected: ${p.expected} | got: ${p.got}`,
      );
    });
    return lines.join("\n");
  }
}

/** Appends LINE to FILE unless it is there; returns whether it was added. */
export function ensureLine(file: string, line: string): boolean {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // missing: created below
  }
  if (text.split("\n").includes(line)) return false;
  writeFileSync(file, text + (text === "" || text.endsWith("\n") ? "" : "\n") + line + "\n");
  return true;
}

/** Removes one occurrence of LINE from FILE. */
export function removeLine(file: string, line: string): void {
  const lines = readFileSync(file, "utf8").split("\n");
  const i = lines.indexOf(line);
  if (i >= 0) {
    lines.splice(i, 1);
    writeFileSync(file, lines.join("\n"));
  }
}

const IDMAP_LINE = "root:100000:65536";

/**
 * A container of the cached image (IMAGE_PACKAGES) with a network namespace of
 * its own holding only loopback (nothing leaves it), booted; the scripts' LXC
 * tests use it. `start` first destroys what an earlier run left; `destroy`
 * removes the container and the id-map lines `start` added.
 */
export class LoopbackContainer extends Container {
  private addedIdLines: string[] = [];
  private started = false;

  start(hostname: string): void {
    this.started = true;
    this.destroy();
    for (const file of ["/etc/subuid", "/etc/subgid"]) if (ensureLine(file, IDMAP_LINE)) this.addedIdLines.push(file);
    const rootfs = must(join(__dirname, "..", "lxc", "rootfs.sh"), IMAGE_PACKAGES, { timeoutMs: 15 * 60_000 }).trim();
    mkdirSync(this.dir, { recursive: true });
    must("cp", ["-a", rootfs, this.rootfs], { timeoutMs: 5 * 60_000 });
    writeFileSync(
      join(this.dir, "config"),
      unprivilegedConfig({ dir: this.dir, rootfs: this.rootfs, hostname, net: ["lxc.net.0.type = empty"] }),
    );
    must("lxc-start", ["-P", this.lxcpath, "-n", this.name, "-d"]);
    this.waitBooted();
  }

  /** Nothing unless start ran (a skipped test leaves alone what is not its own). */
  destroy(): void {
    if (!this.started) return;
    if (existsSync(this.dir)) {
      run("lxc-stop", ["-P", this.lxcpath, "-n", this.name, "-k"], { timeoutMs: 60_000 });
      run("lxc-destroy", ["-P", this.lxcpath, "-n", this.name], { timeoutMs: 60_000 });
    }
    rmSync(this.lxcpath, { recursive: true, force: true });
    for (const file of this.addedIdLines) removeLine(file, IDMAP_LINE);
    this.addedIdLines = [];
  }
}
