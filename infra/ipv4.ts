/** IPv4 addresses as 32-bit numbers: enough arithmetic for an address plan. */

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The address as a number, or undefined if it is not a dotted quad. */
export function parseIpv4(text: string): number | undefined {
  const m = OCTETS.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith("0")))) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface Cidr {
  network: number;
  prefix: number;
  /** The broadcast address (last of the block). */
  broadcast: number;
  text: string;
}

/** `a.b.c.d/p` whose host bits are zero, or undefined. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, extra] = text.split("/");
  if (addr === undefined || bits === undefined || extra !== undefined || !/^\d{1,2}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  const network = parseIpv4(addr);
  if (network === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (network % size !== 0) return undefined;
  return { network, prefix, broadcast: network + size - 1, text };
}

export function cidrContains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.network && ip <= cidr.broadcast;
}

/** An address a host may use in this block: not the network or broadcast address (for /30 and wider). */
export function isHostAddress(cidr: Cidr, ip: number): boolean {
  if (!cidrContains(cidr, ip)) return false;
  return cidr.prefix >= 31 || (ip !== cidr.network && ip !== cidr.broadcast);
}
