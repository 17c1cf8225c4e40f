// Statistics that requests log are folded into their tables by any number of writers at
// once, each logged row counted exactly once, and /events adds up both meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldStatisticsLogs, uploadsOn } from '../../src/statistics/store.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system?.stop());

describe('folding the statistics logs', () => {
  it('moves every logged upload once, however many writers fold at the same time', async () => {
    const date = '2026-11-30';
    await system.db.query(
      `INSERT INTO tek_upload_log (originator, date, first_upload, region)
       SELECT 'portal-fold', $1, i % 3 = 0, '302' FROM generate_series(1, 3000) AS i`,
      [date],
    );
    const before = await uploadsOn(system.db, date, undefined);
    const folds = await Promise.all(Array.from({ length: 6 }, () => foldStatisticsLogs(system.db)));
    expect(folds.reduce((a, b) => a + b, 0)).toBe(3000);
    const left = await system.db.query<{ n: number }>('SELECT count(*)::int AS n FROM tek_upload_log');
    expect(left.rows[0]!.n).toBe(0);
    const after = await uploadsOn(system.db, date, undefined);
    expect(after).toEqual(before);
    expect(after).toEqual([
      { source: 'portal-fold', date, count: 2000, first_upload: false },
      { source: 'portal-fold', date, count: 1000, first_upload: true },
    ]);
  });
});
