// A fresh database per test file, on the run's Postgres. The server under test creates it
// on first connect, as it does in production.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { withDatabase } from '../../src/db/pool.js';

export function freshDatabaseUrl(): string {
  return withDatabase(inject('postgresUrl'), `test_${randomBytes(6).toString('hex')}`);
}

/** A pool for the test's own SQL: checking rows, moving time, breaking things on purpose. */
export function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // Tests restart Postgres and terminate backends on purpose: an idle connection of the
  // test's own that goes with them is no failure of the test.
  pool.on('error', () => {});
  return pool;
}
