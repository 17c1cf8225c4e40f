// Validation of a decrypted upload (protocol §4.3 steps 6–10), in the protocol's order.
import type { DiagnosisKey } from './diagnosis-key.js';
import { INTERVALS_PER_DAY } from './time.js';
import { int64ToNumber, tryDecode, Upload, UploadError } from './messages.js';

export const MAX_KEYS_PER_UPLOAD = 28;
export const MAX_TIMESTAMP_SKEW_SECONDS = 3600;
export const MAX_TRANSMISSION_RISK_LEVEL = 8;
/** The span of rolling start interval numbers one upload may cover, in days. */
export const MAX_UPLOAD_SPAN_DAYS = 15;

export type UploadValidation = { ok: true; keys: DiagnosisKey[] } | { ok: false; error: UploadError };

const fail = (error: UploadError): UploadValidation => ({ ok: false, error });

export function validateUpload(plaintext: Uint8Array, nowMs: number): UploadValidation {
  const upload = tryDecode(Upload, plaintext);
  if (!upload) return fail(UploadError.INVALID_PAYLOAD);

  if (upload.keys.length === 0) return fail(UploadError.NO_KEYS_IN_PAYLOAD);
  if (upload.keys.length > MAX_KEYS_PER_UPLOAD) return fail(UploadError.TOO_MANY_KEYS);

  const timestamp = upload.timestamp;
  if (!timestamp) return fail(UploadError.INVALID_TIMESTAMP);
  if (Math.abs(nowMs / 1000 - int64ToNumber(timestamp.seconds ?? 0)) > MAX_TIMESTAMP_SKEW_SECONDS) {
    return fail(UploadError.INVALID_TIMESTAMP);
  }

  const keys: DiagnosisKey[] = [];
  let minStart = Infinity;
  let maxStart = -Infinity;
  for (const key of upload.keys) {
    // An absent rolling period is 144, the field's declared default.
    const rollingPeriod = key.rollingPeriod ?? INTERVALS_PER_DAY;
    if (!(rollingPeriod >= 1 && rollingPeriod <= INTERVALS_PER_DAY)) return fail(UploadError.INVALID_ROLLING_PERIOD);
    if (!key.keyData || key.keyData.length !== 16) return fail(UploadError.INVALID_KEY_DATA);
    if (!key.rollingStartIntervalNumber) return fail(UploadError.INVALID_ROLLING_START_INTERVAL_NUMBER);
    const risk = key.transmissionRiskLevel ?? 0;
    if (!(risk >= 0 && risk <= MAX_TRANSMISSION_RISK_LEVEL)) return fail(UploadError.INVALID_TRANSMISSION_RISK_LEVEL);
    minStart = Math.min(minStart, key.rollingStartIntervalNumber);
    maxStart = Math.max(maxStart, key.rollingStartIntervalNumber);
    keys.push({
      keyData: Buffer.from(key.keyData),
      rollingStartIntervalNumber: key.rollingStartIntervalNumber,
      rollingPeriod,
      transmissionRiskLevel: risk,
    });
  }
  if (maxStart + INTERVALS_PER_DAY - minStart > INTERVALS_PER_DAY * MAX_UPLOAD_SPAN_DAYS) {
    return fail(UploadError.INVALID_ROLLING_START_INTERVAL_NUMBER);
  }
  return { ok: true, keys };
}
