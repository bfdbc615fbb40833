/**
 * The subset of Proxmox's `pct` the controller drives, run locally on the
 * node (pve-container, src/PVE/CLI/pct.pm at 94f5585, June 2026):
 *
 * - `pct status <vmid>` prints "status: <running|stopped>" (pct.pm, sub status:
 *   `print "status: $status\n"`, the state from PVE::LXC::vmstatus);
 * - `pct start|stop|rollback|snapshot <vmid> [<snapname>]` run the API's
 *   worker and exit 0, or non-zero when the task failed (pct.pm $upid_exit).
 *   `stop` is a hard stop (PVE::API2::LXC::Status vm_stop calls
 *   PVE::LXC::vm_stop($vmid, 1): `lxc-stop --kill`); `start` fails on a running
 *   container ("CT <vmid> already running"); `rollback` stops a running
 *   container first (PVE::LXC::Config __snapshot_rollback_vm_stop), then rolls
 *   every volume back (PVE::Storage::volume_snapshot_rollback) and restores the
 *   snapshot's config;
 * - `pct exec <vmid> --keep-env 0 -- <cmd>...` is `lxc-attach -n <vmid>
 *   --clear-env -- <cmd>...` with our stdin (pct.pm, sub exec; the keep-env
 *   option exists since pve-container commit 069553d, February 2024): the
 *   controller's own environment never reaches the container.
 */
import { spawn } from "node:child_process";

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class PctError extends Error {}

/** Runs one command to its end, input on stdin, with a time limit. */
export function runCommand(cmd: string, args: readonly string[], input = "", timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve) => {
    // The controller's environment holds no secret (they are credential files); pct exec --keep-env 0 keeps it out of containers.
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + err.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => undefined); // the command may exit without reading
    child.stdin.end(input);
  });
}

export type ContainerState = "running" | "stopped";

/** "status: running" -> running; anything else is an error (a typo'd vmid, pct missing). */
export function parseStatus(stdout: string): ContainerState {
  const m = /^status: (\S+)\s*$/m.exec(stdout);
  if (m?.[1] === "running" || m?.[1] === "stopped") return m[1];
  throw new PctError(`unexpected pct status output: ${JSON.stringify(stdout.slice(0, 200))}`);
}

export class Pct {
  constructor(
    private readonly bin: string,
    private readonly run: typeof runCommand = runCommand,
  ) {}

  private async must(args: string[], input = ""): Promise<Result> {
    const r = await this.run(this.bin, args, input);
    if (r.code !== 0)
      throw new PctError(`pct ${args.join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  async status(vmid: number): Promise<ContainerState> {
    return parseStatus((await this.must(["status", String(vmid)])).stdout);
  }

  async start(vmid: number): Promise<void> {
    await this.must(["start", String(vmid)]);
  }

  async stop(vmid: number): Promise<void> {
    await this.must(["stop", String(vmid)]);
  }

  async rollback(vmid: number, snapshot: string): Promise<void> {
    await this.must(["rollback", String(vmid), snapshot]);
  }

  async snapshot(vmid: number, snapshot: string): Promise<void> {
    await this.must(["snapshot", String(vmid), snapshot]);
  }

  /** Runs a command in the container with INPUT on stdin; the result as it came (the caller decides). */
  exec(vmid: number, argv: readonly string[], input: string): Promise<Result> {
    return this.run(this.bin, ["exec", String(vmid), "--keep-env", "0", "--", ...argv], input);
  }
}
