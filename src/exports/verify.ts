// Checks a key file as the Exposure Notification framework would: two zip entries in
// order, the export.bin header, the signature over export.bin, and the field rules.
// Used by `diagnosis-server verify-export`; reads with jszip, an implementation
// independent of the writer in zip.ts.
import { verify, type KeyObject } from 'node:crypto';
import JSZip from 'jszip';
import { covidshield } from '../../generated/covidshield.js';
import { tryDecode } from '../protocol/messages.js';
import { EXPORT_HEADER } from './key-file.js';

export interface ExportReport {
  ok: boolean;
  problems: string[];
  keys: number;
  start?: string;
  end?: string;
  region?: string;
  batch?: string;
  signatureInfos: { version: string; keyId: string; algorithm: string }[];
  signatureValid: boolean;
}

const seconds = (value: number | { toNumber(): number }) => (typeof value === 'number' ? value : value.toNumber());
/** A timestamp as ISO 8601, or the raw number when no date can hold it. */
function iso(value: number): string {
  const date = new Date(value * 1000);
  return Number.isNaN(date.getTime()) ? `${value} (not a date)` : date.toISOString();
}

export async function verifyExport(zipBytes: Uint8Array, publicKey: KeyObject): Promise<ExportReport> {
  const report: ExportReport = { ok: false, problems: [], keys: 0, signatureInfos: [], signatureValid: false };
  const problem = (text: string) => report.problems.push(text);

  let archive: JSZip;
  try {
    archive = await JSZip.loadAsync(zipBytes);
  } catch (err) {
    problem(`not a zip file: ${(err as Error).message}`);
    return report;
  }
  const names = Object.keys(archive.files);
  if (names.join(',') !== 'export.bin,export.sig') problem(`zip entries are [${names.join(', ')}], expected [export.bin, export.sig]`);
  const binFile = archive.file('export.bin');
  const sigFile = archive.file('export.sig');
  if (!binFile || !sigFile) return report;
  const bin = Buffer.from(await binFile.async('uint8array'));
  const sig = Buffer.from(await sigFile.async('uint8array'));

  if (!bin.subarray(0, 16).equals(EXPORT_HEADER)) problem('export.bin does not start with "EK Export v1    "');
  const exported = tryDecode(covidshield.TemporaryExposureKeyExport, bin.subarray(16));
  const signatures = tryDecode(covidshield.TEKSignatureList, sig);
  if (!exported) problem('export.bin is not a TemporaryExposureKeyExport');
  if (!signatures) problem('export.sig is not a TEKSignatureList');

  if (signatures) {
    if (signatures.signatures.length === 0) problem('export.sig holds no signature');
    report.signatureValid = signatures.signatures.length > 0;
    for (const s of signatures.signatures) {
      let valid: boolean;
      try {
        valid = verify('sha256', bin, publicKey, s.signature ?? Buffer.alloc(0));
      } catch {
        valid = false;
      }
      if (!valid) {
        report.signatureValid = false;
        problem('signature does not verify against the public key');
      }
    }
  }

  if (exported) {
    report.keys = exported.keys.length;
    report.region = exported.region;
    report.batch = `${exported.batchNum} of ${exported.batchSize}`;
    if (!Object.hasOwn(exported, 'startTimestamp') || !Object.hasOwn(exported, 'endTimestamp')) problem('start or end timestamp missing');
    else {
      const start = seconds(exported.startTimestamp);
      const end = seconds(exported.endTimestamp);
      report.start = iso(start);
      report.end = iso(end);
      if (!(start < end)) problem('the window ends before it starts');
    }
    if (!exported.region) problem('region missing');
    if (!(exported.batchNum >= 1 && exported.batchNum <= exported.batchSize)) problem('batch_num / batch_size out of range');
    report.signatureInfos = exported.signatureInfos.map((i) => ({
      version: i.verificationKeyVersion ?? '',
      keyId: i.verificationKeyId ?? '',
      algorithm: i.signatureAlgorithm ?? '',
    }));
    if (report.signatureInfos.length === 0) problem('no signature_infos');
    exported.keys.forEach((key, i) => {
      const where = `key ${i}`;
      const keyBytes = key.keyData?.length ?? 0;
      if (keyBytes !== 16) problem(`${where}: key_data is ${keyBytes} bytes, not 16`);
      if (!Object.hasOwn(key, 'rollingStartIntervalNumber')) problem(`${where}: rolling_start_interval_number missing`);
      const period = key.rollingPeriod ?? 144;
      const risk = key.transmissionRiskLevel ?? 0;
      if (!(period >= 1 && period <= 144)) problem(`${where}: rolling_period ${period} outside 1..144`);
      if (!(risk >= 0 && risk <= 8)) problem(`${where}: transmission_risk_level ${risk} outside 0..8`);
    });
  }
  report.ok = report.problems.length === 0;
  return report;
}
