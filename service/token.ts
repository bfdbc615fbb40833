/**
 * The ingest token: from STATS_INGEST_TOKEN, or generated once and kept in the
 * data dir (mode 0600) so that restarts and local forwarders agree on it.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "./log";

export const TOKEN_FILE = "ingest-token";

export async function resolveIngestToken(dataDir: string, fromEnv: string | undefined, log: Logger): Promise<string> {
  if (fromEnv !== undefined) {
    if (fromEnv.length < 16) log.warn("STATS_INGEST_TOKEN is shorter than 16 characters: easy to guess");
    return fromEnv;
  }
  const path = join(dataDir, TOKEN_FILE);
  const generated = randomBytes(32).toString("base64url");
  try {
    // "wx": never overwrite a token that forwarders already use.
    await writeFile(path, `${generated}\n`, { mode: 0o600, flag: "wx" });
    log.info("generated an ingest token (STATS_INGEST_TOKEN unset)", { path });
    return generated;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const token = (await readFile(path, "utf8")).trim();
  if (token === "") throw new Error(`${path} is empty: delete it to generate a new token`);
  log.info("using the ingest token kept in the data dir (STATS_INGEST_TOKEN unset)", { path });
  return token;
}
