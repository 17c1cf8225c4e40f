// SQL of the retention purge (protocol §9). Each step is one statement, so one
// transaction: the rows it deletes and the business events that count them commit together.
import type { Client } from '../db/pool.js';
import { addEventsSql, SERVER_DEVICE_TYPE, type ServerEvent } from '../statistics/store.js';

/**
 * Wraps a `DELETE … RETURNING originator, region[, no_uploads]` so that the same statement
 * adds one event per originator and region, dated $1, and answers how many rows went (and
 * how many had no uploads). The DELETE's own parameters start at $2.
 */
function deleteCountingEvents(deleteSql: string, event: ServerEvent, noUploadsEvent?: ServerEvent): string {
  const noUploads = noUploadsEvent ? `UNION ALL SELECT source, region, '${noUploadsEvent}', n_unused FROM counted WHERE n_unused > 0` : '';
  return `
    WITH deleted AS (${deleteSql}),
    counted AS (
      SELECT coalesce(originator, '') AS source, region, count(*)::int AS n,
             ${noUploadsEvent ? 'count(*) FILTER (WHERE no_uploads)::int' : '0'} AS n_unused
      FROM deleted GROUP BY 1, 2
    ),
    recorded AS (${addEventsSql(`
      SELECT source, identifier, '${SERVER_DEVICE_TYPE}', $1::date, n, region FROM (
        SELECT source, region, '${event}' AS identifier, n FROM counted ${noUploads}
      ) AS e`)}
    )
    SELECT coalesce(sum(n), 0)::int AS deleted, coalesce(sum(n_unused), 0)::int AS unused FROM counted`;
}

async function run(client: Client, sql: string, date: string, params: unknown[]): Promise<{ deleted: number; unused: number }> {
  return (await client.query<{ deleted: number; unused: number }>(sql, [date, ...params])).rows[0]!;
}

/** A cut-off per region: `firstHourKept` for every region but those `byRegion` names. */
export interface HourCutOffs {
  firstHourKept: number;
  byRegion: { mcc: string; firstHourKept: number }[];
}

/** `table`'s rows older than their region's cut-off; `hourColumn` is what the cut-off applies to. */
async function deleteByRegionCutOff(
  client: Client,
  table: 'diagnosis_keys' | 'padding_keys',
  hourColumn: string,
  cutOffs: HourCutOffs,
): Promise<number> {
  const others = cutOffs.byRegion.map((r) => r.mcc);
  let deleted =
    (await client.query(`DELETE FROM ${table} WHERE ${hourColumn} < $1 AND region <> ALL($2::text[])`, [cutOffs.firstHourKept, others])).rowCount ??
    0;
  for (const region of cutOffs.byRegion) {
    deleted +=
      (await client.query(`DELETE FROM ${table} WHERE ${hourColumn} < $1 AND region = $2`, [region.firstHourKept, region.mcc])).rowCount ?? 0;
  }
  return deleted;
}

export async function deleteOldDiagnosisKeys(client: Client, cutOffs: HourCutOffs): Promise<number> {
  return deleteByRegionCutOff(client, 'diagnosis_keys', 'hour_of_submission', cutOffs);
}

/** Padding of batches sealed before the first hour kept: the rule of real keys, as its hour is the batch's. */
export async function deleteOldPaddingKeys(client: Client, cutOffs: HourCutOffs): Promise<number> {
  return deleteByRegionCutOff(client, 'padding_keys', 'released_in', cutOffs);
}

/** The records of those batches, after their padding went (in a later transaction). */
export async function deleteOldKeyBatches(client: Client, firstHourKept: number): Promise<number> {
  return (await client.query('DELETE FROM key_batches WHERE hour < $1', [firstHourKept])).rowCount ?? 0;
}

/** Versions of hours no window reaches any more (after their keys went, in a later transaction). */
export async function deleteOldKeyVersions(client: Client, firstHourKept: number): Promise<number> {
  return (await client.query('DELETE FROM diagnosis_key_versions WHERE hour_of_submission < $1', [firstHourKept])).rowCount ?? 0;
}

export async function deleteUnclaimedCodes(client: Client, createdBefore: Date, date: string): Promise<number> {
  const sql = deleteCountingEvents(
    'DELETE FROM encryption_keys WHERE app_public_key IS NULL AND created < $2 RETURNING originator, region',
    'OTKUnclaimed',
  );
  return (await run(client, sql, date, [createdBefore])).deleted;
}

export async function deleteExpiredKeypairs(
  client: Client,
  createdBefore: Date,
  initialRemainingKeys: number,
  date: string,
): Promise<{ deleted: number; unused: number }> {
  const sql = deleteCountingEvents(
    'DELETE FROM encryption_keys WHERE app_public_key IS NOT NULL AND created < $2 RETURNING originator, region, remaining_keys = $3 AS no_uploads',
    'OTKExpired',
    'OTKExpiredNoUploads',
  );
  return run(client, sql, date, [createdBefore, initialRemainingKeys]);
}

export async function deleteExhaustedKeypairs(client: Client, date: string): Promise<number> {
  const sql = deleteCountingEvents('DELETE FROM encryption_keys WHERE remaining_keys = 0 RETURNING originator, region', 'OTKExhausted');
  return (await run(client, sql, date, [])).deleted;
}

export async function deleteOldClaimFailures(client: Client, lastFailureBefore: Date): Promise<number> {
  return (await client.query('DELETE FROM failed_key_claim_attempts WHERE last_failure < $1', [lastFailureBefore])).rowCount ?? 0;
}

/** Statistics rows dated before `firstDateKept`, in all three tables and their logs at once. */
export async function deleteOldStatistics(client: Client, firstDateKept: string): Promise<number> {
  const result = await client.query<{ deleted: number }>(
    `WITH e AS (DELETE FROM events WHERE date < $1 RETURNING 1),
          t AS (DELETE FROM tek_upload_count WHERE date < $1 RETURNING 1),
          o AS (DELETE FROM otk_life_duration WHERE date < $1 RETURNING 1),
          el AS (DELETE FROM events_log WHERE date < $1 RETURNING 1),
          tl AS (DELETE FROM tek_upload_log WHERE date < $1 RETURNING 1),
          ol AS (DELETE FROM otk_life_log WHERE date < $1 RETURNING 1)
     SELECT ((SELECT count(*) FROM e) + (SELECT count(*) FROM t) + (SELECT count(*) FROM o)
           + (SELECT count(*) FROM el) + (SELECT count(*) FROM tl) + (SELECT count(*) FROM ol))::int AS deleted`,
    [firstDateKept],
  );
  return result.rows[0]!.deleted;
}

/** Forgets what recognises a repeated claim (the code's keyed hash) once its window is past. */
export async function forgetClaimReplays(client: Client, claimedBefore: Date): Promise<number> {
  const result = await client.query(
    'UPDATE encryption_keys SET claimed_code_hash = NULL, claimed_at = NULL WHERE claimed_at IS NOT NULL AND claimed_at <= $1',
    [claimedBefore],
  );
  return result.rowCount ?? 0;
}
