// The four clocks of the protocol. All UTC, all derived from unix time.

export const SECONDS_PER_DAY = 86_400;
export const SECONDS_PER_HOUR = 3_600;
export const SECONDS_PER_INTERVAL = 600;
/** EN intervals in a day, and the longest valid rolling period. */
export const INTERVALS_PER_DAY = 144;

/** Where "now" comes from. Injected everywhere so tests can move time. */
export interface Clock {
  /** Milliseconds since the unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Date number D = floor(unix_seconds / 86400). */
export function dateNumber(ms: number): number {
  return Math.floor(ms / 1000 / SECONDS_PER_DAY);
}

/** Hour number H = floor(unix_seconds / 3600). */
export function hourNumber(ms: number): number {
  return Math.floor(ms / 1000 / SECONDS_PER_HOUR);
}

/** EN interval number = floor(unix_seconds / 600). */
export function intervalNumber(ms: number): number {
  return Math.floor(ms / 1000 / SECONDS_PER_INTERVAL);
}

/** Rolling start interval number of the current day: the first interval of today. */
export function currentRollingStartIntervalNumber(ms: number): number {
  return Math.floor(intervalNumber(ms) / INTERVALS_PER_DAY) * INTERVALS_PER_DAY;
}

/** Midnight UTC at the start of the day that contains `ms`. */
export function startOfUtcDay(ms: number): number {
  return dateNumber(ms) * SECONDS_PER_DAY * 1000;
}

/** ISO calendar date (YYYY-MM-DD) in UTC, the form statistics tables use. */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
