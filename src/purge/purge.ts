// The retention purge (protocol §9): what is deleted, in which order, by whom. One runner
// at a time across all replicas (an advisory lock held for the pass); each step commits on
// its own, so a long step never holds the others back and a failure loses one step only.
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import { dateNumber, utcDate, type Clock } from '../protocol/time.js';
import type { Metrics } from '../telemetry/metrics.js';
import { noTelemetry } from '../telemetry/telemetry.js';
import {
  deleteExhaustedKeypairs,
  deleteExpiredKeypairs,
  deleteOldClaimFailures,
  deleteOldDiagnosisKeys,
  deleteOldKeyVersions,
  deleteOldStatistics,
  deleteUnclaimedCodes,
} from './store.js';

/** Arbitrary, fixed, and distinct from the migration lock. */
const PURGE_LOCK = 0x5eed_0bad;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** Statistics carry no personal data, but nothing is kept past 21 days. */
export const STATISTICS_RETENTION_DAYS = 21;

export interface PurgeCounts {
  diagnosisKeys: number;
  unclaimedCodes: number;
  expiredKeypairs: number;
  expiredKeypairsNoUploads: number;
  exhaustedKeypairs: number;
  claimFailureCounters: number;
  statistics: number;
}

export async function purgeOnce(pool: Pool, config: Config, clock: Clock, log: Logger, metrics: Metrics = noTelemetry.metrics): Promise<PurgeCounts> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PURGE_LOCK]);
    try {
      const nowMs = clock.now();
      const today = utcDate(nowMs);
      const firstHourKept = (dateNumber(nowMs) - config.diagnosisKeyRetentionDays) * 24;
      const diagnosisKeys = await deleteOldDiagnosisKeys(client, firstHourKept);
      const unclaimedCodes = await deleteUnclaimedCodes(client, new Date(nowMs - config.oneTimeCodeExpiryMinutes * MINUTE), today);
      const expired = await deleteExpiredKeypairs(client, new Date(nowMs - config.encryptionKeyValidityDays * DAY), config.initialRemainingKeys, today);
      const exhaustedKeypairs = await deleteExhaustedKeypairs(client, today);
      const claimFailureCounters = await deleteOldClaimFailures(client, new Date(nowMs - config.claimKeyBanDurationMs));
      const statistics = await deleteOldStatistics(client, utcDate(nowMs - STATISTICS_RETENTION_DAYS * DAY));
      const counts: PurgeCounts = {
        diagnosisKeys,
        unclaimedCodes,
        expiredKeypairs: expired.deleted,
        expiredKeypairsNoUploads: expired.unused,
        exhaustedKeypairs,
        claimFailureCounters,
        statistics,
      };
      await deleteOldKeyVersions(client, firstHourKept);
      metrics.purged('diagnosis_keys', diagnosisKeys);
      metrics.purged('unclaimed_codes', unclaimedCodes);
      metrics.purged('expired_keypairs', expired.deleted);
      metrics.purged('exhausted_keypairs', exhaustedKeypairs);
      metrics.purged('claim_failure_counters', claimFailureCounters);
      metrics.purged('statistics', statistics);
      if (Object.values(counts).some((n) => n > 0)) log.info({ purged: counts }, 'purge');
      return counts;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PURGE_LOCK]);
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Purges every `intervalMs` until stopped. A failed pass is logged and the next one tried;
 * `stop` waits for a pass in progress.
 */
export function startPurgeLoop(pool: Pool, config: Config, clock: Clock, log: Logger, metrics: Metrics): { stop(): Promise<void> } {
  let current: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    current = current.then(() =>
      purgeOnce(pool, config, clock, log, metrics).catch((err: unknown) => log.error({ err: (err as Error).message }, 'purge failed')),
    );
  }, config.purgeIntervalMs);
  return {
    stop: async () => {
      clearInterval(timer);
      await current;
    },
  };
}
