// Sealing (KEY_RELEASE=batched): once an hour has passed, the keys whose release hour has
// come are published together as that hour's batch, padded with generated keys so that
// no batch holds fewer than EXPORT_MIN_KEYS_PER_BATCH. One transaction per batch, and one
// sealer at a time across every process, so each hour is sealed exactly once; an hour no
// sealer saw (none was running) is never sealed, and its keys go in the next batch.
// With no sealer running nothing new is published: release fails closed.
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { inTransaction, type Pool } from '../db/pool.js';
import { hourToSeal, paddingCount, type ReleaseRules } from '../protocol/release.js';
import { servableStartsAfter } from '../protocol/retrieve.js';
import type { Clock } from '../protocol/time.js';
import type { Metrics } from '../telemetry/metrics.js';
import { noTelemetry } from '../telemetry/telemetry.js';
import { insertPadding, isSealed, lockSealing, recordBatch, releaseKeys, type PaddingKey, type ReleasedKey } from './store.js';

export interface SealedBatch {
  hour: number;
  realKeys: number;
  paddingKeys: number;
}

/**
 * Seals the hour that last passed, unless it is sealed already. (Not "unless a later one
 * is": a sealer whose clock is behind another's, or a simulation that moves the clock,
 * may seal an earlier hour after a later one; it finds released whatever the later batch
 * took, and a batch of its own for whatever has come due since, which is as private.)
 */
export async function sealDueBatch(
  pool: Pool,
  rules: ReleaseRules,
  clock: Clock,
  log: Logger,
  metrics: Metrics = noTelemetry.metrics,
): Promise<SealedBatch | undefined> {
  const started = performance.now();
  const sealed = await inTransaction(pool, async (client) => {
    await lockSealing(client);
    const nowMs = clock.now();
    const hour = hourToSeal(nowMs);
    if (await isSealed(client, hour)) return undefined;
    const released = await releaseKeys(client, hour, rules.embargoMinutes, servableStartsAfter(nowMs));
    const paddingKeys = await insertPadding(client, hour, padding(released, rules));
    const batch = { hour, realKeys: released.length, paddingKeys };
    await recordBatch(client, { ...batch, sealedAt: new Date(nowMs) });
    return batch;
  });
  if (sealed) {
    const seconds = (performance.now() - started) / 1000;
    metrics.batchSealed(sealed.realKeys, sealed.paddingKeys, seconds);
    if (sealed.realKeys > 0) log.info({ batch: sealed, ms: Math.round(seconds * 1000) }, 'sealed batch');
  }
  return sealed;
}

/**
 * Generated keys for a batch, per region: random key_data, and the metadata of a real key
 * of the batch drawn at random for each, so that a file shows the same mix of intervals,
 * periods and risk levels whichever keys are real.
 */
function padding(released: ReleasedKey[], rules: ReleaseRules): PaddingKey[] {
  const byRegion = new Map<string, ReleasedKey[]>();
  for (const key of released) {
    const region = byRegion.get(key.region);
    if (region) region.push(key);
    else byRegion.set(key.region, [key]);
  }
  const keys: PaddingKey[] = [];
  for (const real of byRegion.values()) {
    const count = paddingCount(real.length, rules, randomInt(rules.paddingJitter + 1));
    const keyData = randomBytes(16 * count);
    for (let i = 0; i < count; i++) {
      keys.push({ ...real[randomInt(real.length)]!, keyData: keyData.subarray(i * 16, i * 16 + 16) });
    }
  }
  return keys;
}
