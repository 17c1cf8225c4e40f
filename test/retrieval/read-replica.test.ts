// DATABASE_READER_URL: retrieval reads from the replica it names, and a key-retrieval
// process with one never connects to the writer. Two real databases stand in for writer
// and replica, holding different keys, so the file says which one was read.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { currentRollingStartIntervalNumber, dateNumber, hourNumber } from '../../src/protocol/time.js';
import { startRole } from '../../src/start.js';
import { freshDatabaseUrl } from '../helpers/database.js';
import { readKeyFile, retrieve } from '../helpers/phone-download.js';
import { EXPORT_KEYS, RETRIEVE_HMAC_KEY, startSystem, type TestSystem } from '../helpers/servers.js';

const replicaUrl = freshDatabaseUrl();
let replica: TestSystem;
let system: TestSystem;
const yesterday = dateNumber(Date.now()) - 1;

async function insertKey(db: TestSystem['db']): Promise<string> {
  const key = randomBytes(16);
  await db.query(
    `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
     VALUES ($1, $2, 144, 1, $3, '302', 'test')`,
    [key, currentRollingStartIntervalNumber(Date.now()) - 144, hourNumber(Date.now()) - 24],
  );
  return key.toString('hex');
}

async function keysServed(retrievalUrl: string): Promise<string[]> {
  const result = await retrieve(retrievalUrl, yesterday, Date.now());
  expect(result.status).toBe(200);
  return (await readKeyFile(result.bytes)).exported.keys.map((k) => Buffer.from(k.keyData!).toString('hex'));
}

beforeAll(async () => {
  // A system on the replica's database only migrates it and lets the test fill it.
  replica = await startSystem({ DATABASE_URL: replicaUrl });
  system = await startSystem({ DATABASE_READER_URL: replicaUrl });
});
afterAll(async () => {
  await system.stop();
  await replica.stop();
});

describe('DATABASE_READER_URL', () => {
  it('serves the replica’s keys, not the writer’s', async () => {
    const onReplica = await insertKey(replica.db);
    const onWriter = await insertKey(system.db);
    expect(await keysServed(system.retrievalUrl)).toEqual([onReplica]);
    expect(await keysServed(replica.retrievalUrl)).toEqual([onReplica]);
    expect(onWriter).not.toBe(onReplica);
  });

  it('is all key-retrieval needs: the writer is never connected to', async () => {
    const env = {
      // Nothing listens on port 1: any connection to the writer would fail the start.
      DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:1/writer',
      DATABASE_READER_URL: replicaUrl,
      RETRIEVE_HMAC_KEY,
      ECDSA_KEY: EXPORT_KEYS.ecdsaKey,
      BIND_ADDR: '127.0.0.1:0',
      KEY_RELEASE: 'immediate',
    };
    const running = await startRole('key-retrieval', loadConfig(env, 'key-retrieval'), pino({ level: 'silent' }));
    try {
      expect((await keysServed(running.urls['key-retrieval']!)).length).toBeGreaterThan(0);
    } finally {
      await running.stop();
    }
  });
});
