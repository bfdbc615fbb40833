import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../infra/config";
import { placeholderPrivateKey, sshPublicKeyOf } from "../../infra/ssh";
import { testKeyPair } from "../helpers/ssh";

/** ssh-keygen's private key and its own public half (type and base64, no comment). */
function keygen(dir: string, name: string, ...args: string[]): { privateKey: string; publicKey: string } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-N", "", "-C", "made-by-ssh-keygen", "-f", file, ...args]);
  const publicKey = readFileSync(`${file}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
  return { privateKey: readFileSync(file, "utf8"), publicKey };
}

function refusal(value: string | undefined): ConfigError {
  try {
    sshPublicKeyOf(value);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected the key to be refused");
}

describe("ssh: the public key is derived from the private one", function () {
  this.timeout(60_000); // ssh-keygen makes RSA keys slowly on a loaded machine
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "cco-ssh-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // ssh-keygen's default (OpenSSH format) and PEM, each checked against the .pub ssh-keygen wrote.
  for (const [what, args] of [
    ["ed25519, OpenSSH format", ["-t", "ed25519"]],
    ["ECDSA P-256, OpenSSH format", ["-t", "ecdsa", "-b", "256"]],
    ["RSA 3072, OpenSSH format", ["-t", "rsa", "-b", "3072"]],
    ["RSA 2048, PEM (PKCS#1)", ["-t", "rsa", "-b", "2048", "-m", "PEM"]],
    ["ECDSA P-384, PKCS#8", ["-t", "ecdsa", "-b", "384", "-m", "PKCS8"]],
  ] as const) {
    it(`reads ${what} as ssh-keygen writes it`, () => {
      const pair = keygen(dir, what.replace(/\W+/g, "-"), ...args);
      expect(sshPublicKeyOf(pair.privateKey)).to.equal(`${pair.publicKey} cco-provisioning`);
    });
  }

  it("reads a PKCS#8 PEM Ed25519 key as node:crypto writes it", () => {
    const pair = testKeyPair();
    expect(sshPublicKeyOf(pair.privateKey)).to.equal(`${pair.publicKey} cco-provisioning`);
  });

  it("refuses a missing, public, encrypted or garbled key, and never shows the value", () => {
    const encrypted = join(dir, "encrypted");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", encrypted]);
    const { privateKey } = testKeyPair();
    const cases: [string | undefined, RegExp][] = [
      [undefined, /\(required\)/],
      ["  \n", /\(required\)/],
      [
        readFileSync(`${encrypted}.pub`, "utf8"),
        /\(that is a public key: set the private half, the public one is derived from it\)/,
      ],
      [readFileSync(encrypted, "utf8"), /\(encrypted with a passphrase: Pulumi provisions without one/],
      [
        privateKey.replace(/\n[A-Za-z0-9+/]{8}/, "\nAAAAAAAA").slice(0, 60),
        /\(not a private key in a format this program reads\)/,
      ],
    ];
    for (const [value, problem] of cases) {
      const err = refusal(value);
      expect(err.key).to.equal("sshPrivateKey");
      expect(err.message).to.match(/^Invalid config cco-infra:sshPrivateKey = "\[secret\]" /);
      expect(err.message).to.match(problem);
      expect(err.message).to.match(
        /Allowed: an unencrypted SSH private key \(ed25519, ECDSA or RSA; OpenSSH or PEM format\), set with pulumi config set --secret\.$/,
      );
      if (value?.trim()) expect(err.message).to.not.include(value.trim().split("\n")[1] ?? value.trim());
    }
  });

  it("makes the plan's placeholder key from its label, the same on every run", () => {
    const key = placeholderPrivateKey("cco-infra offline plan");
    expect(key).to.match(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(placeholderPrivateKey("cco-infra offline plan")).to.equal(key);
    expect(placeholderPrivateKey("another label")).to.not.equal(key);
    expect(sshPublicKeyOf(key)).to.match(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} cco-provisioning$/);
  });
});
