/**
 * The ephemeral-runner controller (controller/) as one JavaScript file, built
 * as the stats service is (infra/stats/bundle.ts): what is copied to each
 * Proxmox node and run by cco-controller.service.
 */
import { join } from "node:path";
import { bundleNodeProgram, type Bundle } from "../stats/bundle";

export const CONTROLLER_ENTRY = join(__dirname, "..", "..", "controller", "main.ts");

export function bundleController(outfile: string): Bundle {
  return bundleNodeProgram(CONTROLLER_ENTRY, outfile);
}
