/**
 * The stats service as one JavaScript file (esbuild): what the StatsService
 * component copies into its container, and what the bench runs.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { checkDashboardAssets } from "./dashboard-assets";

export const SERVICE_ENTRY = join(__dirname, "..", "..", "service", "main.ts");

export interface Bundle {
  path: string;
  sha256: string;
  bytes: number;
}

/** Node version the bundle targets: the oldest the service supports. */
export const BUNDLE_TARGET = "node20";

export function bundleStatsService(outfile: string): Bundle {
  // Built by the build step (npm ci, npm test...), never here: a deploy refuses stale ones.
  checkDashboardAssets();
  return bundleNodeProgram(SERVICE_ENTRY, outfile);
}

/** A runtime program (the stats service, the controller) as one minified CommonJS file for Node. */
export function bundleNodeProgram(entry: string, outfile: string): Bundle {
  buildSync({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: BUNDLE_TARGET,
    format: "cjs",
    minify: true,
    // No keepNames: it wraps every closure a request creates in a __name()
    // call (Object.defineProperty), which cost 25% of /api/stats throughput.
    legalComments: "none",
    logLevel: "error",
  });
  const content = readFileSync(outfile);
  return { path: outfile, sha256: createHash("sha256").update(content).digest("hex"), bytes: content.length };
}
