// The phone side of the Exposure Notification cryptography (Apple/Google EN Cryptography
// Specification v1.2): what a phone broadcasts, derived from its Temporary Exposure Key.
import { createCipheriv, hkdfSync } from 'node:crypto';

export const INTERVALS_PER_KEY = 144;
const EMPTY = Buffer.alloc(0);
const RPI_PREFIX = Buffer.from('EN-RPI', 'ascii');

/** RPIK = HKDF-SHA256(TEK, no salt, "EN-RPIK", 16 bytes). */
export function rollingProximityIdentifierKey(tek: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', tek, EMPTY, 'EN-RPIK', 16));
}

/** AEMK = HKDF-SHA256(TEK, no salt, "EN-AEMK", 16 bytes). */
export function associatedEncryptedMetadataKey(tek: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', tek, EMPTY, 'EN-AEMK', 16));
}

/**
 * RPI_j = AES-128(RPIK, "EN-RPI" ‖ 6 zero bytes ‖ ENIntervalNumber_j little-endian), for
 * `count` intervals from `firstInterval`: one ECB pass over all the padded blocks.
 */
export function rollingProximityIdentifiers(rpik: Uint8Array, firstInterval: number, count = INTERVALS_PER_KEY): Buffer[] {
  const blocks = Buffer.alloc(16 * count);
  for (let i = 0; i < count; i++) {
    RPI_PREFIX.copy(blocks, 16 * i);
    blocks.writeUInt32LE((firstInterval + i) >>> 0, 16 * i + 12);
  }
  const cipher = createCipheriv('aes-128-ecb', rpik, null).setAutoPadding(false);
  const encrypted = Buffer.concat([cipher.update(blocks), cipher.final()]);
  return Array.from({ length: count }, (_, i) => encrypted.subarray(16 * i, 16 * i + 16));
}

/** AEM = AES-128-CTR(AEMK, IV = RPI, metadata). */
export function associatedEncryptedMetadata(aemk: Uint8Array, rpi: Uint8Array, metadata: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-128-ctr', aemk, rpi);
  return Buffer.concat([cipher.update(metadata), cipher.final()]);
}
