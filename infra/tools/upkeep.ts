/**
 * `npm run upkeep -- [--write]`: are the pinned GitHub Actions runner,
 * Node.js (the stats service's) and the LXC template still the newest? Reads the runner's latest
 * release from GitHub's REST API and Node's release index from nodejs.org,
 * and with --write moves the defaults in infra/config.ts (version and SHA-256
 * together) to them. The scheduled upkeep workflow (.github/workflows/upkeep.yml)
 * runs it and opens a pull request with the change; the pull request's checks
 * and preview are the review.
 *
 * Sources and their shapes:
 * - GET /repos/actions/runner/releases/latest ("Get the latest release",
 *   https://docs.github.com/en/rest/releases/releases#get-the-latest-release):
 *   tag_name, draft, prerelease, body, and assets[] with name and digest
 *   ("sha256:<hex>"); the body carries each tarball's SHA-256 between
 *   `<!-- BEGIN SHA linux-x64 -->` markers (actions/runner, releaseNote.md).
 * - https://nodejs.org/dist/index.json: releases, newest first, each
 *   { version: "v22.21.1", lts: "Jod" | false, ... }; and
 *   https://nodejs.org/dist/v<version>/SHASUMS256.txt: "<sha256>  <file>" lines.
 * - http://download.proxmox.com/images/aplinfo-pve-8.dat, the template index
 *   `pveam update` reads (proxmox/pve-manager, PVE/APLInfo.pm get_apl_sources;
 *   its format: aplinfo/aplinfo.dat there): Debian-control stanzas with
 *   Package, Version, Type, Architecture, Location and sha512sum. The template
 *   stays on its package (debian-12-standard): a new Debian is a decision.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_KEYS } from "../config";
import { PROJECT_ROOT } from "../stackfile";
import { parseCommandLine, runCli, type CliSpec } from "./cli";

/** The part of GitHub's release object read here. */
export interface GitHubRelease {
  tag_name: string;
  draft: boolean;
  prerelease: boolean;
  body: string | null;
  assets: Array<{ name: string; digest?: string | null }>;
}

export interface NodeRelease {
  version: string;
  lts: string | false;
}

export interface Pin {
  version: string;
  sha256: string;
}

/** An LXC template as the config pins it: its URL and SHA-512. */
export interface TemplatePin {
  url: string;
  sha512: string;
}

const APLINFO_BASE = "http://download.proxmox.com/images";

/** The newest amd64 LXC template of the package `currentUrl` names, from an aplinfo index. */
export function templatePin(aplinfo: string, currentUrl: string): TemplatePin {
  const pkg = /\/([a-z0-9.-]+?)_[^/_]+_amd64\.tar\.\w+$/.exec(currentUrl)?.[1];
  if (pkg === undefined) throw new Error(`cannot tell the template package from ${currentUrl}`);
  const stanzas = aplinfo.split(/\n\s*\n/).map((block) => {
    const fields: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const m = /^([A-Za-z0-9]+):\s*(.*)$/.exec(line);
      if (m) fields[m[1]!.toLowerCase()] = m[2]!.trim();
    }
    return fields;
  });
  const candidates = stanzas
    .filter(
      (f) =>
        f.package === pkg &&
        f.type === "lxc" &&
        f.architecture === "amd64" &&
        f.location &&
        /^[0-9a-f]{128}$/.test(f.sha512sum ?? ""),
    )
    .sort((a, b) => compareVersions(b.version ?? "", a.version ?? ""));
  const newest = candidates[0];
  if (newest === undefined) throw new Error(`the template index lists no amd64 ${pkg}`);
  return { url: `${APLINFO_BASE}/${newest.location}`, sha512: newest.sha512sum! };
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The runner version and its linux-x64 tarball's SHA-256 from a release; the asset digest and the notes must agree. */
export function runnerPin(release: GitHubRelease): Pin {
  if (release.draft || release.prerelease)
    throw new Error(`actions/runner ${release.tag_name} is a draft or a pre-release`);
  const version = release.tag_name.replace(/^v/, "");
  if (!/^\d+\.\d+\.\d+$/.test(version))
    throw new Error(`actions/runner's latest tag ${release.tag_name} is not vX.Y.Z`);
  const tarball = `actions-runner-linux-x64-${version}.tar.gz`;
  const digest = release.assets.find((a) => a.name === tarball)?.digest?.replace(/^sha256:/, "");
  const noted = /<!-- BEGIN SHA linux-x64 -->([0-9a-f]{64})<!-- END SHA linux-x64 -->/.exec(release.body ?? "")?.[1];
  if (digest !== undefined && noted !== undefined && digest !== noted) {
    throw new Error(`actions/runner ${version}: the asset's digest ${digest} and the release notes' ${noted} differ`);
  }
  const sha256 = digest ?? noted;
  if (sha256 === undefined || !SHA256.test(sha256))
    throw new Error(`actions/runner ${version}: no SHA-256 of ${tarball} in the release`);
  return { version, sha256 };
}

/** The newest LTS release of the major line `major` (the service stays on its line; a new line is a decision). */
export function nodeVersion(index: NodeRelease[], major: number): string {
  const line = index
    .filter((r) => r.lts !== false && Number(r.version.replace(/^v/, "").split(".")[0]) === major)
    .map((r) => r.version.replace(/^v/, ""))
    .sort((a, b) => compareVersions(b, a));
  if (line.length === 0) throw new Error(`nodejs.org lists no LTS release of Node ${major}`);
  return line[0]!;
}

/** The SHA-256 of node-v<version>-linux-x64.tar.xz in a SHASUMS256.txt. */
export function nodeSha256(shasums: string, version: string): string {
  const file = `node-v${version}-linux-x64.tar.xz`;
  for (const line of shasums.split("\n")) {
    const [sha, name] = line.trim().split(/\s+/);
    if (name === file && sha !== undefined && SHA256.test(sha)) return sha;
  }
  throw new Error(`SHASUMS256.txt of Node ${version} has no line for ${file}`);
}

/** Compares "22.21.1" or Debian's "12.7-1" part by part, as numbers. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map(Number);
  const pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++)
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** A pinned default that moves: its key, and the value now and then. */
export interface Change {
  key: "runnerVersion" | "runnerSha256" | "nodeVersion" | "nodeSha256" | "lxcTemplateUrl" | "lxcTemplateChecksum";
  from: string;
  to: string;
}

/** The default of a pinned key (each has one). */
export function pinned(key: Change["key"]): string {
  const value = CONFIG_KEYS[key].default;
  if (value === undefined) throw new Error(`${key} has no default`);
  return value;
}

/** The changes from the current defaults to the newest pins (none when they are current). */
export function changes(runner: Pin, node: Pin, template: TemplatePin): Change[] {
  const now = {
    runnerVersion: pinned("runnerVersion"),
    runnerSha256: pinned("runnerSha256"),
    nodeVersion: pinned("nodeVersion"),
    nodeSha256: pinned("nodeSha256"),
    lxcTemplateUrl: pinned("lxcTemplateUrl"),
    lxcTemplateChecksum: pinned("lxcTemplateChecksum"),
  };
  const next = {
    runnerVersion: runner.version,
    runnerSha256: runner.sha256,
    nodeVersion: node.version,
    nodeSha256: node.sha256,
    lxcTemplateUrl: template.url,
    lxcTemplateChecksum: template.sha512,
  };
  return (Object.keys(now) as Change["key"][])
    .filter((k) => now[k] !== next[k])
    .map((k) => ({ key: k, from: now[k], to: next[k] }));
}

/** config.ts with each change applied: every default appears once, in quotes, so it is replaced there and only there. */
export function applyChanges(configText: string, list: Change[]): string {
  let text = configText;
  for (const c of list) {
    const quoted = `"${c.from}"`;
    const count = text.split(quoted).length - 1;
    if (count !== 1)
      throw new Error(`${c.key}: its default ${quoted} appears ${count} times in infra/config.ts, not once`);
    text = text.replace(quoted, `"${c.to}"`);
  }
  return text;
}

const UPKEEP_CLI = {
  command: "npm run upkeep --",
  summary:
    "Compares the pinned Actions runner, Node.js and LXC template with their newest releases; --write moves the defaults in infra/config.ts.",
  options: { write: { type: "boolean", description: "write the new versions and checksums into infra/config.ts" } },
} satisfies CliSpec;

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandLine(UPKEEP_CLI, argv);
  const auth: Record<string, string> = process.env.GITHUB_TOKEN
    ? { authorization: `Bearer ${process.env.GITHUB_TOKEN}` }
    : {};
  const release = await getJson<GitHubRelease>("https://api.github.com/repos/actions/runner/releases/latest", {
    accept: "application/vnd.github+json",
    ...auth,
  });
  const major = Number(pinned("nodeVersion").split(".")[0]);
  const version = nodeVersion(await getJson<NodeRelease[]>("https://nodejs.org/dist/index.json"), major);
  const shasums = await (
    await fetch(`https://nodejs.org/dist/v${version}/SHASUMS256.txt`, { signal: AbortSignal.timeout(30_000) })
  ).text();
  const aplinfo = await (
    await fetch(`${APLINFO_BASE}/aplinfo-pve-8.dat`, { signal: AbortSignal.timeout(30_000) })
  ).text();
  const list = changes(
    runnerPin(release),
    { version, sha256: nodeSha256(shasums, version) },
    templatePin(aplinfo, pinned("lxcTemplateUrl")),
  );
  for (const c of list) process.stdout.write(`${c.key}: ${c.from} -> ${c.to}\n`);
  if (list.length === 0) process.stdout.write("the runner, Node.js and template pins are current\n");
  if (values.write && list.length > 0) {
    const path = join(PROJECT_ROOT, "infra", "config.ts");
    writeFileSync(path, applyChanges(readFileSync(path, "utf8"), list));
    process.stdout.write(`${path} updated\n`);
  }
  return 0;
}

if (require.main === module) runCli("upkeep", () => main(process.argv.slice(2)));
