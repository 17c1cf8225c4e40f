// Validation of a decrypted upload (protocol §4.3 steps 6–10), in the protocol's order,
// then the rules this server adds (each one setting away from the original).
import type { DiagnosisKey } from './diagnosis-key.js';
import { servableStartsAfter } from './retrieve.js';
import { INTERVALS_PER_DAY, intervalNumber } from './time.js';
import { int64ToNumber, tryDecode, Upload, UploadError } from './messages.js';

export const MAX_KEYS_PER_UPLOAD = 28;
export const MAX_TIMESTAMP_SKEW_SECONDS = 3600;
export const MAX_TRANSMISSION_RISK_LEVEL = 8;
/** The span of rolling start interval numbers one upload may cover, in days. */
export const MAX_UPLOAD_SPAN_DAYS = 15;

/** What an upload must meet beyond the protocol. */
export interface UploadRules {
  /** Keys with one rolling start interval a keypair may store, over all its uploads (checked by the store); 0: any number. */
  maxKeysPerStartInterval: number;
  /** A key starting after the current interval is refused: no phone can have broadcast it yet. */
  refuseFutureKeys: boolean;
  /** A key too old for any phone to match is not stored (and costs no quota); the rest of the upload is. */
  dropUnservableKeys: boolean;
}

/** The original server's: none of the rules. */
export const ORIGINAL_UPLOAD_RULES: UploadRules = { maxKeysPerStartInterval: 0, refuseFutureKeys: false, dropUnservableKeys: false };

/** Which rule refused an upload: the protocol's own, or one of this server's. */
export type UploadRule = 'protocol' | 'future_key' | 'start_interval_limit';

export type UploadValidation = { ok: true; keys: DiagnosisKey[]; unservable: number } | { ok: false; error: UploadError; rule: UploadRule };

const fail = (error: UploadError, rule: UploadRule = 'protocol'): UploadValidation => ({ ok: false, error, rule });

export function validateUpload(plaintext: Uint8Array, nowMs: number, rules: UploadRules): UploadValidation {
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
  if (rules.refuseFutureKeys && maxStart > intervalNumber(nowMs)) return fail(UploadError.INVALID_ROLLING_START_INTERVAL_NUMBER, 'future_key');
  if (!rules.dropUnservableKeys) return { ok: true, keys, unservable: 0 };
  const startsAfter = servableStartsAfter(nowMs);
  const servable = keys.filter((k) => k.rollingStartIntervalNumber > startsAfter);
  return { ok: true, keys: servable, unservable: keys.length - servable.length };
}
