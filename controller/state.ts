/**
 * What the controller must remember across its own restarts: the GitHub id of
 * each container's current runner, so that a runner that never got its job is
 * removed from GitHub before its container is rolled back (no offline ghosts).
 * One small JSON file per container, replaced atomically.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Current {
  runnerId: number;
  lifeRunner: string;
}

export class RunnerState {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private file(vmid: number): string {
    return join(this.dir, `${vmid}.json`);
  }

  get(vmid: number): Current | undefined {
    try {
      const v = JSON.parse(readFileSync(this.file(vmid), "utf8")) as Current;
      return typeof v.runnerId === "number" && typeof v.lifeRunner === "string" ? v : undefined;
    } catch {
      return undefined;
    }
  }

  set(vmid: number, current: Current): void {
    const tmp = `${this.file(vmid)}.tmp`;
    writeFileSync(tmp, JSON.stringify(current), { mode: 0o600 });
    renameSync(tmp, this.file(vmid));
  }

  clear(vmid: number): void {
    rmSync(this.file(vmid), { force: true });
  }
}
