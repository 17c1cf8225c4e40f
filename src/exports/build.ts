// Builds a signed key file (zip of export.bin and export.sig) from key batches handed to
// it. It knows no HTTP and no SQL. export.bin is never held whole: each batch is encoded,
// hashed for the signature, CRC'd for the zip and deflated, then dropped, so memory holds
// one batch of keys plus the compressed output.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { crc32, createDeflateRaw } from 'node:zlib';
import type { ExportSigner } from '../crypto/export-signer.js';
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';
import { encodeKeys, encodePreamble, encodeSignatureList, EXPORT_HEADER, type ExportWindow, type SignatureInfo } from './key-file.js';
import { storedEntry, zip } from './zip.js';

/** A key that signs files, with the signature info Apple and Google registered for it. */
export interface SigningKey {
  signatureInfo: SignatureInfo;
  signer: ExportSigner;
}

export interface BuiltExport {
  zip: Buffer;
  keyCount: number;
  /** Size of export.bin before compression. */
  exportBinBytes: number;
}

/**
 * Signed by every key in `signingKeys`, in that order: several while a signing key is
 * rotated, so that phones that trust either key accept the file.
 */
export async function buildExport(
  window: ExportWindow,
  signingKeys: readonly SigningKey[],
  keyBatches: AsyncIterable<readonly DiagnosisKey[]>,
): Promise<BuiltExport> {
  if (signingKeys.length === 0) throw new Error('a key file needs at least one signing key');
  const digest = createHash('sha256');
  // Level 5 compresses key files as small as 6 does (random key bytes dominate), in 60% of the time.
  const deflate = createDeflateRaw({ level: 5 });
  const compressed: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => compressed.push(chunk));
  let crc = 0;
  let size = 0;
  let keyCount = 0;

  const write = async (bytes: Buffer) => {
    digest.update(bytes);
    crc = crc32(bytes, crc);
    size += bytes.length;
    if (!deflate.write(bytes)) await once(deflate, 'drain');
  };

  await write(EXPORT_HEADER);
  await write(
    encodePreamble(
      window,
      signingKeys.map((k) => k.signatureInfo),
    ),
  );
  for await (const batch of keyBatches) {
    keyCount += batch.length;
    await write(encodeKeys(batch));
  }
  deflate.end();
  await once(deflate, 'end');

  const hash = digest.digest();
  const signed = await Promise.all(
    signingKeys.map(async ({ signatureInfo, signer }) => ({ signatureInfo, signature: await signer.signDigest(hash) })),
  );
  const exportBin = { name: 'export.bin', data: compressed, method: 8 as const, crc, size };
  const exportSig = storedEntry('export.sig', encodeSignatureList(signed));
  return { zip: zip([exportBin, exportSig]), keyCount, exportBinBytes: size };
}
