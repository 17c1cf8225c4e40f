// The protobuf messages of protocol §3, generated from proto/ by `npm run proto`.
// Responses are encoded from plain objects: a property that is present is a field that is
// set, which is how proto2 presence is kept exact.
import { covidshield } from '../../generated/covidshield.js';

export const { KeyClaimRequest, KeyClaimResponse, EncryptedUploadRequest, EncryptedUploadResponse, Upload, TemporaryExposureKey } = covidshield;

export const ClaimError = covidshield.KeyClaimResponse.ErrorCode;
export const UploadError = covidshield.EncryptedUploadResponse.ErrorCode;
export type ClaimError = covidshield.KeyClaimResponse.ErrorCode;
export type UploadError = covidshield.EncryptedUploadResponse.ErrorCode;

interface Decoder<T> {
  decode(bytes: Uint8Array): T;
}

/** Decodes, or returns undefined for bytes that are not that message. */
export function tryDecode<T>(type: Decoder<T>, bytes: Uint8Array): T | undefined {
  try {
    return type.decode(bytes);
  } catch {
    return undefined;
  }
}

/** int64 fields decode to a Long when long.js is present, else to a number. */
export function int64ToNumber(value: number | { toNumber(): number }): number {
  return typeof value === 'number' ? value : value.toNumber();
}

/** A google.protobuf.Duration with only its non-zero fields, as proto3 encodes it. */
export function duration(ms: number): { seconds?: number; nanos?: number } {
  const whole = Math.max(0, Math.ceil(ms));
  const seconds = Math.floor(whole / 1000);
  const nanos = (whole % 1000) * 1_000_000;
  return { ...(seconds ? { seconds } : {}), ...(nanos ? { nanos } : {}) };
}

export interface ClaimResponseFields {
  error?: ClaimError;
  serverPublicKey?: Uint8Array;
  triesRemaining?: number;
  /** Milliseconds; present means the field is set, even when zero. */
  remainingBanMs?: number;
}

export function encodeClaimResponse(fields: ClaimResponseFields): Buffer {
  const message: covidshield.KeyClaimResponse.$Properties = {};
  if (fields.error !== undefined) message.error = fields.error;
  if (fields.serverPublicKey !== undefined) message.serverPublicKey = fields.serverPublicKey;
  if (fields.triesRemaining !== undefined) message.triesRemaining = fields.triesRemaining;
  if (fields.remainingBanMs !== undefined) message.remainingBanDuration = duration(fields.remainingBanMs);
  return Buffer.from(KeyClaimResponse.encode(message).finish());
}

/** The upload answer always sets `error`, NONE included (bytes 08 00). */
export function encodeUploadResponse(error: UploadError): Buffer {
  return Buffer.from(EncryptedUploadResponse.encode({ error }).finish());
}
