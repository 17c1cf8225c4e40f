// NaCl crypto_box (Curve25519 + XSalsa20-Poly1305), the app's upload envelope.
//
// The costly half of box.open is the Curve25519 scalar multiplication. tweetnacl does it in
// JavaScript (~0.7 ms a call here); Node's OpenSSL does it in ~0.03 ms. So the curve runs
// in OpenSSL and only the cheap symmetric half (HSalsa20, XSalsa20-Poly1305: a few µs for
// an upload) runs in tweetnacl, which the app itself uses: ~10× faster than tweetnacl alone
// with no native add-on to build. bench/box-open.mjs measures the three candidates.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;

export interface BoxKeypair {
  publicKey: Buffer;
  privateKey: Buffer;
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

// An X25519 key in DER is a fixed prefix and the 32 raw bytes (RFC 8410).
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function rawKey(der: Buffer, prefix: Buffer): Buffer {
  if (der.length !== prefix.length + KEY_BYTES || !der.subarray(0, prefix.length).equals(prefix)) throw new Error('unexpected X25519 key encoding');
  return Buffer.from(der.subarray(prefix.length));
}

/**
 * A fresh server keypair for one patient. The keys come out of the generator already
 * encoded: generating a KeyObject and exporting it as a JWK deadlocks Node 20 now and then
 * (a garbage collection during the export destroys the generator job, which takes the
 * lock the export holds), and the process hangs for good; a loop of such calls hung
 * within seconds every time here.
 */
export function generateBoxKeypair(): BoxKeypair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519', {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  return { publicKey: rawKey(publicKey, SPKI_X25519_PREFIX), privateKey: rawKey(privateKey, PKCS8_X25519_PREFIX) };
}

// JWK import skips the public-key derivation a PKCS#8 import does (0.03 ms against 0.36 ms).
function privateKeyObject(privateKey: Uint8Array, publicKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(privateKey), x: b64url(publicKey) }, format: 'jwk' });
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(publicKey) }, format: 'jwk' });
}

// tweetnacl's typings omit the low-level functions it exports.
const { crypto_core_hsalsa20: hsalsa20 } = (
  nacl as unknown as { lowlevel: { crypto_core_hsalsa20: (out: Uint8Array, input: Uint8Array, key: Uint8Array, c: Uint8Array) => void } }
).lowlevel;
const ZERO_NONCE = new Uint8Array(16);
const SIGMA = new TextEncoder().encode('expand 32-byte k');

/** crypto_box_beforenm: HSalsa20 of the raw X25519 shared secret. */
function sharedKey(theirPublicKey: Uint8Array, ourPrivateKey: Uint8Array, ourPublicKey: Uint8Array): Uint8Array {
  const secret = diffieHellman({
    privateKey: privateKeyObject(ourPrivateKey, ourPublicKey),
    publicKey: publicKeyObject(theirPublicKey),
  });
  const key = new Uint8Array(32);
  hsalsa20(key, ZERO_NONCE, secret, SIGMA);
  return key;
}

/**
 * crypto_box_open in tweetnacl's layout (16-byte tag, then ciphertext; the nonce travels
 * apart). Returns undefined for anything that does not open, including low-order public
 * keys, which OpenSSL refuses outright.
 */
export function openBox(
  sealed: Uint8Array,
  nonce: Uint8Array,
  senderPublicKey: Uint8Array,
  recipientPrivateKey: Uint8Array,
  recipientPublicKey: Uint8Array,
): Uint8Array | undefined {
  if (nonce.length !== NONCE_BYTES || senderPublicKey.length !== KEY_BYTES || recipientPrivateKey.length !== KEY_BYTES) {
    return undefined;
  }
  let key: Uint8Array;
  try {
    key = sharedKey(senderPublicKey, recipientPrivateKey, recipientPublicKey);
  } catch {
    return undefined;
  }
  return nacl.box.open.after(sealed, nonce, key) ?? undefined;
}
