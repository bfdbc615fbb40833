/**
 * What the runner and stats components share to provision a container over
 * SSH: the files to copy (a directory named by their content hash, so a copy
 * never lands on an older one), the parameters file (KEY=value data, never
 * code), and the connection.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";

export const RUNNER_FILES = join(__dirname, "runners", "files");
export const STATS_FILES = join(__dirname, "stats", "files");

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
  /** Remote directory the files are copied to: /root/cco-provision-<hash>. */
  remoteDir: string;
  hash: string;
  archive: pulumi.asset.AssetArchive;
}

/** The files (name -> source) as one archive, named by the hash of everything in it. */
export function provisionBundle(files: Record<string, ProvisionFile>): ProvisionBundle {
  const hash = createHash("sha256");
  const assets: Record<string, pulumi.asset.Asset> = {};
  for (const name of Object.keys(files).sort()) {
    const f = files[name]!;
    const content = "path" in f ? readFileSync(f.path) : f.text;
    hash.update(name).update("\0").update(content).update("\0");
    assets[name] = "path" in f ? new pulumi.asset.FileAsset(f.path) : new pulumi.asset.StringAsset(f.text);
  }
  const digest = hash.digest("hex").slice(0, 16);
  return { remoteDir: `/root/cco-provision-${digest}`, hash: digest, archive: new pulumi.asset.AssetArchive(assets) };
}

/** Runs the provisioning script of a bundle, then removes older copies. */
export function provisionCommand(bundle: ProvisionBundle, script: string): string {
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
