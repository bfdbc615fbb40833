/**
 * Per-runner ingest credentials. Each runner holds its own token; the service
 * holds only their SHA-256 hashes, in a file (STATS_CREDENTIALS_FILE) that it
 * re-reads when it changes, so one runner's token is rotated (add the new
 * line, then remove the old) or revoked (remove its lines) without touching
 * any other runner or restarting the service.
 *
 * File format, one credential per line (blank lines and `#` comments ignored):
 *
 *     runner-01 sha256:<64 hex digits of sha256(token)>
 *
 * A runner may have several lines (old and new token during a rotation).
 * STATS_CREDENTIALS_FILE may also name a directory: every file in it is read
 * (the deployment keeps one file per runner, added and removed with it).
 * Tokens are random (32 bytes or more), so a plain hash is enough: there is
 * nothing to brute-force, and looking a hash up in a Map reveals nothing a
 * caller could use to guess a token.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "./log";

/** Who a bearer token speaks for: one runner, or (the shared STATS_INGEST_TOKEN) any. */
export interface Principal {
  /** null: the shared token, whose events may name any runner. */
  runner: string | null;
}

const LINE = /^([^\s#]{1,256})\s+sha256:([0-9a-f]{64})$/;

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The line to put in the credentials file for a runner's token. */
export function credentialLine(runner: string, token: string): string {
  return `${runner} sha256:${tokenHash(token)}`;
}

export class CredentialsError extends Error {}

/** Parses the file's text: hash -> runner. A bad line fails the whole file (naming the line). */
export function parseCredentials(text: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = LINE.exec(line);
    if (!m)
      throw new CredentialsError(
        `line ${i + 1}: expected "<runner> sha256:<64 lowercase hex digits>", got ${JSON.stringify(line.slice(0, 40))}`,
      );
    const other = out.get(m[2]!);
    if (other !== undefined && other !== m[1])
      throw new CredentialsError(`line ${i + 1}: the same token hash is given to ${other} and ${m[1]}`);
    out.set(m[2]!, m[1]!);
  });
  return out;
}

/**
 * The credentials as the service sees them now. `lookup` stats the file
 * (cheap) and re-reads it only when it changed; a file that cannot be read or
 * parsed keeps the last good set (and says so in the log), except that a
 * deleted file revokes every per-runner credential.
 */
export class CredentialStore {
  private byHash = new Map<string, string>();
  private version = "";
  private checking: Promise<void> | null = null;

  constructor(
    private readonly path: string | null,
    private readonly sharedToken: string,
    private readonly log: Logger,
  ) {}

  /** The principal of a bearer token, or null when no credential matches. */
  async lookup(token: string): Promise<Principal | null> {
    await this.refresh();
    const hash = tokenHash(token);
    if (hash === tokenHash(this.sharedToken)) return { runner: null };
    const runner = this.byHash.get(hash);
    return runner === undefined ? null : { runner };
  }

  /** Runners that hold a credential now. */
  get runners(): string[] {
    return [...new Set(this.byHash.values())].sort();
  }

  /** Whether a credentials file or directory is configured (then its runners are the declared ones). */
  get configured(): boolean {
    return this.path !== null;
  }

  /** Re-reads the file if it changed since the last look (one look at a time). */
  refresh(): Promise<void> {
    if (this.path === null) return Promise.resolve();
    return (this.checking ??= this.check(this.path).finally(() => (this.checking = null)));
  }

  /** The files to read and a string that changes whenever one of them does. */
  private static async look(path: string): Promise<{ files: string[]; version: string }> {
    const st = await stat(path);
    if (!st.isDirectory()) return { files: [path], version: `${st.ino}:${st.size}:${st.mtimeMs}` };
    const files: string[] = [];
    let version = "";
    for (const name of (await readdir(path)).sort()) {
      if (name.startsWith(".")) continue; // an editor's or installer's temporary file
      const f = join(path, name);
      const fst = await stat(f).catch(() => null);
      if (!fst?.isFile()) continue;
      files.push(f);
      version += `${name}:${fst.ino}:${fst.size}:${fst.mtimeMs};`;
    }
    return { files, version };
  }

  private async check(path: string): Promise<void> {
    let version: string;
    let files: string[];
    try {
      ({ files, version } = await CredentialStore.look(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (this.version !== "missing") {
        if (this.byHash.size > 0)
          this.log.warn("credentials file is gone: every per-runner credential is revoked", { path });
        this.byHash = new Map();
        this.version = "missing";
      }
      return;
    }
    if (version === this.version) return;
    try {
      const texts = await Promise.all(files.map((f) => readFile(f, "utf8")));
      this.byHash = parseCredentials(texts.join("\n"));
      this.version = version;
      this.log.info("read the ingest credentials", { path, runners: this.runners.length });
    } catch (err) {
      this.version = version; // do not re-read a bad file on every request; the next change is read
      this.log.error("credentials file not read; the previous credentials stay in force", {
        path,
        error: (err as Error).message,
      });
    }
  }
}
