import { createHash, randomBytes, verify } from 'node:crypto';
import JSZip from 'jszip';
import { describe, expect, it } from 'vitest';
import { tempFolder } from '../helpers/temp-folder.js';
import { covidshield } from '../../generated/covidshield.js';
import { loadExportSigner } from '../../src/crypto/export-signer.js';
import { generateSecrets } from '../../src/crypto/key-generation.js';
import { buildExport } from '../../src/exports/build.js';
import { encodeKeys, encodePreamble } from '../../src/exports/key-file.js';
import type { DiagnosisKey } from '../../src/protocol/diagnosis-key.js';

const info = { verificationKeyVersion: 'v1', verificationKeyId: '302', signatureAlgorithm: '1.2.840.10045.4.3.2' };
const window = { startTimestamp: 1_700_000_000 - 86_400, endTimestamp: 1_700_000_000, region: 'CA' };
const key = (fields: Partial<DiagnosisKey> = {}): DiagnosisKey => ({
  keyData: randomBytes(16),
  rollingStartIntervalNumber: 2_833_200,
  rollingPeriod: 144,
  transmissionRiskLevel: 3,
  ...fields,
});
async function* batches(...lists: DiagnosisKey[][]) {
  yield* lists;
}

describe('key file encoding', () => {
  it('encodes keys byte for byte as protobufjs does with every field set', () => {
    const keys = [
      key(),
      key({ transmissionRiskLevel: 0, rollingPeriod: 1, rollingStartIntervalNumber: 1 }),
      key({ rollingStartIntervalNumber: 2 ** 31 - 1 }),
      key({ transmissionRiskLevel: -1 }),
    ];
    const expected = covidshield.TemporaryExposureKeyExport.encode({
      keys: keys.map((k) => ({ ...k, reportType: 1, daysSinceOnsetOfSymptoms: 0 })),
    }).finish();
    expect(encodeKeys(keys).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  });

  it('makes a preamble that decodes to the window and signature info', () => {
    const decoded = covidshield.TemporaryExposureKeyExport.decode(encodePreamble(window, [info]));
    expect(decoded).toMatchObject({ region: 'CA', batchNum: 1, batchSize: 1, signatureInfos: [info] });
    expect(Number(decoded.startTimestamp)).toBe(window.startTimestamp);
  });
});

describe('buildExport', () => {
  const secrets = generateSecrets();
  const signer = loadExportSigner(secrets.ecdsaKey);

  it('writes a zip that jszip reads, with a signature Node verifies', async () => {
    const keys = Array.from({ length: 2500 }, () => key());
    const built = await buildExport(window, [{ signatureInfo: info, signer }], batches(keys.slice(0, 1000), keys.slice(1000)));
    expect(built.keyCount).toBe(2500);
    const archive = await JSZip.loadAsync(built.zip, { checkCRC32: true });
    expect(Object.keys(archive.files)).toEqual(['export.bin', 'export.sig']);
    const bin = Buffer.from(await archive.file('export.bin')!.async('uint8array'));
    expect(bin.length).toBe(built.exportBinBytes);
    const exported = covidshield.TemporaryExposureKeyExport.decode(bin.subarray(16));
    expect(exported.keys.map((k) => Buffer.from(k.keyData!).toString('hex'))).toEqual(keys.map((k) => k.keyData.toString('hex')));
    const sig = covidshield.TEKSignatureList.decode(await archive.file('export.sig')!.async('uint8array'));
    expect(verify('sha256', bin, secrets.ecdsaPublicKeyPem, sig.signatures[0]!.signature!)).toBe(true);
  });

  it('gives the same bytes for the same keys, however they are batched, and others for other keys', async () => {
    const keys = Array.from({ length: 300 }, () => key());
    const a = await buildExport(window, [{ signatureInfo: info, signer }], batches(keys));
    const b = await buildExport(window, [{ signatureInfo: info, signer }], batches(keys.slice(0, 7), keys.slice(7)));
    expect(b.zip.equals(a.zip)).toBe(true);
    const c = await buildExport(window, [{ signatureInfo: info, signer }], batches(keys.slice(1)));
    expect(c.zip.equals(a.zip)).toBe(false);
  });

  it('accepts a PEM file path as the signing key', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { createPrivateKey } = await import('node:crypto');
    const dir = await tempFolder('export-key-');
    const pem = createPrivateKey({ key: Buffer.from(secrets.ecdsaKey, 'hex'), format: 'der', type: 'sec1' }).export({ format: 'pem', type: 'pkcs8' });
    await writeFile(`${dir}/key.pem`, pem);
    const fromPem = loadExportSigner(`${dir}/key.pem`);
    const digest = randomBytes(32);
    expect((await fromPem.signDigest(digest)).equals(await signer.signDigest(digest))).toBe(true);
    expect(() => loadExportSigner('00ff')).toThrow();
  });
});

describe('one signing key, one region: the bytes of before', () => {
  // A fixed P-256 key, keys and window; the hash is of the file that commit 687d460 (one
  // signature, before rotation and regions) built from them. Deterministic ECDSA makes the
  // whole zip reproducible, so any change to what is written shows here.
  const FIXED_KEY =
    '307702010104200bd20bfa725e95a453563cf97a710cf5a395e7a720b6295983e956c3a6255989a00a06082a8648ce3d030107a14403420004e3973add792b3d2934cec89615d06b440dc5a915a6afe148214eeda822f55d469d73123ed163a9a4b4098f0d9d6049cfdb98a40c17c03b5b3f7a94189e4453c2';
  const BEFORE = '98c52c4db88424e7cd4b116e5b62e294a54d6891901fca2da65aff02dacd4ef9';

  it('builds byte for byte the file the one-key server built', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => ({
      keyData: createHash('sha256').update(String(i)).digest().subarray(0, 16),
      rollingStartIntervalNumber: 2_833_200 - (i % 14) * 144,
      rollingPeriod: i % 7 === 0 ? 72 : 144,
      transmissionRiskLevel: i % 9,
    })).sort((a, b) => Buffer.compare(a.keyData, b.keyData));
    const built = await buildExport(
      window,
      [{ signatureInfo: info, signer: loadExportSigner(FIXED_KEY) }],
      batches(keys.slice(0, 100), keys.slice(100)),
    );
    expect(createHash('sha256').update(built.zip).digest('hex')).toBe(BEFORE);
  });
});
