// Every vector of the EN cryptography in the shared spec (test-vectors.md).
import { describe, expect, it } from 'vitest';
import {
  associatedEncryptedMetadata,
  associatedEncryptedMetadataKey,
  rollingProximityIdentifierKey,
  rollingProximityIdentifiers,
} from '../../src/simulator/en-crypto.js';

const TEK = Buffer.from('75c734c6dd1a782de7a965da5eb93125', 'hex');
const FIRST_INTERVAL = 2642976; // 1585785600 s / 600
const METADATA = Buffer.from('40080000', 'hex');
const VECTORS: [number, string, string][] = [
  [0, '8be6cd371c5c891604bfbe49df845096', '72033874'],
  [1, '3c9a1de5dd6b02afa7fded7b570b3e56', 'c29211b1'],
  [15, '04cfaee41021cb7d4d020b306b24bea8', 'dc1f1906'],
  [143, 'f431b62ecf443102ce4ed0407de54bd4', '1215e57e'],
];

describe('EN cryptography', () => {
  it('derives the RPIK and AEMK', () => {
    expect(rollingProximityIdentifierKey(TEK).toString('hex')).toBe('185ad91db69ec7dd048960f1f3ba6175');
    expect(associatedEncryptedMetadataKey(TEK).toString('hex')).toBe('d57c46af7a1d83965b9bed8bd152936a');
  });

  it('derives every RPI and AEM of the vectors', () => {
    const rpis = rollingProximityIdentifiers(rollingProximityIdentifierKey(TEK), FIRST_INTERVAL);
    expect(rpis).toHaveLength(144);
    const aemk = associatedEncryptedMetadataKey(TEK);
    for (const [offset, rpi, aem] of VECTORS) {
      expect(rpis[offset]!.toString('hex'), `RPI +${offset}`).toBe(rpi);
      expect(associatedEncryptedMetadata(aemk, rpis[offset]!, METADATA).toString('hex'), `AEM +${offset}`).toBe(aem);
    }
    // One interval alone gives the same identifier as the batch.
    expect(rollingProximityIdentifiers(rollingProximityIdentifierKey(TEK), FIRST_INTERVAL + 15, 1)[0]!.toString('hex')).toBe(VECTORS[2]![1]);
  });
});
