// When a stored key may be published (KEY_RELEASE=batched), and how a batch is padded.
// Pure rules: the sealer's SQL computes the same release hour in the database, so that
// rows written by any means obey it.
import type { DiagnosisKey } from './diagnosis-key.js';
import { hourNumber, SECONDS_PER_HOUR, SECONDS_PER_INTERVAL } from './time.js';

/** How stored keys become public. */
export type KeyRelease = 'batched' | 'immediate';

export interface ReleaseRules {
  /** After a key has stopped being broadcast, how long before it may be published. */
  embargoMinutes: number;
  /** A sealed batch with any real key is padded to at least this many keys… */
  minKeysPerBatch: number;
  /** …plus a uniformly random 0..paddingJitter more, so that its size tells nothing either. */
  paddingJitter: number;
}

/**
 * The first hour whose batch may hold the key: R = max(H + 1, ⌈(end of the key's validity
 * + embargo) / 1 h⌉). Not before the hour after its submission, so that it never joins
 * keys uploaded in the same hour as it; not before it has stopped being broadcast plus the
 * embargo, so that nobody can still hear it when it is published.
 */
export function releaseHour(
  key: Pick<DiagnosisKey, 'rollingStartIntervalNumber' | 'rollingPeriod'>,
  hourOfSubmission: number,
  embargoMinutes: number,
): number {
  const endSeconds = (key.rollingStartIntervalNumber + key.rollingPeriod) * SECONDS_PER_INTERVAL;
  return Math.max(hourOfSubmission + 1, Math.ceil((endSeconds + embargoMinutes * 60) / SECONDS_PER_HOUR));
}

/** The hour a sealer seals at `nowMs`: the last one that has wholly passed. */
export function hourToSeal(nowMs: number): number {
  return hourNumber(nowMs) - 1;
}

/**
 * Padding keys a batch of `realKeys` gets: none for an empty batch (it publishes nothing),
 * else up to minKeysPerBatch + `jitter`, where `jitter` is drawn uniformly from 0..paddingJitter.
 */
export function paddingCount(realKeys: number, rules: Pick<ReleaseRules, 'minKeysPerBatch'>, jitter: number): number {
  if (realKeys === 0) return 0;
  return Math.max(0, rules.minKeysPerBatch + jitter - realKeys);
}
