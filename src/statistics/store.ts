// Statistics tables (protocol §8): events, tek_upload_count, otk_life_duration.
// Each write is an upsert that adds, and runs inside the caller's transaction so a
// statistic is recorded exactly when the thing it counts is committed.
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
  await client.query(addEventsSql('VALUES ($1, $2, $3, $4, $5, $6)'), [
    source.originator,
    event,
    SERVER_DEVICE_TYPE,
    utcDate(nowMs),
    count,
    source.region,
  ]);
}

export async function recordUpload(client: Client, source: StatisticSource, firstUpload: boolean, nowMs: number): Promise<void> {
  await client.query(
    `INSERT INTO tek_upload_count (originator, date, count, first_upload, region) VALUES ($1, $2, 1, $3, $4)
     ON CONFLICT (originator, date, first_upload, region) DO UPDATE SET count = tek_upload_count.count + 1`,
    [source.originator, utcDate(nowMs), firstUpload, source.region],
  );
}

/** How long a one-time code lived before it was claimed, in whole hours. */
export async function recordOneTimeCodeLife(client: Client, source: StatisticSource, hours: number, nowMs: number): Promise<void> {
  await client.query(
    `INSERT INTO otk_life_duration (originator, hours, date, count, region) VALUES ($1, $2, $3, 1, $4)
     ON CONFLICT (originator, hours, date, region) DO UPDATE SET count = otk_life_duration.count + 1`,
    [source.originator, hours, utcDate(nowMs), source.region],
  );
}

/** Codes not yet claimed, keypairs claimed, and keys stored: the gauges operators watch. */
export async function storedCounts(db: Pool): Promise<StoredCounts> {
  const result = await db.query<StoredCounts>(
    `SELECT (SELECT count(*) FROM encryption_keys WHERE app_public_key IS NULL)::int AS unclaimed,
            (SELECT count(*) FROM encryption_keys WHERE app_public_key IS NOT NULL)::int AS claimed,
            (SELECT count(*) FROM diagnosis_keys)::int AS keys,
            (SELECT max(hour) FROM key_batches) AS "newestBatchHour"`,
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

export const eventsOn = onDate<EventRow>(
  `SELECT source, to_char(date, 'YYYY-MM-DD') AS date, sum(count)::int AS count, identifier
   FROM events WHERE date = $1 AND ($2::text IS NULL OR region = $2) GROUP BY source, date, identifier ORDER BY source, identifier`,
);

export const uploadsOn = onDate<UploadRow>(
  `SELECT originator AS source, to_char(date, 'YYYY-MM-DD') AS date, sum(count)::int AS count, first_upload
   FROM tek_upload_count WHERE date = $1 AND ($2::text IS NULL OR region = $2)
   GROUP BY originator, date, first_upload ORDER BY originator, first_upload`,
);

export const oneTimeCodeLivesOn = onDate<OneTimeCodeLifeRow>(
  `SELECT originator AS source, to_char(date, 'YYYY-MM-DD') AS date, hours, sum(count)::int AS count
   FROM otk_life_duration WHERE date = $1 AND ($2::text IS NULL OR region = $2)
   GROUP BY originator, date, hours ORDER BY originator, hours`,
);
