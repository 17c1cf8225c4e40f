// Two `purge` processes started at once on one database, as two replicas of a scheduled
// job would be: the hour that passed is sealed once, its keys released once, padded once.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentRollingStartIntervalNumber, hourNumber } from '../../src/protocol/time.js';
import { freshDatabaseUrl, testPool } from '../helpers/database.js';

const CLI = path.resolve('dist/bundle/cli.mjs');

function purgeProcess(databaseUrl: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'purge'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('concurrent sealers', () => {
  it('seal each hour once, however many processes try at the same moment', async () => {
    const url = freshDatabaseUrl();
    // The schema first, so that the keys can go in before the sealers start.
    expect((await purgeProcess(url)).code).toBe(0);
    const db = testPool(url);
    try {
      await db.query('DELETE FROM key_batches');
      const now = Date.now();
      // Keys an operator's SQL wrote five hours ago, which stopped being broadcast days ago.
      const keys = Array.from({ length: 40 }, () => randomBytes(16));
      await db.query(
        `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
         SELECT k, $2, 144, 1, $3, '302', 'operator' FROM unnest($1::bytea[]) AS k`,
        [keys, currentRollingStartIntervalNumber(now) - 3 * 144, hourNumber(now) - 5],
      );
      const results = await Promise.all([purgeProcess(url), purgeProcess(url), purgeProcess(url)]);
      expect(results.map((r) => [r.code, r.stderr])).toEqual(results.map(() => [0, '']));

      const batches = (await db.query<{ hour: number; real_keys: number; padding_keys: number }>('SELECT * FROM key_batches ORDER BY hour')).rows;
      // Should the hour turn between two of them, the later one seals the next hour, with nothing left to release.
      const withKeys = batches.filter((b) => b.real_keys > 0);
      expect(withKeys).toHaveLength(1);
      expect(withKeys[0]).toMatchObject({ real_keys: 40 });
      const released = await db.query<{ released_in: number; n: number }>(
        'SELECT released_in, count(*)::int AS n FROM diagnosis_keys GROUP BY released_in',
      );
      expect(released.rows).toEqual([{ released_in: withKeys[0]!.hour, n: 40 }]);
      const padding = await db.query<{ released_in: number; n: number }>(
        'SELECT released_in, count(*)::int AS n FROM padding_keys GROUP BY released_in',
      );
      expect(padding.rows).toEqual([{ released_in: withKeys[0]!.hour, n: withKeys[0]!.padding_keys }]);
      expect(withKeys[0]!.padding_keys).toBeGreaterThanOrEqual(1000 - 40);
    } finally {
      await db.end();
    }
  });
});
