/**
 * The "internet" of the LXC end-to-end test: run inside its network namespace
 * (`ip netns exec <ns> node --import tsx test/lxc/internet.ts`), it listens on
 * every address of that namespace:
 *   443  HTTPS with a certificate of the test's CA for every name the test uses
 *        (each handshake is logged with its SNI);
 *        serves the runner tarball at its release URL path (github.com answers
 *        with a redirect to release-assets.githubusercontent.com, as GitHub does),
 *        /stream as a slow download (a line every 100 ms for a minute),
 *        anything else with "ok <host>";
 *   80   the same over plain HTTP;
 *   22   a TCP banner, like an SSH server;
 *   3128 a stand-in for the egress gateway's port: logs the request line, answers 403.
 * Every connection and request is one JSON line on stdout (the test's evidence
 * of what reached the internet). Parameters come from the environment:
 * CCO_E2E_CERT, CCO_E2E_KEY (PEM files), CCO_E2E_TARBALL (file),
 * CCO_E2E_TARBALL_PATH (URL path), CCO_E2E_REDIRECT_HOST.
 */
import { createReadStream, readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const tarball = env("CCO_E2E_TARBALL");
const tarballPath = env("CCO_E2E_TARBALL_PATH");
const redirectHost = env("CCO_E2E_REDIRECT_HOST");

const record = (entry: Record<string, unknown>) =>
  process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), ...entry }) + "\n");

function handler(scheme: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "");
    record({
      kind: "request",
      scheme,
      host,
      path: req.url,
      remote: req.socket.remoteAddress,
      local: req.socket.localAddress,
    });
    if (req.url === "/stream") {
      // A long download: a line every 100 ms for up to a minute (the test's open connection).
      res.writeHead(200, { "content-type": "text/plain" });
      let n = 0;
      const timer = setInterval(() => {
        res.write(`${n}\n`);
        if (++n >= 600) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      res.on("close", () => clearInterval(timer));
      return;
    }
    if (req.url === tarballPath && host !== redirectHost) {
      res.writeHead(302, { location: `https://${redirectHost}${tarballPath}` }).end();
    } else if (req.url === tarballPath) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      createReadStream(tarball).pipe(res);
    } else {
      res.writeHead(200, { "content-type": "text/plain" }).end(`ok ${host}\n`);
    }
  };
}

const tls = https.createServer(
  { cert: readFileSync(env("CCO_E2E_CERT")), key: readFileSync(env("CCO_E2E_KEY")) },
  handler("https"),
);
// Every TLS handshake too, with its SNI: a tunnel that sends no request still shows.
tls.on("secureConnection", (socket: import("node:tls").TLSSocket) =>
  record({
    kind: "tls",
    servername: socket.servername || null,
    remote: socket.remoteAddress,
    local: socket.localAddress,
  }),
);
const plain = http.createServer(handler("http"));
const banner = net.createServer((socket) => {
  record({ kind: "connect", port: 22, remote: socket.remoteAddress, local: socket.localAddress });
  socket.on("error", () => undefined);
  socket.end("SSH-2.0-cco-e2e-internet\r\n");
});

// Where the egress gateway's port would be (3128): records the first request line a
// client sends a proxy (CONNECT name:443, GET http://name/) and refuses it. The
// gateway's own behaviour is test/infra/egress/gateway-e2e.test.ts's.
const proxyPort = net.createServer((socket) => {
  let head = "";
  socket.on("error", () => undefined);
  socket.on("data", (d) => {
    if (head.includes("\r\n")) return;
    head += d.toString("latin1");
    if (!head.includes("\r\n")) return;
    record({
      kind: "proxy",
      line: head.slice(0, head.indexOf("\r\n")),
      remote: socket.remoteAddress,
      local: socket.localAddress,
    });
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
});

const listening = [
  [tls, 443],
  [plain, 80],
  [banner, 22],
  [proxyPort, 3128],
] as const;
let pending = listening.length;
for (const [server, port] of listening) {
  server.on("error", (err) => {
    console.error(`listen ${port}: ${err.message}`);
    process.exit(1);
  });
  // "::" without ipv6Only: IPv4 and IPv6 on every address of the namespace.
  server.listen({ port, host: "::" }, () => {
    if (--pending === 0) record({ kind: "ready" });
  });
}
process.on("SIGTERM", () => process.exit(0));
