/**
 * The baseline of the HTTP bench: a bare node:http server that sends the
 * same bytes with the same headers as the service's /api/stats, and does
 * nothing else. Reads them from BENCH_RESPONSE (a JSON file: headers, body).
 */
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";

const { headers, body } = JSON.parse(readFileSync(process.env.BENCH_RESPONSE!, "utf8")) as {
  headers: Record<string, string>;
  body: string;
};
// A string body, like the service's: Node then sends headers and body in one write.
const length = Buffer.byteLength(body);
const server = createServer((_req, res) => {
  res.writeHead(200, { ...headers, "content-length": length });
  res.end(body);
});
server.listen(0, "127.0.0.1", () => {
  // Same line shape as the service's log, so the same helper finds the URL.
  process.stderr.write(
    `${JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`,
  );
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
