// Read-only SQL of key retrieval. Retrieval never writes: it may run on a read replica.
// With KEY_RELEASE=batched it serves only what a sealer released (release/), so a replica
// that lags serves an older set of whole batches, never part of one.
import { copyOut, type Client as PoolClient, type Pool } from '../db/pool.js';
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';
import type { KeyWindow } from '../protocol/retrieve.js';
import type { KeyRelease } from '../protocol/release.js';
import { keysFromBinaryCopy } from '../db/copy-binary.js';

/** Rows fetched per round trip while streaming a window's keys. */
const BATCH = 10_000;

const VERSION_SQL = `SELECT string_agg(hour_of_submission || ':' || version, ',' ORDER BY hour_of_submission) AS v
  FROM diagnosis_key_versions WHERE hour_of_submission >= $1 AND hour_of_submission < $2`;

/**
 * The versions of the window's submission hours (see migration 0002), as one string:
 * equal strings mean equal keys, whoever changed them and however.
 */
export async function windowVersion(db: Pool | PoolClient, window: KeyWindow): Promise<string> {
  // Named, so each connection parses and plans it once: it runs once per round trip of requests.
  const result = await db.query<{ v: string | null }>({ name: 'window-version', text: VERSION_SQL, values: [window.firstHour, window.endHour] });
  return result.rows[0]?.v ?? '';
}

export interface WindowKeys {
  /** The versions the keys below were read at (same snapshot). */
  version: string;
  batches: AsyncIterable<DiagnosisKey[]>;
}

/**
 * The SELECT of a window's keys. Immediate release (the original): the keys submitted in
 * the window's hours. Batched: the real and padding keys of the batches released in them,
 * which only a sealer ever sets. Either way only keys a phone can still match, by key_data.
 * COPY takes no bind parameters: every value is checked to be an integer or a 3-digit region.
 */
function windowKeysSql(region: string, window: KeyWindow, release: KeyRelease): string {
  if (![window.firstHour, window.endHour, window.minRollingStartIntervalExclusive].every(Number.isInteger) || !/^\d{3}$/.test(region)) {
    throw new Error('invalid key window');
  }
  const columns = 'key_data, rolling_start_interval_number, rolling_period, transmission_risk_level';
  const servable = `rolling_start_interval_number > ${window.minRollingStartIntervalExclusive} AND region = '${region}'`;
  if (release === 'immediate') {
    return `SELECT ${columns} FROM diagnosis_keys
      WHERE hour_of_submission >= ${window.firstHour} AND hour_of_submission < ${window.endHour} AND ${servable}
      ORDER BY key_data`;
  }
  const released = `released_in >= ${window.firstHour} AND released_in < ${window.endHour} AND ${servable}`;
  return `SELECT ${columns} FROM diagnosis_keys WHERE ${released}
    UNION ALL SELECT ${columns} FROM padding_keys WHERE ${released}
    ORDER BY key_data`;
}

/**
 * Streams a window's keys ordered by key_data, in batches, with a binary COPY in one
 * read-only repeatable-read transaction, so the version and the keys are one snapshot.
 * `use` must consume the batches before it returns.
 */
export async function withWindowKeys<T>(
  pool: Pool,
  region: string,
  window: KeyWindow,
  release: KeyRelease,
  use: (keys: WindowKeys) => Promise<T>,
): Promise<T> {
  const sql = windowKeysSql(region, window, release);
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Room to sort a full day (750,000 keys) in memory rather than in temporary files.
    await client.query("SET LOCAL work_mem = '128MB'");
    const version = await windowVersion(client, window);
    const copy = copyOut(client, `COPY (${sql}) TO STDOUT (FORMAT binary)`);
    const batches = keysFromBinaryCopy(copy, BATCH);
    const result = await use({ version, batches });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = true;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(failed);
  }
}
