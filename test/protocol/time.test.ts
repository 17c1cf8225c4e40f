import { describe, expect, it } from 'vitest';
import { currentRollingStartIntervalNumber, dateNumber, hourNumber, intervalNumber, startOfUtcDay, utcDate } from '../../src/protocol/time.js';

describe('protocol clocks', () => {
  // 2020-04-02T00:00:00Z, the key generation time of the EN test vectors.
  const midnight = 1_585_785_600_000;

  it('derives date, hour and interval numbers from unix time', () => {
    expect(dateNumber(midnight)).toBe(18354);
    expect(hourNumber(midnight)).toBe(440496);
    expect(intervalNumber(midnight)).toBe(2642976);
    expect(dateNumber(midnight - 1)).toBe(18353);
    expect(hourNumber(midnight + 3_599_999)).toBe(440496);
    expect(hourNumber(midnight + 3_600_000)).toBe(440497);
  });

  it('puts the current rolling start interval at the start of the UTC day', () => {
    expect(currentRollingStartIntervalNumber(midnight)).toBe(2642976);
    expect(currentRollingStartIntervalNumber(midnight + 86_399_999)).toBe(2642976);
    expect(currentRollingStartIntervalNumber(midnight + 86_400_000)).toBe(2642976 + 144);
  });

  it('finds midnight UTC and the calendar date', () => {
    expect(startOfUtcDay(midnight + 12 * 3_600_000 + 5)).toBe(midnight);
    expect(utcDate(midnight + 86_399_999)).toBe('2020-04-02');
  });
});
