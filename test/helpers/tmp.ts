import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temporary directory per test, removed afterwards. */
export function useTempDir(prefix = "cco-test-"): { readonly path: string } {
  const holder = { path: "" };
  beforeEach(async () => {
    holder.path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await rm(holder.path, { recursive: true, force: true });
  });
  return holder;
}
