/** One JSON object per line on stderr: what journald and log shippers read best. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** For tests: drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
