// Real servers on real Postgres, listening on a loopback port, driven over HTTP.
import { pino } from 'pino';
import type pg from 'pg';
import { loadConfig, type Config, type Environment } from '../../src/config.js';
import { startRole, type Running } from '../../src/roles.js';
import type { Clock } from '../../src/protocol/time.js';
import { freshDatabaseUrl, testPool } from './database.js';

export const PORTAL_TOKEN = 'portal-token-0123456789abcdef';
export const SECOND_PORTAL_TOKEN = 'second-portal-token-0123456789';

/** A clock the test can move. */
export class TestClock implements Clock {
  constructor(public ms = Date.now()) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface TestSystem {
  submissionUrl: string;
  retrievalUrl: string;
  config: Config;
  clock: TestClock;
  /** For the test's own SQL against the same database. */
  db: pg.Pool;
  stop(): Promise<void>;
}

export async function startSystem(env: Environment = {}, clock = new TestClock()): Promise<TestSystem> {
  const databaseUrl = freshDatabaseUrl();
  const config = loadConfig(
    {
      DATABASE_URL: databaseUrl,
      KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=portal-one:${SECOND_PORTAL_TOKEN}=302`,
      BIND_ADDR: '127.0.0.1:0',
      ...env,
    },
    '/nonexistent',
  );
  const running: Running = await startRole('all', config, pino({ level: 'silent' }), clock);
  const db = testPool(databaseUrl);
  return {
    submissionUrl: running.urls['key-submission']!,
    retrievalUrl: running.urls['key-retrieval']!,
    config,
    clock,
    db,
    stop: async () => {
      await db.end();
      await running.stop();
    },
  };
}
