// Statistics tables (protocol §8): events, tek_upload_count, otk_life_duration.
// Each write is an upsert that adds, and runs inside the caller's transaction so a
// statistic is recorded exactly when the thing it counts is committed.
import type { Client, Pool } from '../db/pool.js';
import type { StoredCounts } from '../telemetry/metrics.js';
import { utcDate } from '../protocol/time.js';

export type ServerEvent = 'OTKGenerated' | 'OTKRegenerated' | 'OTKClaimed' | 'OTKUnclaimed' | 'OTKExpired' | 'OTKExpiredNoUploads' | 'OTKExhausted';

/** Events this server records itself, as against those the app reports. */
export const SERVER_DEVICE_TYPE = 'server';

/**
 * The statement that adds counts to events: `rows` yields (source, identifier, device_type,
 * date, count), as VALUES or a SELECT. The one place events are written.
 */
export function addEventsSql(rows: string): string {
  return `INSERT INTO events (source, identifier, device_type, date, count) ${rows}
    ON CONFLICT (source, identifier, device_type, date) DO UPDATE SET count = events.count + EXCLUDED.count`;
}

export async function recordEvent(client: Client, source: string, event: ServerEvent, nowMs: number, count = 1): Promise<void> {
  await client.query(addEventsSql('VALUES ($1, $2, $3, $4, $5)'), [source, event, SERVER_DEVICE_TYPE, utcDate(nowMs), count]);
}

export async function recordUpload(client: Client, originator: string, firstUpload: boolean, nowMs: number): Promise<void> {
  await client.query(
    `INSERT INTO tek_upload_count (originator, date, count, first_upload) VALUES ($1, $2, 1, $3)
     ON CONFLICT (originator, date, first_upload) DO UPDATE SET count = tek_upload_count.count + 1`,
    [originator, utcDate(nowMs), firstUpload],
  );
}

/** How long a one-time code lived before it was claimed, in whole hours. */
export async function recordOneTimeCodeLife(client: Client, originator: string, hours: number, nowMs: number): Promise<void> {
  await client.query(
    `INSERT INTO otk_life_duration (originator, hours, date, count) VALUES ($1, $2, $3, 1)
     ON CONFLICT (originator, hours, date) DO UPDATE SET count = otk_life_duration.count + 1`,
    [originator, hours, utcDate(nowMs)],
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

/** One day's rows of a statistics query whose only parameter ($1) is the date. */
const onDate =
  <T>(sql: string) =>
  async (db: Pool, date: string): Promise<T[]> =>
    (await db.query<T & object>(sql, [date])).rows;

export const eventsOn = onDate<EventRow>(
  `SELECT source, to_char(date, 'YYYY-MM-DD') AS date, sum(count)::int AS count, identifier
   FROM events WHERE date = $1 GROUP BY source, date, identifier ORDER BY source, identifier`,
);

export const uploadsOn = onDate<UploadRow>(
  `SELECT originator AS source, to_char(date, 'YYYY-MM-DD') AS date, count, first_upload
   FROM tek_upload_count WHERE date = $1 ORDER BY originator, first_upload`,
);

export const oneTimeCodeLivesOn = onDate<OneTimeCodeLifeRow>(
  `SELECT originator AS source, to_char(date, 'YYYY-MM-DD') AS date, hours, count
   FROM otk_life_duration WHERE date = $1 ORDER BY originator, hours`,
);
