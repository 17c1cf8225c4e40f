// Comparing and hiding secrets.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality for secrets of any length: both sides are hashed first so that
 * neither the content nor the length of the expected value leaks through timing.
 */
export function secretsEqual(given: string | Uint8Array, expected: string | Uint8Array): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Keyed hash of a client address: the ban counter never stores the address itself. */
export function clientIdentifier(address: string, key: Uint8Array): string {
  return createHmac('sha256', key).update(address).digest('hex');
}

/** A short stable name for a secret that may be shown where the secret itself may not. */
export function fingerprint(secret: string): string {
  return 'sha256:' + createHash('sha256').update(secret).digest('hex').slice(0, 12);
}

/** Keyed hash of a one-time code, by which a repeated claim is recognised. */
export function codeFingerprint(code: string, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(code).digest();
}
