/**
 * The provisioning key pair. Only the private half is configured (the secret
 * cco-infra:sshPrivateKey); the public half that Proxmox installs in every
 * container is derived from it here, so the two can never disagree.
 *
 * sshpk reads every format ssh-keygen writes and the command provider accepts
 * (OpenSSH's own, and PEM: PKCS#1, PKCS#8, SEC1); node:crypto cannot read the
 * OpenSSH format, which is ssh-keygen's default.
 */
import { createHash, createPrivateKey } from "node:crypto";
import * as sshpk from "sshpk";
import { ConfigError } from "./config";

export const SSH_PRIVATE_KEY = "sshPrivateKey";

/** The comment of the derived public key, as authorized_keys in a container shows it. */
export const SSH_KEY_COMMENT = "cco-provisioning";

const ALLOWED =
  "an unencrypted SSH private key (ed25519, ECDSA or RSA; OpenSSH or PEM format), set with pulumi config set --secret";
const TYPES = new Set(["ed25519", "ecdsa", "rsa"]);

/** What a refused key is shown as: never its value. */
const refuse = (problem: string): never => {
  throw new ConfigError(SSH_PRIVATE_KEY, "[secret]", ALLOWED, problem);
};

/**
 * The OpenSSH public key ("ssh-ed25519 AAAA... cco-provisioning") of the
 * configured private key. Throws ConfigError (which never shows the key) when
 * it is missing, not a private key, encrypted, or of a type OpenSSH refuses.
 */
export function sshPublicKeyOf(privateKey: string | undefined): string {
  if (privateKey === undefined || privateKey.trim() === "") return refuse("required");
  if (/^(ssh-|ecdsa-sha2-)/.test(privateKey.trim()))
    return refuse("that is a public key: set the private half, the public one is derived from it");
  let key: sshpk.PrivateKey;
  try {
    key = sshpk.parsePrivateKey(privateKey, "auto");
  } catch (err) {
    // sshpk's own messages are not shown: they could quote the value.
    if (err instanceof sshpk.KeyEncryptedError)
      return refuse("encrypted with a passphrase: Pulumi provisions without one, so store it decrypted (as a secret)");
    return refuse("not a private key in a format this program reads");
  }
  if (!TYPES.has(key.type)) return refuse(`a ${key.type} key, which OpenSSH no longer accepts`);
  const pub = key.toPublic();
  pub.comment = SSH_KEY_COMMENT;
  return pub.toString("ssh");
}

/**
 * The private key the offline plan stands in for the secret with: an Ed25519
 * key whose seed is the hash of `label`, so the plan shows the same public key
 * on every run. It is made here, never stored, and nothing trusts it.
 */
export function placeholderPrivateKey(label: string): string {
  const seed = createHash("sha256").update(label).digest();
  // PKCS#8 PrivateKeyInfo of an Ed25519 key (RFC 8410, section 7), the 32-byte seed last.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" })
    .export({ format: "pem", type: "pkcs8" })
    .toString();
}
