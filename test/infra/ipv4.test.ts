import { expect } from "chai";
import { cidrContains, formatIpv4, isHostAddress, parseCidr, parseIpv4 } from "../../infra/ipv4";

describe("ipv4: address arithmetic", () => {
  it("parses and formats dotted quads", () => {
    expect(formatIpv4(parseIpv4("192.168.1.200")! + 9)).to.equal("192.168.1.209");
    expect(parseIpv4("255.255.255.255")).to.equal(2 ** 32 - 1);
    for (const bad of ["256.1.1.1", "1.2.3", "01.2.3.4", "a.b.c.d", "1.2.3.4 "])
      expect(parseIpv4(bad), bad).to.equal(undefined);
  });

  it("knows blocks, their network and broadcast addresses", () => {
    const c = parseCidr("10.0.0.0/30")!;
    expect(cidrContains(c, parseIpv4("10.0.0.3")!)).to.equal(true);
    expect(cidrContains(c, parseIpv4("10.0.0.4")!)).to.equal(false);
    expect(isHostAddress(c, parseIpv4("10.0.0.0")!)).to.equal(false);
    expect(isHostAddress(c, parseIpv4("10.0.0.3")!)).to.equal(false);
    expect(isHostAddress(c, parseIpv4("10.0.0.2")!)).to.equal(true);
    expect(parseCidr("10.0.0.1/30")).to.equal(undefined);
    expect(parseCidr("10.0.0.0/33")).to.equal(undefined);
  });
});
