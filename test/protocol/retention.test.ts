import { describe, expect, it } from 'vitest';
import {
  checkRetention,
  claimFailuresLapsedAtOrBefore,
  firstStatisticsDateKept,
  firstSubmissionHourKept,
  hoursLived,
  keypairsCreatedAfter,
  oneTimeCodesCreatedAfter,
} from '../../src/protocol/retention.js';

const NOW = Date.UTC(2026, 11, 1, 10, 30); // date number 20788
const PROTOCOL = {
  diagnosisKeyRetentionDays: 15,
  encryptionKeyValidityDays: 15,
  oneTimeCodeExpiryMinutes: 1440,
  claimKeyBanDurationMs: 3_600_000,
  initialRemainingKeys: 43,
  claimReplayMinutes: 15,
};

describe('retention cut-offs', () => {
  it('turns each setting into the time before which a thing is gone', () => {
    expect(oneTimeCodesCreatedAfter(NOW, PROTOCOL).toISOString()).toBe('2026-11-30T10:30:00.000Z');
    expect(keypairsCreatedAfter(NOW, PROTOCOL).toISOString()).toBe('2026-11-16T10:30:00.000Z');
    expect(claimFailuresLapsedAtOrBefore(NOW, PROTOCOL).toISOString()).toBe('2026-12-01T09:30:00.000Z');
    expect(firstSubmissionHourKept(NOW, PROTOCOL)).toBe((20788 - 15) * 24);
    expect(firstStatisticsDateKept(NOW)).toBe('2026-11-10');
  });

  it('counts whole hours a code lived, never fewer than none', () => {
    expect(hoursLived(NOW, NOW + 3_599_999)).toBe(0);
    expect(hoursLived(NOW, NOW + 3_600_000)).toBe(1);
    expect(hoursLived(NOW, NOW - 5)).toBe(0);
  });

  it('refuses more than 21 days, and less than the protocol unless allowed', () => {
    expect(checkRetention(PROTOCOL, false)).toEqual([]);
    expect(() => checkRetention({ ...PROTOCOL, diagnosisKeyRetentionDays: 21 }, true)).toThrow(
      /^MAX_DIAGNOSIS_KEY_RETENTION_DAYS: 21 would keep data past 21 days/,
    );
    expect(checkRetention({ ...PROTOCOL, diagnosisKeyRetentionDays: 20 }, false)).toEqual([]);
    expect(() => checkRetention({ ...PROTOCOL, encryptionKeyValidityDays: 14 }, false)).toThrow(/^ENCRYPTION_KEY_VALIDITY_DAYS: 14 is shorter/);
    expect(checkRetention({ ...PROTOCOL, encryptionKeyValidityDays: 14 }, true)).toEqual(['ENCRYPTION_KEY_VALIDITY_DAYS=14 (protocol: 15)']);
  });
});
