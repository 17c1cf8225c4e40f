import { describe, expect, it } from 'vitest';
import {
  ClaimError,
  encodeClaimResponse,
  encodeUploadResponse,
  KeyClaimResponse,
  TemporaryExposureKey,
  tryDecode,
  UploadError,
} from '../../src/protocol/messages.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protobuf messages keep proto2 presence', () => {
  it('sends error NONE on upload success as the bytes 08 00', () => {
    expect(hex(encodeUploadResponse(UploadError.NONE))).toBe('0800');
    expect(hex(encodeUploadResponse(UploadError.NO_KEYS_IN_PAYLOAD))).toBe('080e');
  });

  it('leaves error absent on claim success and sets tries_remaining', () => {
    const key = Buffer.alloc(32, 7);
    expect(hex(encodeClaimResponse({ serverPublicKey: key, triesRemaining: 50 }))).toBe('1220' + hex(key) + '1832');
  });

  it('sets a zero remaining_ban_duration as an empty Duration, and a ban as seconds and nanos', () => {
    expect(hex(encodeClaimResponse({ error: ClaimError.INVALID_ONE_TIME_CODE, triesRemaining: 0, remainingBanMs: 0 }))).toBe(
      '0802' + '1800' + '2200',
    );
    // 3599.5 s = seconds 3599 (0x0e0f → varint 8f 1c), nanos 500000000 (varint 80 ca b5 ee 01).
    expect(hex(encodeClaimResponse({ error: ClaimError.TEMPORARY_BAN, triesRemaining: 0, remainingBanMs: 3_599_500 }))).toBe(
      '0805' + '1800' + '2209' + '088f1c' + '1080cab5ee01',
    );
  });

  it('round-trips the claim response the app decodes', () => {
    const decoded = KeyClaimResponse.decode(encodeClaimResponse({ error: ClaimError.UNKNOWN, triesRemaining: 12 }));
    expect(decoded.error).toBe(ClaimError.UNKNOWN);
    expect(decoded.triesRemaining).toBe(12);
    expect(Object.hasOwn(decoded, 'remainingBanDuration')).toBe(false);
  });

  it('reads an absent rolling period as 144 and a sint32 zig-zagged', () => {
    const decoded = TemporaryExposureKey.decode(Buffer.from('3003', 'hex'));
    expect(decoded.rollingPeriod).toBe(144);
    expect(decoded.daysSinceOnsetOfSymptoms).toBe(-2);
  });

  it('refuses truncated and random bytes without throwing', () => {
    expect(tryDecode(KeyClaimResponse, Buffer.from('0a05', 'hex'))).toBeUndefined();
    expect(tryDecode(KeyClaimResponse, Buffer.from('ffffffffffffffffffffff', 'hex'))).toBeUndefined();
  });
});
