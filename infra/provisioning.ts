/**
 * What the runner and stats components share to provision a container over
 * SSH: the files to copy (a directory named by their content hash, so a copy
 * never lands on an older one), the parameters file (KEY=value data, never
 * code), and the connection.
 *
 * CopyToRemote takes a FileAsset, a StringAsset or a FileArchive (a local
 * path), not an AssetArchive: so the bundle is written to a local directory,
 * .build/provision/cco-provision-<hash>, and that directory is copied into
 * /root. Its path is relative to the project (Pulumi runs the program there),
 * so the state holds no path of the operator's checkout.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import { PROJECT_ROOT } from "./stackfile";

export const RUNNER_FILES = join(__dirname, "runners", "files");
export const STATS_FILES = join(__dirname, "stats", "files");
/** Files every kind of container gets: the scripts' helpers and the SSH server's hardening. */
export const SHARED_FILES = {
  lib: join(RUNNER_FILES, "lib.sh"),
  sshd: join(RUNNER_FILES, "config", "sshd-cco.conf"),
} as const;

/** A file to copy: from this project (path) or rendered here (text). */
export type ProvisionFile = { path: string } | { text: string };

/** KEY=value lines; values are single-line data. */
export function envFile(params: Record<string, string | number | boolean>): string {
  return Object.entries(params)
    .map(([k, v]) => {
      const value = String(v);
      if (!/^[A-Z][A-Z0-9_]*$/.test(k) || /[\r\n]/.test(value)) throw new Error(`bad parameter ${k}`);
      return `${k}=${value}\n`;
    })
    .join("");
}

export interface ProvisionBundle {
  /** Remote directory the files land in: /root/cco-provision-<hash>. */
  remoteDir: string;
  /** Where CopyToRemote copies the archive's directory into. */
  remoteParent: string;
  hash: string;
  /** The local directory cco-provision-<hash>, relative to the project. */
  archive: pulumi.asset.FileArchive;
}

/** Where bundles are written, relative to the project root (the program's working directory). */
export const BUNDLE_ROOT = join(".build", "provision");

/** The files (name -> source) as one directory, named by the hash of everything in it. */
export function provisionBundle(files: Record<string, ProvisionFile>): ProvisionBundle {
  const hash = createHash("sha256");
  const contents = new Map<string, Buffer | string>();
  for (const name of Object.keys(files).sort()) {
    const f = files[name]!;
    const content = "path" in f ? readFileSync(f.path) : f.text;
    hash.update(name).update("\0").update(content).update("\0");
    contents.set(name, content);
  }
  const digest = hash.digest("hex").slice(0, 16);
  const dirName = `cco-provision-${digest}`;
  const relative = join(BUNDLE_ROOT, dirName);
  const target = join(PROJECT_ROOT, relative);
  // Named by its content, so an existing one is already right. Written beside
  // and renamed into place: nobody sees half a bundle.
  if (!existsSync(target)) {
    const staging = `${target}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    for (const [name, content] of contents) {
      mkdirSync(dirname(join(staging, name)), { recursive: true });
      writeFileSync(join(staging, name), content);
    }
    try {
      renameSync(staging, target);
    } catch (err) {
      // Another process wrote the same bundle first.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(target)) throw err;
    }
  }
  return {
    remoteDir: `/root/${dirName}`,
    remoteParent: "/root",
    hash: digest,
    archive: new pulumi.asset.FileArchive(relative),
  };
}

/** Runs the provisioning script of a bundle, then removes older copies. */
export function provisionCommand(bundle: Pick<ProvisionBundle, "remoteDir">, script: string): string {
  return (
    `bash ${bundle.remoteDir}/${script} && ` +
    `find /root -maxdepth 1 -name 'cco-provision-*' ! -name '${bundle.remoteDir.slice("/root/".length)}' -exec rm -rf {} +`
  );
}

export function connection(
  host: pulumi.Input<string>,
  user: string,
  privateKey: pulumi.Output<string>,
): command.types.input.remote.ConnectionArgs {
  return { host, user, privateKey, dialErrorLimit: 30, perDialTimeout: 10 };
}
