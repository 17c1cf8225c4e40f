// Fresh secrets for a deployment: the export signing key, the retrieval HMAC key, a portal
// token. Used by `diagnosis-server keys` and by `all`'s development defaults.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

export interface GeneratedSecrets {
  /** ECDSA_KEY: hex of the SEC1 DER P-256 private key. */
  ecdsaKey: string;
  /** The public half as PEM (SubjectPublicKeyInfo), to register with Apple and Google. */
  ecdsaPublicKeyPem: string;
  /** RETRIEVE_HMAC_KEY: 40 random bytes in hex, as production used. */
  retrieveHmacKey: string;
  /** A portal token for KEY_CLAIM_TOKEN. */
  claimToken: string;
  /** Basic auth of /events. */
  metricsUsername: string;
  metricsPassword: string;
}

export function publicKeyPem(ecdsaKeyHex: string): string {
  const privateKey = createPrivateKey({ key: Buffer.from(ecdsaKeyHex, 'hex'), format: 'der', type: 'sec1' });
  return createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
}

export function generateSecrets(): GeneratedSecrets {
  // Encoded by the generator: exporting a generated KeyObject can deadlock Node 20 (crypto/box.ts).
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { format: 'der', type: 'spki' },
    privateKeyEncoding: { format: 'der', type: 'sec1' },
  });
  const ecdsaKey = privateKey.toString('hex');
  return {
    ecdsaKey,
    ecdsaPublicKeyPem: publicKeyPem(ecdsaKey),
    retrieveHmacKey: randomBytes(40).toString('hex'),
    claimToken: randomBytes(24).toString('hex'),
    metricsUsername: `events-${randomBytes(4).toString('hex')}`,
    metricsPassword: randomBytes(18).toString('base64url'),
  };
}
