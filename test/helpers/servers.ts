// Real servers on real Postgres, listening on a loopback port, driven over HTTP.
import { pino, type Logger } from 'pino';
import type pg from 'pg';
import { loadConfig, type Config, type Environment } from '../../src/config.js';
import { startRole, type Running } from '../../src/start.js';
import type { Clock } from '../../src/protocol/time.js';
import { freshDatabaseUrl, testPool } from './database.js';
import { generateSecrets } from '../../src/crypto/key-generation.js';

export const PORTAL_TOKEN = 'portal-token-0123456789abcdef';
/** The retrieve HMAC key of the protocol's test vectors (40 bytes). */
export const RETRIEVE_HMAC_KEY = '3631313045444b345742464633504e44524a3457494855505639593136464a3846584d4c59334d30';
/** One signing key per test file, so systems started in one file can be compared byte for byte. */
export const EXPORT_KEYS = generateSecrets();
export const SECOND_PORTAL_TOKEN = 'second-portal-token-0123456789';

/**
 * The original server's behaviour where this one adds rules: keys served as soon as they
 * are stored, and uploads accepted as the protocol alone says. For the tests that hold
 * the protocol to the byte (and upload keys at times long past, or in any number).
 */
export const ORIGINAL_BEHAVIOUR = {
  KEY_RELEASE: 'immediate',
  MAX_KEYS_PER_START_INTERVAL: '0',
  REFUSE_FUTURE_KEYS: 'false',
  DROP_UNSERVABLE_KEYS: 'false',
} as const;

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
  databaseUrl: string;
  /** With METRIC_PROVIDER=prometheus. */
  metricsUrl: string | undefined;
  config: Config;
  clock: TestClock;
  /** For the test's own SQL against the same database. */
  db: pg.Pool;
  /** The writer's chores (purge, sealing) now, at the system's clock. */
  runChores: () => Promise<void>;
  stop(): Promise<void>;
}

/** Both servers in one process on a fresh database (or on `env.DATABASE_URL`). */
export async function startSystem(env: Environment = {}, clock = new TestClock(), log: Logger = pino({ level: 'silent' })): Promise<TestSystem> {
  const databaseUrl = env.DATABASE_URL ?? freshDatabaseUrl();
  const config = loadConfig(
    {
      DATABASE_URL: databaseUrl,
      KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=portal-one:${SECOND_PORTAL_TOKEN}=302`,
      BIND_ADDR: '127.0.0.1:0',
      RETRIEVE_HMAC_KEY,
      ECDSA_KEY: EXPORT_KEYS.ecdsaKey,
      METRICS_USERNAME: 'metrics-user',
      METRICS_PASSWORD: 'metrics-password',
      // Tests run the purge themselves, at the times they choose.
      PURGE_INTERVAL_SECONDS: '3600',
      // Keys are served the moment they are stored, as by the original server, so that a test
      // of anything else can see its keys in a file at once; the tests of batched release
      // (test/release/) pass KEY_RELEASE=batched and seal the batches themselves.
      KEY_RELEASE: 'immediate',
      ...env,
    },
    'all',
  );
  const running: Running = await startRole('all', config, log, clock);
  const db = testPool(databaseUrl);
  return {
    submissionUrl: running.urls['key-submission']!,
    retrievalUrl: running.urls['key-retrieval']!,
    databaseUrl,
    metricsUrl: running.urls.metrics,
    config,
    clock,
    db,
    runChores: running.runChores!,
    stop: async () => {
      await db.end();
      await running.stop();
    },
  };
}

/** Another key-retrieval server on an existing database, as a second replica would be. */
export async function startRetrievalReplica(system: TestSystem): Promise<{ url: string; stop(): Promise<void> }> {
  const config = { ...system.config, service: { ...system.config.service, listen: { host: '127.0.0.1', port: 0 } } };
  const running = await startRole('key-retrieval', config, pino({ level: 'silent' }), system.clock);
  return { url: running.urls['key-retrieval']!, stop: running.stop };
}
