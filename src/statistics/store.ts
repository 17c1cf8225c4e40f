// Statistics tables (protocol §8): events, tek_upload_count, otk_life_duration.
// A request appends its statistic to a log table inside its own transaction, so it is
// recorded exactly when the thing it counts is committed, without queueing on a row that
// every request of its portal and day would update; the writer folds the logs into the
// tables (migration 0007), and the reads for /events add up both.
import type { Client, Pool } from '../db/pool.js';
import type { StoredCounts } from '../telemetry/metrics.js';
import { utcDate } from '../protocol/time.js';

export type ServerEvent = 'OTKGenerated' | 'OTKRegenerated' | 'OTKClaimed' | 'OTKUnclaimed' | 'OTKExpired' | 'OTKExpiredNoUploads' | 'OTKExhausted';

/** Events this server records itself, as against those the app reports. */
export const SERVER_DEVICE_TYPE = 'server';

/** Who a statistic is of: the portal (originator label) and the region its codes issue for. */
export interface StatisticSource {
  originator: string;
  region: string;
}

/**
 * The statement that adds counts to events: `rows` yields (source, identifier, device_type,
 * date, count, region), as VALUES or a SELECT. The one place events are written.
 */
export function addEventsSql(rows: string): string {
  return `INSERT INTO events (source, identifier, device_type, date, count, region) ${rows}
    ON CONFLICT (source, identifier, device_type, date, region) DO UPDATE SET count = events.count + EXCLUDED.count`;
}

export async function recordEvent(client: Client, source: StatisticSource, event: ServerEvent, nowMs: number, count = 1): Promise<void> {
  await client.query('INSERT INTO events_log (source, identifier, device_type, date, count, region) VALUES ($1, $2, $3, $4, $5, $6)', [
    source.originator,
    event,
    SERVER_DEVICE_TYPE,
    utcDate(nowMs),
    count,
    source.region,
  ]);
}

// An upload's statistic is logged by store_diagnosis_keys (migration 0008), in its one call.

// A claim's statistics (OTKClaimed, the code's life) are logged by its one statement in
// submission/store.ts.

/**
 * Moves every logged statistic into its table, in one statement: a log row is either
 * still in its log or added to its table, never both and never neither, whoever reads and
 * however many writers fold at once (a second one finds the rows gone). Answers the rows moved.
 */
export async function foldStatisticsLogs(db: Pool | Client): Promise<number> {
  const result = await db.query<{ folded: number }>(
    `WITH e AS (DELETE FROM events_log RETURNING *),
          e_added AS (${addEventsSql('SELECT source, identifier, device_type, date, sum(count)::int, region FROM e GROUP BY 1, 2, 3, 4, 6')} RETURNING 1),
          t AS (DELETE FROM tek_upload_log RETURNING *),
          t_added AS (
            INSERT INTO tek_upload_count AS c (originator, date, count, first_upload, region)
            SELECT originator, date, count(*), first_upload, region FROM t GROUP BY originator, date, first_upload, region
            ON CONFLICT (originator, date, first_upload, region) DO UPDATE SET count = c.count + EXCLUDED.count RETURNING 1),
          o AS (DELETE FROM otk_life_log RETURNING *),
          o_added AS (
            INSERT INTO otk_life_duration AS d (originator, hours, date, count, region)
            SELECT originator, hours, date, count(*), region FROM o GROUP BY originator, hours, date, region
            ON CONFLICT (originator, hours, date, region) DO UPDATE SET count = d.count + EXCLUDED.count RETURNING 1)
     SELECT ((SELECT count(*) FROM e) + (SELECT count(*) FROM t) + (SELECT count(*) FROM o))::int AS folded`,
  );
  return result.rows[0]!.folded;
}

/** Codes not yet claimed, keypairs claimed, and keys stored: the gauges operators watch. */
export async function storedCounts(db: Pool): Promise<StoredCounts> {
  const result = await db.query<StoredCounts>(
    `SELECT (SELECT count(*) FROM encryption_keys WHERE app_public_key IS NULL)::int AS unclaimed,
            (SELECT count(*) FROM encryption_keys WHERE app_public_key IS NOT NULL)::int AS claimed,
            (SELECT count(*) FROM diagnosis_keys)::int AS keys,
            (SELECT max(hour) FROM key_batches) AS "newestBatchHour",
            ((SELECT count(*) FROM events_log) + (SELECT count(*) FROM tek_upload_log) + (SELECT count(*) FROM otk_life_log))::int AS "unfoldedStatistics"`,
  );
  return result.rows[0]!;
}

// Reads for /events (protocol §5.3): one day's statistics, per source.

export interface EventRow {
  source: string;
  date: string;
  count: number;
  identifier: string;
}
export interface UploadRow {
  source: string;
  date: string;
  count: number;
  first_upload: boolean;
}
export interface OneTimeCodeLifeRow {
  source: string;
  date: string;
  hours: number;
  count: number;
}

/**
 * One day's rows of a statistics query on $1, the date, and $2, one region or (null) all of
 * them, summed: with one region served, the answer is the original's.
 */
const onDate =
  <T>(sql: string) =>
  async (db: Pool, date: string, region: string | undefined): Promise<T[]> =>
    (await db.query<T & object>(sql, [date, region ?? null])).rows;

// Each adds up a table and its log in one statement, so one snapshot: a fold in between
// moves counts from one to the other and changes no answer.
export const eventsOn = onDate<EventRow>(
  `SELECT source, to_char(date, 'YYYY-MM-DD') AS date, sum(count)::int AS count, identifier
   FROM (SELECT source, identifier, date, count, region FROM events
         UNION ALL SELECT source, identifier, date, count, region FROM events_log) AS e
   WHERE date = $1 AND ($2::text IS NULL OR region = $2) GROUP BY source, date, identifier ORDER BY source, identifier`,
);

export const uploadsOn = onDate<UploadRow>(
  `SELECT originator AS source, to_char(date, 'YYYY-MM-DD') AS date, sum(count)::int AS count, first_upload
   FROM (SELECT originator, date, count, first_upload, region FROM tek_upload_count
         UNION ALL SELECT originator, date, 1, first_upload, region FROM tek_upload_log) AS t
   WHERE date = $1 AND ($2::text IS NULL OR region = $2)
   GROUP BY originator, date, first_upload ORDER BY originator, first_upload`,
);

export const oneTimeCodeLivesOn = onDate<OneTimeCodeLifeRow>(
  `SELECT originator AS source, to_char(date, 'YYYY-MM-DD') AS date, hours, sum(count)::int AS count
   FROM (SELECT originator, hours, date, count, region FROM otk_life_duration
         UNION ALL SELECT originator, hours, date, 1, region FROM otk_life_log) AS o
   WHERE date = $1 AND ($2::text IS NULL OR region = $2)
   GROUP BY originator, date, hours ORDER BY originator, hours`,
);
