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
  deleteOldKeyBatches,
  deleteOldKeyVersions,
  deleteOldPaddingKeys,
  deleteOldStatistics,
  deleteUnclaimedCodes,
  forgetClaimReplays,
} from './store.js';

/** Arbitrary, fixed, and distinct from the migration lock. */
const PURGE_LOCK = 0x5eed_0bad;

export interface PurgeCounts {
  diagnosisKeys: number;
  paddingKeys: number;
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
    const cutOffs = {
      firstHourKept: firstSubmissionHourKept(nowMs, rules),
      byRegion: rules.regionRetention.map((r) => ({ mcc: r.mcc, firstHourKept: firstSubmissionHourKept(nowMs, r) })),
    };
    // Batch records and versions go once no region keeps anything of their hours.
    const firstHourKept = Math.min(cutOffs.firstHourKept, ...cutOffs.byRegion.map((r) => r.firstHourKept));
    const diagnosisKeys = await deleteOldDiagnosisKeys(client, cutOffs);
    const paddingKeys = await deleteOldPaddingKeys(client, cutOffs);
    const unclaimedCodes = await deleteUnclaimedCodes(client, oneTimeCodesCreatedAfter(nowMs, rules), today);
    const expired = await deleteExpiredKeypairs(client, keypairsCreatedAfter(nowMs, rules), rules.initialRemainingKeys, today);
    const exhaustedKeypairs = await deleteExhaustedKeypairs(client, today);
    const claimFailureCounters = await deleteOldClaimFailures(client, claimFailuresLapsedAtOrBefore(nowMs, rules));
    const statistics = await deleteOldStatistics(client, firstStatisticsDateKept(nowMs));
    const claimReplays = await forgetClaimReplays(client, claimReplaysAfter(nowMs, rules));
    const counts: PurgeCounts = {
      diagnosisKeys,
      paddingKeys,
      unclaimedCodes,
      expiredKeypairs: expired.deleted,
      expiredKeypairsNoUploads: expired.unused,
      exhaustedKeypairs,
      claimFailureCounters,
      statistics,
    };
    const keyBatches = await deleteOldKeyBatches(client, firstHourKept);
    await deleteOldKeyVersions(client, firstHourKept);
    metrics.purged('diagnosis_keys', diagnosisKeys);
    metrics.purged('padding_keys', paddingKeys);
    metrics.purged('key_batches', keyBatches);
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
