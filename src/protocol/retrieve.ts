// /retrieve/{region}/{day}/{hmac} (protocol §5.1): who may fetch, and which window of keys.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { currentRollingStartIntervalNumber, dateNumber, hourNumber, INTERVALS_PER_DAY, SECONDS_PER_DAY } from './time.js';

export const BUNDLE_DAY = '00000';
/** Days of keys a phone can still match against. */
export const DAYS_SERVED = 14;
/** Days the 00000 bundle covers: D−15 … D−1. */
export const BUNDLE_DAYS = 15;

/** The HMAC the app puts in the URL: over "{region}:{day}:{hour}" with the shared key. */
export function retrieveHmac(key: Uint8Array, region: string, day: string, hour: number): Buffer {
  return createHmac('sha256', key).update(`${region}:${day}:${hour}`).digest();
}

/**
 * Accepts the HMAC of the current hour or either neighbour (clock skew between phone and
 * server), each compared in constant time. The current hour is tried first: which hour
 * matched is no secret, and most requests then cost one HMAC instead of three.
 */
export function hmacAuthorised(given: string, key: Uint8Array, region: string, day: string, nowMs: number): boolean {
  return hmacMatches(given, (hour) => retrieveHmac(key, region, day, hour), nowMs);
}

/** hmacAuthorised with the expected HMAC of an hour from `expectedFor` (which may remember them). */
export function hmacMatches(given: string, expectedFor: (hour: number) => Buffer, nowMs: number): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(given)) return false;
  const presented = Buffer.from(given, 'hex');
  const hour = hourNumber(nowMs);
  return [hour, hour - 1, hour + 1].some((h) => timingSafeEqual(presented, expectedFor(h)));
}

export interface KeyWindow {
  /** Submission hours served: [firstHour, endHour). */
  firstHour: number;
  endHour: number;
  /** Keys must start after this interval to be of use to a phone. */
  minRollingStartIntervalExclusive: number;
  startTimestamp: number;
  endTimestamp: number;
}

export type WindowDecision = { ok: true; window: KeyWindow } | { ok: false; status: 404 | 410; message: string };

export interface DayRules {
  enableEntirePeriodBundle: boolean;
  disableCurrentDateCheck: boolean;
}

/** Which keys `/retrieve/.../{day}` serves now, or why it serves none. */
/** A key must start after this interval to be of use to a phone now (14 days of keys). */
export function servableStartsAfter(nowMs: number): number {
  return currentRollingStartIntervalNumber(nowMs) - DAYS_SERVED * INTERVALS_PER_DAY;
}

export function keyWindow(day: string, nowMs: number, rules: DayRules): WindowDecision {
  const today = dateNumber(nowMs);
  const minRollingStartIntervalExclusive = servableStartsAfter(nowMs);
  const days = (first: number, end: number): WindowDecision => ({
    ok: true,
    window: {
      firstHour: first * 24,
      endHour: end * 24,
      minRollingStartIntervalExclusive,
      startTimestamp: first * SECONDS_PER_DAY,
      endTimestamp: end * SECONDS_PER_DAY,
    },
  });
  if (day === BUNDLE_DAY && rules.enableEntirePeriodBundle) return days(today - BUNDLE_DAYS, today);
  const n = Number(day);
  if (n > today) return { ok: false, status: 404, message: 'cannot request future data' };
  if (n < today - DAYS_SERVED) return { ok: false, status: 410, message: 'requested data no longer valid' };
  if (n === today && !rules.disableCurrentDateCheck) {
    return { ok: false, status: 404, message: 'cannot serve data for current period for privacy reasons' };
  }
  return days(n, n + 1);
}
