// The phone's side of key retrieval (protocol §5.1, §7): the HMAC URL of a day's file, and
// reading a key file it downloaded, checked as the EN framework would check it.
import { createHash, type KeyObject } from 'node:crypto';
import JSZip from 'jszip';
import { covidshield } from '../../generated/covidshield.js';
import { verifyExport } from '../exports/verify.js';
import { retrieveHmac } from '../protocol/retrieve.js';
import { hourNumber } from '../protocol/time.js';

/** /retrieve/{region}/{day}/{hmac} for the hour of `nowMs` (plus `hourOffset`, for clock skew). */
export function retrievePath(hmacKey: Uint8Array, region: string, day: string | number, nowMs: number, hourOffset = 0): string {
  const d = String(day).padStart(5, '0');
  const mac = retrieveHmac(hmacKey, region, d, hourNumber(nowMs) + hourOffset).toString('hex');
  return `/retrieve/${region}/${d}/${mac}`;
}

export interface KeyFile {
  entries: string[];
  bin: Buffer;
  sig: Buffer;
  exported: covidshield.TemporaryExposureKeyExport;
  signatures: covidshield.TEKSignatureList;
}

/** The two entries of a key file, decoded (CRCs checked); no signature check. */
export async function readKeyFile(zipBytes: Uint8Array): Promise<KeyFile> {
  const archive = await JSZip.loadAsync(zipBytes, { checkCRC32: true });
  const bin = Buffer.from(await archive.file('export.bin')!.async('uint8array'));
  const sig = Buffer.from(await archive.file('export.sig')!.async('uint8array'));
  return {
    entries: Object.keys(archive.files),
    bin,
    sig,
    exported: covidshield.TemporaryExposureKeyExport.decode(bin.subarray(16)),
    signatures: covidshield.TEKSignatureList.decode(sig),
  };
}

/**
 * Reads and verifies key files as many phones download them. Phones get byte-identical
 * files, so each distinct content is verified and parsed once and remembered by its hash;
 * a file with other bytes is checked on its own. A file that fails a check is an error.
 */
export function verifiedKeyFiles(publicKey: KeyObject): (zipBytes: Buffer) => Promise<KeyFile> {
  const seen = new Map<string, Promise<KeyFile>>();
  return (zipBytes) => {
    const hash = createHash('sha256').update(zipBytes).digest('hex');
    let file = seen.get(hash);
    if (!file) {
      file = (async () => {
        const report = await verifyExport(zipBytes, publicKey);
        if (!report.ok) throw new Error(`key file rejected: ${report.problems.join('; ')}`);
        return readKeyFile(zipBytes);
      })();
      seen.set(hash, file);
    }
    return file;
  };
}
