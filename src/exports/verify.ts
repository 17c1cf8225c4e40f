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
  /** Each TEKSignature of export.sig, and which of the given public keys (by index) verifies it, if any. */
  signatures: { version: string; keyId: string; verifiedBy: number | undefined }[];
  /** Every given public key verifies one of the signatures: a phone that trusts any of them accepts the file. */
  signatureValid: boolean;
}

const seconds = (value: number | { toNumber(): number }) => (typeof value === 'number' ? value : value.toNumber());
/** A timestamp as ISO 8601, or the raw number when no date can hold it. */
function iso(value: number): string {
  const date = new Date(value * 1000);
  return Number.isNaN(date.getTime()) ? `${value} (not a date)` : date.toISOString();
}

/** `publicKeys`: the keys phones trust; with several (a key being rotated), each must verify a signature. */
export async function verifyExport(zipBytes: Uint8Array, publicKeys: KeyObject | readonly KeyObject[]): Promise<ExportReport> {
  const trusted: readonly KeyObject[] = Array.isArray(publicKeys) ? (publicKeys as readonly KeyObject[]) : [publicKeys as KeyObject];
  const report: ExportReport = { ok: false, problems: [], keys: 0, signatureInfos: [], signatures: [], signatureValid: false };
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
    const verifies = (key: KeyObject, signature: Uint8Array) => {
      try {
        return verify('sha256', bin, key, signature);
      } catch {
        return false;
      }
    };
    report.signatures = signatures.signatures.map((s) => {
      const index = trusted.findIndex((key) => verifies(key, s.signature ?? Buffer.alloc(0)));
      return {
        version: s.signatureInfo?.verificationKeyVersion ?? '',
        keyId: s.signatureInfo?.verificationKeyId ?? '',
        verifiedBy: index < 0 ? undefined : index,
      };
    });
    const unverified = trusted.filter((_, i) => !report.signatures.some((s) => s.verifiedBy === i)).length;
    report.signatureValid = report.signatures.length > 0 && unverified === 0;
    if (report.signatures.length > 0 && unverified > 0) {
      problem(trusted.length === 1 ? 'signature does not verify against the public key' : `${unverified} of the public keys verify no signature`);
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
    const listed = (infos: { version: string; keyId: string }[]) => infos.map((i) => `${i.keyId}/${i.version}`).join(',');
    if (signatures && listed(report.signatureInfos) !== listed(report.signatures)) {
      problem('the signatures of export.sig do not match the signature_infos of export.bin, one for one');
    }
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
