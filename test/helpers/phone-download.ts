// The phone's side of retrieval: the HMAC URL, and reading a key file it downloaded.
import JSZip from 'jszip';
import { covidshield } from '../../generated/covidshield.js';
import { retrieveHmac } from '../../src/protocol/retrieve.js';
import { hourNumber } from '../../src/protocol/time.js';
import { request, type HttpResult } from './app-client.js';
import { RETRIEVE_HMAC_KEY } from './servers.js';

export function retrievePath(day: string | number, nowMs: number, hourOffset = 0): string {
  const d = String(day).padStart(5, '0');
  const mac = retrieveHmac(Buffer.from(RETRIEVE_HMAC_KEY, 'hex'), '302', d, hourNumber(nowMs) + hourOffset).toString('hex');
  return `/retrieve/302/${d}/${mac}`;
}

export function retrieve(retrievalUrl: string, day: string | number, nowMs: number, init: RequestInit = {}): Promise<HttpResult> {
  return request(retrievalUrl + retrievePath(day, nowMs), init);
}

export interface KeyFile {
  entries: string[];
  bin: Buffer;
  sig: Buffer;
  exported: covidshield.TemporaryExposureKeyExport;
  signatures: covidshield.TEKSignatureList;
}

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
