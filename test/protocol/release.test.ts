import { describe, expect, it } from 'vitest';
import { hourToSeal, paddingCount, releaseHour } from '../../src/protocol/release.js';

const HOUR_MS = 3_600_000;
// Midnight UTC of 2026-12-01, in hours and in EN intervals.
const midnightHour = Date.UTC(2026, 11, 1) / HOUR_MS;
const midnightInterval = midnightHour * 6;

describe('release hour', () => {
  it('is the hour the key stopped being broadcast, plus the embargo, rounded up', () => {
    // Valid all day on the 1st: broadcast until midnight of the 2nd, released from 02:00.
    const key = { rollingStartIntervalNumber: midnightInterval, rollingPeriod: 144 };
    expect(releaseHour(key, midnightHour + 10, 120)).toBe(midnightHour + 24 + 2);
    // An end that is not on the hour rounds up: 00:10 + 2 h → 03:00.
    expect(releaseHour({ ...key, rollingPeriod: 145 }, midnightHour + 10, 120)).toBe(midnightHour + 24 + 3);
    expect(releaseHour(key, midnightHour + 10, 0)).toBe(midnightHour + 24);
    expect(releaseHour(key, midnightHour + 10, 61)).toBe(midnightHour + 24 + 2);
  });

  it('is never before the hour after the key was submitted', () => {
    const expiredTwoDaysAgo = { rollingStartIntervalNumber: midnightInterval - 3 * 144, rollingPeriod: 144 };
    expect(releaseHour(expiredTwoDaysAgo, midnightHour + 7, 120)).toBe(midnightHour + 8);
  });

  it('is sealed once the hour has wholly passed', () => {
    expect(hourToSeal((midnightHour + 8) * HOUR_MS)).toBe(midnightHour + 7);
    expect(hourToSeal((midnightHour + 9) * HOUR_MS - 1)).toBe(midnightHour + 7);
  });
});

describe('padding', () => {
  const rules = { minKeysPerBatch: 1000 };
  it('fills a batch with real keys up to the minimum plus the jitter drawn', () => {
    expect(paddingCount(1, rules, 0)).toBe(999);
    expect(paddingCount(1, rules, 100)).toBe(1099);
    expect(paddingCount(400, rules, 37)).toBe(637);
    expect(paddingCount(5000, rules, 100)).toBe(0);
  });

  it('leaves an empty batch empty', () => {
    expect(paddingCount(0, rules, 100)).toBe(0);
  });
});
