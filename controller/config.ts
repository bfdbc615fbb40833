/**
 * The controller's configuration: one JSON file (CCO_CONTROLLER_CONFIG, by
 * default /etc/cco-controller/controller.json) written by the Pulumi program,
 * parsed and validated once at start. Secrets are not in it: they are files
 * systemd hands the unit as credentials (LoadCredential=), see secrets().
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,40}$/;

const schema = z.strictObject({
  /** owner/name of the repository the runners serve. */
  repo: z.string().regex(/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/, "owner/name"),
  /** GitHub's REST API (https://api.github.com, or GHES's /api/v3). */
  apiUrl: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, "an http(s) URL")
    .default("https://api.github.com"),
  /** Labels of every JIT runner (generate-jitconfig wants at least one). */
  labels: z.array(z.string().regex(LABEL, "a runner label")).min(1).max(100),
  /** Runner group: 1 is the Default group, the only one a repository has. */
  runnerGroupId: z.number().int().min(1).default(1),
  /** The clean snapshot every life starts from. */
  snapshot: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{1,39}$/, "a Proxmox snapshot name")
    .default("cco-clean"),
  /** The containers this controller drives (all on this node), and the base of each life's runner name. */
  runners: z
    .array(
      z.strictObject({
        vmid: z.number().int().min(100).max(999_999_999),
        name: z.string().regex(NAME, "a runner name"),
      }),
    )
    .min(1)
    .refine((rs) => new Set(rs.map((r) => r.vmid)).size === rs.length, "vmids must be unique")
    .refine((rs) => new Set(rs.map((r) => r.name)).size === rs.length, "names must be unique"),
  /** The pct binary (tests point it at a stand-in). */
  pct: z.string().min(1).default("/usr/sbin/pct"),
  /** Where the controller remembers each container's current runner id (for removal after a restart). */
  stateDir: z.string().min(1).default("/var/lib/cco-controller"),
  /** The script in the container that takes the JIT config on stdin. */
  handoff: z.string().min(1).default("/opt/cco/jit-handoff.sh"),
  /** /metrics (Prometheus text) listens here; port 0 turns it off. */
  metricsHost: z.string().default("127.0.0.1"),
  metricsPort: z.number().int().min(0).max(65535).default(9469),
  /** The stats service: a heartbeat per ready runner carries the controller's figures. Empty: none sent. */
  statsUrl: z.string().default(""),
  /**
   * The runner name the controller's own stats credential speaks for (the
   * service refuses any other): its heartbeats carry it, the slot in \`slot\`.
   * Empty: the slot's name (a shared token).
   */
  statsRunner: z
    .string()
    .regex(/^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a runner name or empty")
    .default(""),
  /** How often a running container's state is polled. */
  pollMs: z.number().int().min(50).max(60_000).default(500),
  /** How long a freshly started container may take to accept the hand-off. */
  handoffTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
});

export type ControllerConfig = z.infer<typeof schema>;
export type RunnerSlot = ControllerConfig["runners"][number];

/** Validates a parsed config file; the message names the field, the value and what is allowed. */
export function parseConfig(value: unknown): ControllerConfig {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.join(".") || "(top level)";
  let got: unknown = value;
  for (const k of issue.path) got = (got as Record<PropertyKey, unknown> | undefined)?.[k];
  throw new Error(`Invalid controller config ${path} = ${JSON.stringify(got)}: ${issue.message}`);
}

export function loadConfig(file: string): ControllerConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw new Error(`Invalid controller config: not JSON (${err.message})`, { cause: err });
  }
  return parseConfig(value);
}

export interface Secrets {
  /** Fine-grained token, this repository's Administration (read/write): makes JIT configs, removes runners. */
  githubToken: string;
  /** The controller's own stats credential (its heartbeats only), when figures are sent there. */
  ingestToken: string;
}

/**
 * The secrets, from systemd's credentials directory (LoadCredential= copies
 * them there, readable by this unit only) or, outside systemd, CCO_CONTROLLER_SECRETS_DIR.
 */
export function secrets(env: NodeJS.ProcessEnv = process.env): Secrets {
  const dir = env.CREDENTIALS_DIRECTORY ?? env.CCO_CONTROLLER_SECRETS_DIR;
  if (!dir)
    throw new Error(
      "no credentials: run under systemd (LoadCredential=github-token) or set CCO_CONTROLLER_SECRETS_DIR",
    );
  const read = (name: string, required: boolean) => {
    try {
      return readFileSync(join(dir, name), "utf8").trim();
    } catch (err) {
      if (required) throw new Error(`credential ${name} missing in ${dir}: ${(err as Error).message}`, { cause: err });
      return "";
    }
  };
  return { githubToken: read("github-token", true), ingestToken: read("ingest-token", false) };
}
