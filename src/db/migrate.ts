// Applies migrations/*.sql in name order, each in its own transaction, recorded in
// schema_migrations. An advisory lock serialises replicas that start together.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { packagePath } from '../package-root.js';
import type { Logger } from 'pino';
import { withAdvisoryLock, type Pool } from './pool.js';

const MIGRATIONS_DIR = packagePath('migrations');
/** Arbitrary, fixed: every process of this server takes the same lock. */
const MIGRATION_LOCK = 0x5eed_c0de;

export async function migrate(pool: Pool, log: Logger): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  await withAdvisoryLock(pool, MIGRATION_LOCK, async (client) => {
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const sql = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(version);
      log.info({ migration: version }, 'applied migration');
    }
  });
  return applied;
}
