/**
 * A TCP probe for the LXC end-to-end test, run inside a network namespace:
 *   node --import tsx test/lxc/connect.ts HOST PORT [LOCAL_ADDRESS]
 * Prints "connected: <first line the server sent>" and exits 0, or prints
 * "failed: <reason>" and exits 1 (refused, or no answer within 3 seconds).
 */
import * as net from "node:net";

const [host, port, localAddress] = process.argv.slice(2);
if (!host || !port) {
  console.error("usage: connect.ts HOST PORT [LOCAL_ADDRESS]");
  process.exit(2);
}
const socket = net.connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
const done = (ok: boolean, text: string) => {
  console.log(`${ok ? "connected" : "failed"}: ${text}`);
  socket.destroy();
  process.exit(ok ? 0 : 1);
};
socket.setTimeout(3000, () => done(false, "timeout"));
socket.on("error", (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
let received = "";
socket.on("data", (d: Buffer) => {
  received += d.toString("utf8");
  if (received.includes("\n")) done(true, received.split(/\r?\n/)[0]!);
});
socket.on("end", () => done(true, received.trim() || "(closed without data)"));
