// Which signing keys sign a key file now. While a key is rotated, two (or more) are valid
// at once and a file carries a signature of each; phones that trust either accept it.
import { hourNumber, SECONDS_PER_HOUR } from './time.js';

export interface SigningKeyValidity {
  /** From this instant (ms); undefined: always. */
  notBeforeMs: number | undefined;
  /** Until just before this instant (ms); undefined: for ever. */
  notAfterMs: number | undefined;
}

/**
 * The keys valid at the start of the current hour, in the order configured. The hour,
 * not the instant: replicas building a file in the same hour sign it alike, and the
 * retrieve URL changes hourly anyway.
 */
export function signingKeysAt<T extends SigningKeyValidity>(keys: readonly T[], nowMs: number): T[] {
  const hourStart = hourNumber(nowMs) * SECONDS_PER_HOUR * 1000;
  return keys.filter((k) => (k.notBeforeMs === undefined || k.notBeforeMs <= hourStart) && (k.notAfterMs === undefined || hourStart < k.notAfterMs));
}
