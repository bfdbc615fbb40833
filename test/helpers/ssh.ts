/**
 * A provisioning key pair for tests, made fresh with node:crypto, and its
 * public half in OpenSSH form worked out here from the key's SPKI (RFC 8410:
 * the raw 32-byte key ends it; RFC 8709: "ssh-ed25519" then the key, each as
 * an SSH string), independently of sshpk, which infra/ssh.ts uses.
 */
import { generateKeyPairSync } from "node:crypto";

function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function testKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(raw)]);
  return {
    privateKey: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKey: `ssh-ed25519 ${blob.toString("base64")}`,
  };
}
