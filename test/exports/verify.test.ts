import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { verifyExport } from '../../src/exports/verify.js';
import { storedEntry, zip } from '../../src/exports/zip.js';

const dir = new URL('../fixtures/google-ens-sample/', import.meta.url);
const sample = readFileSync(new URL('testExport-2-records-1-of-1.zip', dir));
const publicKey = createPublicKey(readFileSync(new URL('public.pem', dir), 'utf8'));

describe('verify-export on Google’s signed sample', () => {
  it('accepts it and reports what is inside', async () => {
    const report = await verifyExport(sample, publicKey);
    expect(report).toMatchObject({ ok: true, problems: [], keys: 2, region: 'US', batch: '1 of 1', signatureValid: true });
    expect(report.signatureInfos).toEqual([{ version: '1', keyId: 'some_id', algorithm: '1.2.840.10045.4.3.2' }]);
  });

  it('rejects it after any single byte of export.bin is changed', async () => {
    const archive = await JSZip.loadAsync(sample);
    const bin = Buffer.from(await archive.file('export.bin')!.async('uint8array'));
    const sig = Buffer.from(await archive.file('export.sig')!.async('uint8array'));
    for (let i = 0; i < bin.length; i++) {
      const changed = Buffer.from(bin);
      changed[i]! ^= 0x01;
      const report = await verifyExport(zip([storedEntry('export.bin', changed), storedEntry('export.sig', sig)]), publicKey);
      expect(report.ok, `byte ${i}`).toBe(false);
      expect(report.signatureValid, `byte ${i}`).toBe(false);
    }
  });

  it('rejects entries out of order, a wrong key and garbage', async () => {
    const archive = await JSZip.loadAsync(sample);
    const bin = Buffer.from(await archive.file('export.bin')!.async('uint8array'));
    const sig = Buffer.from(await archive.file('export.sig')!.async('uint8array'));
    const swapped = await verifyExport(zip([storedEntry('export.sig', sig), storedEntry('export.bin', bin)]), publicKey);
    expect(swapped.ok).toBe(false);
    expect(swapped.problems.join()).toContain('zip entries');
    const { generateSecrets } = await import('../../src/crypto/key-generation.js');
    expect((await verifyExport(sample, createPublicKey(generateSecrets().ecdsaPublicKeyPem))).ok).toBe(false);
    expect((await verifyExport(Buffer.from('not a zip'), publicKey)).ok).toBe(false);
  });
});
