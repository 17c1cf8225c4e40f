// The retention purge (protocol §9): what is deleted, in which order, by whom. One runner
// at a time across all replicas (an advisory lock held for the pass); each step commits on
// its own, so a long step never holds the others back and a failure loses one step only.
import type { Logger } from 'pino';
import type { PurgeSettings } from '../config.js';
import { withAdvisoryLock, type Pool } from '../db/pool.js';
import {
  claimFailuresLapsedAtOrBefore,
  claimReplaysAfter,
  firstStatisticsDateKept,
  firstSubmissionHourKept,
  keypairsCreatedAfter,
  oneTimeCodesCreatedAfter,
} from '../protocol/retention.js';
import { utcDate, type Clock } from '../protocol/time.js';
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
  forgetClaimReplays,
} from './store.js';
import { errorFields } from '../logger.js';

/** Arbitrary, fixed, and distinct from the migration lock. */
const PURGE_LOCK = 0x5eed_0bad;

export interface PurgeCounts {
  diagnosisKeys: number;
  unclaimedCodes: number;
  expiredKeypairs: number;
  expiredKeypairsNoUploads: number;
  exhaustedKeypairs: number;
  claimFailureCounters: number;
  statistics: number;
}

export async function purgeOnce(
  pool: Pool,
  rules: PurgeSettings,
  clock: Clock,
  log: Logger,
  metrics: Metrics = noTelemetry.metrics,
): Promise<PurgeCounts> {
  return withAdvisoryLock(pool, PURGE_LOCK, async (client) => {
    const nowMs = clock.now();
    const today = utcDate(nowMs);
    // Each cut-off is the one the stores use to decide what is still valid.
    const firstHourKept = firstSubmissionHourKept(nowMs, rules);
    const diagnosisKeys = await deleteOldDiagnosisKeys(client, firstHourKept);
    const unclaimedCodes = await deleteUnclaimedCodes(client, oneTimeCodesCreatedAfter(nowMs, rules), today);
    const expired = await deleteExpiredKeypairs(client, keypairsCreatedAfter(nowMs, rules), rules.initialRemainingKeys, today);
    const exhaustedKeypairs = await deleteExhaustedKeypairs(client, today);
    const claimFailureCounters = await deleteOldClaimFailures(client, claimFailuresLapsedAtOrBefore(nowMs, rules));
    const statistics = await deleteOldStatistics(client, firstStatisticsDateKept(nowMs));
    const claimReplays = await forgetClaimReplays(client, claimReplaysAfter(nowMs, rules));
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
    metrics.purged('claim_replays', claimReplays);
    if (Object.values(counts).some((n) => n > 0)) log.info({ purged: counts }, 'purge');
    return counts;
  });
}

/**
 * Purges every `intervalMs` until stopped, counted from the end of the previous pass, so a
 * pass slower than the interval delays the next one rather than queueing passes behind it.
 * A failed pass is logged and the next one tried; `stop` waits for a pass in progress.
 */
export function startPurgeLoop(pool: Pool, rules: PurgeSettings, clock: Clock, log: Logger, metrics: Metrics): { stop: () => Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      current = purgeOnce(pool, rules, clock, log, metrics)
        .then(
          () => {},
          (err: unknown) => log.error(errorFields(err), 'purge failed'),
        )
        .finally(() => {
          if (!stopped) schedule();
        });
    }, rules.intervalMs);
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
