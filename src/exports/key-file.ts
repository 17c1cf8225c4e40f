// export.bin and export.sig (protocol §7). The preamble and the signature list go through
// the generated protobuf code; keys, up to 750,000 of them, are encoded by hand straight
// into one buffer per batch, every field set explicitly as the framework expects.
import { covidshield } from '../../generated/covidshield.js';
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';

export const EXPORT_HEADER = Buffer.from('EK Export v1    ', 'ascii');
export const CONFIRMED_TEST = covidshield.TemporaryExposureKey.ReportType.CONFIRMED_TEST;

export interface SignatureInfo {
  verificationKeyVersion: string;
  verificationKeyId: string;
  signatureAlgorithm: string;
}

export interface ExportWindow {
  startTimestamp: number;
  endTimestamp: number;
  region: string;
}

/**
 * TemporaryExposureKeyExport fields 1–6; the keys (field 7) follow it on the wire. One
 * SignatureInfo per signing key, in the order their signatures will be listed.
 */
export function encodePreamble(window: ExportWindow, signatureInfos: readonly SignatureInfo[]): Buffer {
  return Buffer.from(
    covidshield.TemporaryExposureKeyExport.encode({
      startTimestamp: window.startTimestamp,
      endTimestamp: window.endTimestamp,
      region: window.region,
      batchNum: 1,
      batchSize: 1,
      signatureInfos: [...signatureInfos],
    }).finish(),
  );
}

function varintLength(value: number): number {
  if (value < 0) return 10;
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Writes an int32 as protobuf does: negative values sign-extended to ten bytes. */
function writeVarint(buffer: Buffer, offset: number, value: number): number {
  if (value < 0) {
    let low = value >>> 0;
    for (let i = 0; i < 4; i++) {
      buffer[offset++] = (low & 0x7f) | 0x80;
      low >>>= 7;
    }
    buffer[offset++] = (low & 0x0f) | 0x70 | 0x80;
    for (let i = 0; i < 4; i++) buffer[offset++] = 0xff;
    buffer[offset++] = 0x01;
    return offset;
  }
  while (value >= 0x80) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[offset++] = value;
  return offset;
}

/**
 * Field 7 entries for `keys`, in the order given. This runs for every key of every file
 * (750,000 in the largest), so it sizes the buffer in one pass and fills it in a second,
 * byte by byte: Buffer.copy costs more than it saves for 16 bytes.
 */
export function encodeKeys(keys: readonly DiagnosisKey[]): Buffer {
  const bodyLengths = new Uint8Array(keys.length);
  let total = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    // One line a field: tag (and length) bytes, then the value.
    // prettier-ignore
    const body =
      2 + key.keyData.length +
      1 + varintLength(key.transmissionRiskLevel) +
      1 + varintLength(key.rollingStartIntervalNumber) +
      1 + varintLength(key.rollingPeriod) +
      2 + // report_type CONFIRMED_TEST
      2; // days_since_onset_of_symptoms 0
    bodyLengths[i] = body;
    total += 2 + body;
  }
  const buffer = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const data = key.keyData;
    buffer[at++] = 0x3a; // field 7, length-delimited; a body is always under 128 bytes
    buffer[at++] = bodyLengths[i]!;
    buffer[at++] = 0x0a; // 1 key_data
    buffer[at++] = data.length;
    for (let b = 0; b < data.length; b++) buffer[at++] = data[b]!;
    buffer[at++] = 0x10; // 2 transmission_risk_level
    at = writeVarint(buffer, at, key.transmissionRiskLevel);
    buffer[at++] = 0x18; // 3 rolling_start_interval_number
    at = writeVarint(buffer, at, key.rollingStartIntervalNumber);
    buffer[at++] = 0x20; // 4 rolling_period, even when 144
    at = writeVarint(buffer, at, key.rollingPeriod);
    buffer[at++] = 0x28; // 5 report_type
    buffer[at++] = CONFIRMED_TEST;
    buffer[at++] = 0x30; // 6 days_since_onset_of_symptoms (sint32 0)
    buffer[at++] = 0x00;
  }
  return buffer;
}

/** export.sig: one TEKSignature per signing key, in the order of export.bin's signature_infos. */
export function encodeSignatureList(signed: readonly { signatureInfo: SignatureInfo; signature: Uint8Array }[]): Buffer {
  return Buffer.from(
    covidshield.TEKSignatureList.encode({
      signatures: signed.map(({ signatureInfo, signature }) => ({ signatureInfo, batchNum: 1, batchSize: 1, signature })),
    }).finish(),
  );
}
