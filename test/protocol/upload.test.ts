import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Upload, UploadError } from '../../src/protocol/messages.js';
import { ORIGINAL_UPLOAD_RULES, validateUpload } from '../../src/protocol/upload.js';
import { currentRollingStartIntervalNumber, intervalNumber } from '../../src/protocol/time.js';
import { servableStartsAfter } from '../../src/protocol/retrieve.js';

const now = 1_700_000_000_000;
const today = currentRollingStartIntervalNumber(now);
const key = (fields: Record<string, unknown> = {}) => ({ keyData: randomBytes(16), rollingStartIntervalNumber: today, ...fields });
const encode = (message: Record<string, unknown>) => Upload.encode(message).finish();
const at = (seconds: number, keys: unknown[]) => encode({ timestamp: { seconds }, keys });
const errorOf = (bytes: Uint8Array) => {
  const result = validateUpload(bytes, now, ORIGINAL_UPLOAD_RULES);
  return result.ok ? 'ok' : UploadError[result.error];
};

describe('upload validation (protocol §4.3 steps 6–10)', () => {
  it('accepts a well-formed upload and fills in the default rolling period', () => {
    const result = validateUpload(at(now / 1000, [key({ transmissionRiskLevel: 8 })]), now, ORIGINAL_UPLOAD_RULES);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.keys[0]).toMatchObject({ rollingPeriod: 144, transmissionRiskLevel: 8, rollingStartIntervalNumber: today });
  });

  it('refuses bytes that are not an Upload', () => {
    expect(errorOf(Buffer.from([0x0a, 0xff]))).toBe('INVALID_PAYLOAD');
  });

  it('counts keys: none, and more than 28', () => {
    expect(errorOf(at(now / 1000, []))).toBe('NO_KEYS_IN_PAYLOAD');
    expect(
      errorOf(
        at(
          now / 1000,
          Array.from({ length: 28 }, () => key()),
        ),
      ),
    ).toBe('ok');
    expect(
      errorOf(
        at(
          now / 1000,
          Array.from({ length: 29 }, () => key()),
        ),
      ),
    ).toBe('TOO_MANY_KEYS');
  });

  it('wants a timestamp within an hour of server time, nanos ignored', () => {
    expect(errorOf(encode({ keys: [key()] }))).toBe('INVALID_TIMESTAMP');
    expect(errorOf(at(now / 1000 - 3600, [key()]))).toBe('ok');
    expect(errorOf(at(now / 1000 + 3600, [key()]))).toBe('ok');
    expect(errorOf(at(now / 1000 - 3601, [key()]))).toBe('INVALID_TIMESTAMP');
    expect(errorOf(at(now / 1000 + 3601, [key()]))).toBe('INVALID_TIMESTAMP');
    expect(errorOf(encode({ timestamp: { seconds: now / 1000 - 3600, nanos: 999_999_999 }, keys: [key()] }))).toBe('ok');
    // Server time is compared with its fractional seconds.
    expect(validateUpload(at(now / 1000 - 3600, [key()]), now + 1, ORIGINAL_UPLOAD_RULES).ok).toBe(false);
  });

  it('checks each key in the protocol order', () => {
    const t = now / 1000;
    expect(errorOf(at(t, [key({ rollingPeriod: 0 })]))).toBe('INVALID_ROLLING_PERIOD');
    expect(errorOf(at(t, [key({ rollingPeriod: 145 })]))).toBe('INVALID_ROLLING_PERIOD');
    expect(errorOf(at(t, [key({ rollingPeriod: -1 })]))).toBe('INVALID_ROLLING_PERIOD');
    expect(errorOf(at(t, [key({ rollingPeriod: 1 })]))).toBe('ok');
    expect(errorOf(at(t, [key({ keyData: randomBytes(15) })]))).toBe('INVALID_KEY_DATA');
    expect(errorOf(at(t, [{ rollingStartIntervalNumber: today }]))).toBe('INVALID_KEY_DATA');
    expect(errorOf(at(t, [{ keyData: randomBytes(16) }]))).toBe('INVALID_ROLLING_START_INTERVAL_NUMBER');
    expect(errorOf(at(t, [key({ rollingStartIntervalNumber: 0 })]))).toBe('INVALID_ROLLING_START_INTERVAL_NUMBER');
    expect(errorOf(at(t, [key({ transmissionRiskLevel: 9 })]))).toBe('INVALID_TRANSMISSION_RISK_LEVEL');
    expect(errorOf(at(t, [key({ transmissionRiskLevel: -1 })]))).toBe('INVALID_TRANSMISSION_RISK_LEVEL');
    // Rolling period is checked before key data, key data before the interval number.
    expect(errorOf(at(t, [key({ rollingPeriod: 0, keyData: randomBytes(3), rollingStartIntervalNumber: 0 })]))).toBe('INVALID_ROLLING_PERIOD');
    expect(errorOf(at(t, [key({ keyData: randomBytes(3), rollingStartIntervalNumber: 0 })]))).toBe('INVALID_KEY_DATA');
    // The first bad key decides.
    expect(errorOf(at(t, [key({ transmissionRiskLevel: 9 }), key({ rollingPeriod: 0 })]))).toBe('INVALID_TRANSMISSION_RISK_LEVEL');
  });

  it('limits the span of rolling start intervals to 15 days, in any order, unaligned or repeated', () => {
    const t = now / 1000;
    const span = (first: number, last: number) =>
      errorOf(at(t, [key({ rollingStartIntervalNumber: first }), key({ rollingStartIntervalNumber: last })]));
    expect(span(today, today - 14 * 144)).toBe('ok');
    expect(span(today - 14 * 144, today)).toBe('ok');
    expect(span(today + 1, today - 14 * 144 + 1)).toBe('ok');
    expect(span(today, today - 14 * 144 - 1)).toBe('INVALID_ROLLING_START_INTERVAL_NUMBER');
    expect(span(today, today)).toBe('ok');
  });
});

describe('upload rules beyond the protocol', () => {
  const t = now / 1000;
  const rules = { maxKeysPerStartInterval: 3, refuseFutureKeys: true, dropUnservableKeys: true };
  const validate = (keys: unknown[], r = rules) => validateUpload(at(t, keys), now, r);
  const current = intervalNumber(now);

  it('refuses a key that starts after the current interval, and only then', () => {
    expect(validate([key({ rollingStartIntervalNumber: current })]).ok).toBe(true);
    const future = validate([key(), key({ rollingStartIntervalNumber: current + 1 })]);
    expect(future.ok ? 'ok' : UploadError[future.error]).toBe('INVALID_ROLLING_START_INTERVAL_NUMBER');
    expect(validate([key({ rollingStartIntervalNumber: current + 1 })], { ...rules, refuseFutureKeys: false }).ok).toBe(true);
  });

  it('drops keys no phone can match any more and keeps the rest', () => {
    const cutOff = servableStartsAfter(now);
    const result = validate([key({ rollingStartIntervalNumber: cutOff }), key({ rollingStartIntervalNumber: cutOff + 1 }), key()]);
    expect(result.ok && result.unservable).toBe(1);
    expect(result.ok && result.keys.map((k) => k.rollingStartIntervalNumber)).toEqual([cutOff + 1, today]);
    const kept = validate([key({ rollingStartIntervalNumber: cutOff })], { ...rules, dropUnservableKeys: false });
    expect(kept.ok && [kept.keys.length, kept.unservable]).toEqual([1, 0]);
  });
});
