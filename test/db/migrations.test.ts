// Migrations that move data, applied to a database holding rows of the schema before them.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { migrate } from '../../src/db/migrate.js';
import { ensureDatabase } from '../../src/db/pool.js';
import { freshDatabaseUrl, testPool } from '../helpers/database.js';

const url = freshDatabaseUrl();
let db: ReturnType<typeof testPool>;
beforeAll(async () => {
  db = testPool(url);
  await ensureDatabase(url, db, pino({ level: 'silent' }), { queryMs: undefined, connectMs: 10_000 });
});
afterAll(() => db?.end());

/** Applies migrations/ up to, not including, `version`, as migrate() would have. */
async function migrateUpTo(version: string): Promise<void> {
  await db.query('CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  for (const file of (await readdir('migrations')).filter((f) => f.endsWith('.sql')).sort()) {
    if (file >= version) break;
    await db.query(await readFile(`migrations/${file}`, 'utf8'));
    await db.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file.replace(/\.sql$/, '')]);
  }
}

describe('migration 0011: start interval counts in the keypair row', () => {
  it("moves every keypair's counts into its row, once per stored key, and drops the table", async () => {
    await migrateUpTo('0011');
    const keypair = () => [randomBytes(32), randomBytes(32)];
    const [counted, untouched] = [keypair(), keypair()];
    for (const [privateKey, publicKey] of [counted, untouched]) {
      await db.query('INSERT INTO encryption_keys (server_private_key, server_public_key, remaining_keys) VALUES ($1, $2, 40)', [
        privateKey,
        publicKey,
      ]);
    }
    await db.query('INSERT INTO keypair_start_intervals VALUES ($1, 2_700_000, 2), ($1, 2_700_144, 1)', [counted[1]]);

    expect(await migrate(db, pino({ level: 'silent' }))).toContain('0011_keypair_start_intervals_in_row');
    const rows = await db.query<{ k: Buffer; s: number[] }>('SELECT server_public_key AS k, stored_start_intervals AS s FROM encryption_keys');
    const intervals = new Map(rows.rows.map((r) => [r.k.toString('hex'), r.s]));
    expect(intervals.get(counted[1]!.toString('hex'))).toEqual([2_700_000, 2_700_000, 2_700_144]);
    expect(intervals.get(untouched[1]!.toString('hex'))).toEqual([]);
    expect((await db.query("SELECT to_regclass('keypair_start_intervals') AS t")).rows[0].t).toBeNull();
  });
});
