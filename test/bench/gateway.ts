/**
 * Figure 7 of `npm run bench`: the egress gateway on the data path.
 *   - a 200 MB download over TLS from the runner's namespace through the
 *     gateway (squid in its LXC container, deployed by its own scripts) against
 *     the same download straight to the server, in pairs (one of each, back to
 *     back, their order alternating) in the same run: the ratio is the median
 *     of the pairs' ratios, so a load swing of the shared machine between
 *     pairs does not count as the gateway's;
 *   - the time the gateway adds to a new connection: curl's time to a finished
 *     TLS handshake (time_appconnect) through it and without it, p50 and p99.
 * The network is test/helpers/gateway-lab.ts's (TEST-NET addresses in network
 * namespaces); for the baseline the emulated host firewall lets the runner
 * reach the server directly on 443. Needs root and LXC: index.ts runs this file
 * under the shared LXC lock and prints "skipped" where the machine cannot.
 * Prints progress, then one line `RESULT <json>`.
 */
import { GatewayLab, GW } from "../helpers/gateway-lab";
import { must } from "../helpers/lxc";

const PAYLOAD_BYTES = 200 * 1024 * 1024;
/** Pairs of downloads, the two of a pair back to back (their order alternating), so each pair shares the machine's load. */
const ROUNDS = 7;
const HANDSHAKES = 60;

export interface GatewayFigures {
  direct: number[];
  proxied: number[];
  /** seconds to a finished TLS handshake */
  directConnect: number[];
  proxiedConnect: number[];
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
export const p50 = (xs: number[]) => quantile(xs, 0.5);
export const p99 = (xs: number[]) => quantile(xs, 0.99);

function measure(lab: GatewayLab): GatewayFigures {
  const url = "https://github.com/payload.bin";
  const direct = ["--resolve", `github.com:443:${GW.records["github.com"]}`];
  const viaGateway = ["-x", `http://${GW.gateway}:${GW.port}`];
  const curl = (route: string[], path: string, write: string) =>
    must(
      "ip",
      [
        "netns",
        "exec",
        GW.runnerNs,
        "curl",
        "-sS",
        "--max-time",
        "120",
        "--cacert",
        lab.ca("ca.crt"),
        ...route,
        "-o",
        "/dev/null",
        "-w",
        write,
        path,
      ],
      { timeoutMs: 130_000 },
    );
  const out: GatewayFigures = { direct: [], proxied: [], directConnect: [], proxiedConnect: [] };
  // The baseline's way out: what the host firewall would never allow a runner.
  must("ip", [
    "netns",
    "exec",
    GW.inet,
    "iptables",
    "-I",
    "INPUT",
    "1",
    "-i",
    GW.runPeer,
    "-p",
    "tcp",
    "--dport",
    "443",
    "-j",
    "ACCEPT",
  ]);
  for (let i = 0; i < ROUNDS; i++) {
    const pair = [
      [direct, out.direct],
      [viaGateway, out.proxied],
    ] as const;
    for (const [route, into] of i % 2 === 0 ? pair : [...pair].reverse()) {
      const [bytes, speed] = curl(route, url, "%{size_download} %{speed_download}").trim().split(" ").map(Number);
      if (bytes !== PAYLOAD_BYTES) throw new Error(`downloaded ${bytes} bytes, expected ${PAYLOAD_BYTES}`);
      into.push(speed!);
      process.stdout.write(
        `  round ${i + 1}: ${route === direct ? "direct " : "gateway"} ${(speed! / 1e6).toFixed(0)} MB/s\n`,
      );
    }
  }
  for (let i = 0; i < HANDSHAKES; i++) {
    out.directConnect.push(Number(curl(direct, "https://github.com/", "%{time_appconnect}")));
    out.proxiedConnect.push(Number(curl(viaGateway, "https://github.com/", "%{time_appconnect}")));
  }
  return out;
}

if (require.main === module) {
  const lab = new GatewayLab({ payloadBytes: PAYLOAD_BYTES, payloadPath: "/payload.bin" });
  try {
    process.stdout.write("  setting up the gateway lab (container, network, 200 MB payload)\n");
    lab.setUp();
    const r = lab.provision();
    if (r.status !== 0) throw new Error(`provision-gateway.sh failed:\n${r.stdout}\n${r.stderr}`);
    process.stdout.write(`RESULT ${JSON.stringify(measure(lab))}\n`);
  } finally {
    lab.close();
  }
}
