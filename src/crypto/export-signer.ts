// ECDSA P-256 signatures of export files. Deterministic (RFC 6979, via @noble/curves):
// the same export.bin always gets the same signature, so every replica, and every
// rebuild after a restart, serves byte-identical files without sharing any state.
// OpenSSL's ECDSA draws a random nonce and would give a new signature on every build.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as Nist from '@noble/curves/nist.js';

export interface ExportSigner {
  /** DER-encoded signature of a SHA-256 digest. */
  signDigest(digest: Uint8Array): Promise<Buffer>;
  publicKey: KeyObject;
}

// The curve library loads with the first signature rather than at start-up, where it was
// most of what loading the signers cost (13–24 ms here): a server listens before it builds
// its first export. The key itself is checked at start-up, with node:crypto.
let curve: Promise<typeof Nist> | undefined;
const nist = () => (curve ??= import('@noble/curves/nist.js'));

/** `ECDSA_KEY`: hex of a SEC1 DER P-256 private key, or the path of a PEM file. */
export function loadExportSigner(ecdsaKey: string): ExportSigner {
  let privateKey: KeyObject;
  if (/^([0-9a-fA-F]{2})+$/.test(ecdsaKey)) {
    privateKey = createPrivateKey({ key: Buffer.from(ecdsaKey, 'hex'), format: 'der', type: 'sec1' });
  } else {
    privateKey = createPrivateKey(readFileSync(ecdsaKey, 'utf8'));
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('not a P-256 (prime256v1) private key');
  }
  const scalar = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  return {
    signDigest: async (digest) => Buffer.from((await nist()).p256.sign(digest, scalar, { prehash: false, format: 'der' })),
    publicKey: createPublicKey(privateKey),
  };
}
