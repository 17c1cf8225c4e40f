// SQL of key release (KEY_RELEASE=batched): sealing an hour's batch marks the keys it
// releases, adds its padding and records it, all in the sealer's one transaction.
import type { Client } from '../db/pool.js';
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';

/** Arbitrary, fixed, and distinct from the migration and purge locks. */
const SEAL_LOCK = 0x5eed_ba7c;

/** What padding copies from a released key: all of it but its key_data. */
export type ReleasedKey = Omit<DiagnosisKey, 'keyData'> & { region: string };
export type PaddingKey = DiagnosisKey & { region: string };

/** Makes sealers take turns until the transaction ends (one sealer per hour, whichever process). */
export async function lockSealing(client: Client): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SEAL_LOCK]);
}

export async function isSealed(client: Client, hour: number): Promise<boolean> {
  return ((await client.query('SELECT 1 FROM key_batches WHERE hour = $1', [hour])).rowCount ?? 0) > 0;
}

/**
 * Releases into `hour`'s batch every key not yet released whose release hour has come
 * (protocol/release.ts releaseHour, computed here from the stored columns, so that keys
 * stored by any means obey it) and that a phone can still match. Answers their metadata.
 */
export async function releaseKeys(client: Client, hour: number, embargoMinutes: number, servableStartsAfter: number): Promise<ReleasedKey[]> {
  const result = await client.query<{ region: string; s: number; p: number; r: number }>(
    `UPDATE diagnosis_keys SET released_in = $1
     WHERE released_in IS NULL AND hour_of_submission < $1
       AND greatest(hour_of_submission + 1,
                    ceil(((rolling_start_interval_number + rolling_period)::bigint * 600 + $2 * 60) / 3600.0)) <= $1
       AND rolling_start_interval_number > $3
     RETURNING region, rolling_start_interval_number AS s, rolling_period AS p, transmission_risk_level AS r`,
    [hour, embargoMinutes, servableStartsAfter],
  );
  return result.rows.map((row) => ({
    region: row.region,
    rollingStartIntervalNumber: row.s,
    rollingPeriod: row.p,
    transmissionRiskLevel: row.r,
  }));
}

/** Stores `hour`'s padding; answers how many went in (a key_data already taken is skipped). */
export async function insertPadding(client: Client, hour: number, keys: PaddingKey[]): Promise<number> {
  if (keys.length === 0) return 0;
  const result = await client.query(
    `INSERT INTO padding_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, region, hour_of_submission, released_in)
     SELECT k, s, p, r, g, $6, $6 FROM unnest($1::bytea[], $2::int[], $3::int[], $4::smallint[], $5::text[]) AS t(k, s, p, r, g)
     ON CONFLICT (key_data) DO NOTHING`,
    [
      keys.map((k) => k.keyData),
      keys.map((k) => k.rollingStartIntervalNumber),
      keys.map((k) => k.rollingPeriod),
      keys.map((k) => k.transmissionRiskLevel),
      keys.map((k) => k.region),
      hour,
    ],
  );
  return result.rowCount ?? 0;
}

export async function recordBatch(client: Client, batch: { hour: number; realKeys: number; paddingKeys: number; sealedAt: Date }): Promise<void> {
  await client.query('INSERT INTO key_batches (hour, real_keys, padding_keys, sealed_at) VALUES ($1, $2, $3, $4)', [
    batch.hour,
    batch.realKeys,
    batch.paddingKeys,
    batch.sealedAt,
  ]);
}
