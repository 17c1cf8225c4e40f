// KEY_RELEASE=batched over real HTTP and real Postgres: keys appear in files only in sealed,
// padded hourly batches, after they stopped being broadcast plus the embargo, and never
// fewer than k at a time; the files stay byte-stable across restarts and replicas.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeOnce } from '../../src/purge/purge.js';
import { sealDueBatch } from '../../src/release/seal.js';
import { currentRollingStartIntervalNumber, dateNumber, hourNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, type Key } from '../helpers/app-client.js';
import { delta, scrape } from '../helpers/metrics.js';
import { readKeyFile, retrieve } from '../helpers/phone-download.js';
import { startRetrievalReplica, startSystem, TestClock, type TestSystem } from '../helpers/servers.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const log = pino({ level: 'silent' });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Midnight UTC of the day the tests start on; each test moves its own clock from there. */
const midnight = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const today = currentRollingStartIntervalNumber(midnight);
const K = 1000;

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem({ KEY_RELEASE: 'batched' }, new TestClock(midnight + 10.5 * HOUR_MS));
});
afterAll(() => system?.stop());

const at = (ms: number) => (system.clock.ms = ms);
const seal = () => sealDueBatch(system.db, system.config.release!, system.clock, log);

async function keysOf(day: string | number, url = system.retrievalUrl): Promise<string[]> {
  const result = await retrieve(url, day, system.clock.now());
  expect(result.status).toBe(200);
  return (await readKeyFile(result.bytes)).exported.keys.map((k) => hex(k.keyData!));
}

/** Every key any file serves now: the 00000 bundle and each day a phone may ask for. */
async function everyFileServed(): Promise<Set<string>> {
  const d = dateNumber(system.clock.now());
  const days = ['00000', ...Array.from({ length: 15 }, (_, i) => d - i)];
  return new Set((await Promise.all(days.map((day) => keysOf(day)))).flat());
}

async function upload(keys: Key[]): Promise<void> {
  const phone = await claimedPhone(system.submissionUrl);
  expect((await phone.upload(system.submissionUrl, keys, system.clock.now())).status).toBe(200);
}

/** A key inserted by an operator's own SQL, with only the protocol §8 columns. */
async function insertBySql(rollingStartIntervalNumber: number, hourOfSubmission: number): Promise<string> {
  const key = randomBytes(16);
  await system.db.query(
    `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
     VALUES ($1, $2, 144, 1, $3, '302', 'operator')`,
    [key, rollingStartIntervalNumber, hourOfSubmission],
  );
  return hex(key);
}

describe('KEY_RELEASE=batched', () => {
  it('publishes a key only once its batch, after its end plus 2 h and after its hour, is sealed', async () => {
    at(midnight + 10.5 * HOUR_MS);
    const stillValid = makeKeys(1, system.clock.now(), { rollingStartIntervalNumber: today });
    const expiredTwoDaysAgo = makeKeys(1, system.clock.now(), { rollingStartIntervalNumber: today - 3 * 144 });
    await upload([...stillValid, ...expiredTwoDaysAgo]);
    const bySql = await insertBySql(today, hourNumber(midnight) + 9);
    const [valid, expired] = [hex(stillValid[0]!.keyData!), hex(expiredTwoDaysAgo[0]!.keyData!)];
    const served = async () => {
      const all = await everyFileServed();
      return [valid, expired, bySql].map((k) => all.has(k));
    };

    expect(await served()).toEqual([false, false, false]);
    // 11:05: hour 10 is sealed; the expired key was submitted in it, so it waits for hour 11.
    at(midnight + 11 * HOUR_MS + 5 * 60_000);
    await seal();
    expect(await served()).toEqual([false, false, false]);
    at(midnight + 12 * HOUR_MS + 5 * 60_000);
    await seal();
    expect(await served()).toEqual([false, true, false]);
    expect(new Set(await keysOf(dateNumber(midnight))).has(expired)).toBe(true);
    // Valid until midnight: releasable from 02:00 tomorrow, so not in hour 01's batch…
    at(midnight + DAY_MS + 2.5 * HOUR_MS);
    await seal();
    expect(await served()).toEqual([false, true, false]);
    // …but in hour 02's, sealed once 02:00–03:00 has passed. The row written by SQL too.
    at(midnight + DAY_MS + 3 * HOUR_MS + 60_000);
    await seal();
    expect(await served()).toEqual([true, true, true]);
    const tomorrow = new Set(await keysOf(dateNumber(midnight) + 1));
    expect([tomorrow.has(valid), tomorrow.has(bySql)]).toEqual([true, true]);
  });

  it('changes a file by no key or by at least k keys, batch after batch, late rows included', async () => {
    const start = midnight + 2 * DAY_MS;
    at(start + 5 * 60_000);
    await seal();
    const day = dateNumber(start);
    let previous = new Set(await keysOf(day));
    const differences: number[] = [];
    const check = async () => {
      const now = new Set(await keysOf(day));
      differences.push([...now].filter((k) => !previous.has(k)).length + [...previous].filter((k) => !now.has(k)).length);
      previous = now;
    };
    for (let hour = 0; hour < 5; hour++) {
      at(start + hour * HOUR_MS + 10 * 60_000);
      // A few keys that expired days ago each hour, and (hour 2) none at all.
      if (hour !== 2) await upload(makeKeys(1 + hour, system.clock.now() - 5 * DAY_MS));
      await check();
      at(start + (hour + 1) * HOUR_MS + 60_000);
      await seal();
      await check();
    }
    // Keys go out the hour after the one they came in: hour 4's upload is in hour 5's batch.
    at(start + 6 * HOUR_MS + 60_000);
    await seal();
    await check();
    // A row for an hour already sealed joins the next batch, never a published one.
    await insertBySql(today - 4 * 144, hourNumber(start) + 1);
    await check();
    at(start + 7 * HOUR_MS + 60_000);
    await seal();
    await check();
    expect(differences.filter((d) => d > 0 && d < K)).toEqual([]);
    // One upload per hour but the empty one, plus the late row: five new batches, each of at least k.
    expect(differences.filter((d) => d >= K)).toHaveLength(5);
    const batches = await system.db.query<{ real_keys: number; padding_keys: number }>(
      'SELECT real_keys, padding_keys FROM key_batches WHERE hour >= $1 AND real_keys > 0',
      [hourNumber(start)],
    );
    for (const b of batches.rows) {
      expect(b.real_keys + b.padding_keys).toBeGreaterThanOrEqual(K);
      expect(b.real_keys + b.padding_keys).toBeLessThanOrEqual(K + 100);
    }
  });

  it('serves the same bytes after a restart and from a second retrieval process, and purges padding with its batch', async () => {
    const start = midnight + 4 * DAY_MS;
    at(start + 30 * 60_000);
    await upload(makeKeys(3, system.clock.now(), { rollingStartIntervalNumber: today - 3 * 144 }));
    at(start + 2 * HOUR_MS + 60_000);
    await seal();
    const day = dateNumber(start);
    const first = await retrieve(system.retrievalUrl, day, system.clock.now());
    expect((await readKeyFile(first.bytes)).exported.keys.length).toBeGreaterThanOrEqual(K);

    const replica = await startRetrievalReplica(system);
    const fromReplica = await retrieve(replica.url, day, system.clock.now());
    await replica.stop();
    const restarted = await startSystem({ KEY_RELEASE: 'batched', DATABASE_URL: system.databaseUrl }, system.clock);
    const afterRestart = await retrieve(restarted.retrievalUrl, day, system.clock.now());
    await restarted.stop();
    expect(hex(fromReplica.bytes)).toBe(hex(first.bytes));
    expect(hex(afterRestart.bytes)).toBe(hex(first.bytes));
    expect(afterRestart.headers.get('etag')).toBe(first.headers.get('etag'));

    // Sixteen days on, the batch's padding and record go with its real keys.
    const hour = hourNumber(start) + 1;
    const count = async (sql: string) => (await system.db.query<{ n: number }>(sql, [hour])).rows[0]!.n;
    const padding = 'SELECT count(*)::int AS n FROM padding_keys WHERE released_in = $1';
    const record = 'SELECT count(*)::int AS n FROM key_batches WHERE hour = $1';
    const real = 'SELECT count(*)::int AS n FROM diagnosis_keys WHERE released_in = $1';
    expect([await count(real), await count(record)]).toEqual([3, 1]);
    expect(await count(padding)).toBeGreaterThanOrEqual(K - 3);
    const counts = await purgeOnce(system.db, system.config.purge!, new TestClock(start + 17 * DAY_MS), log);
    expect(counts.paddingKeys).toBeGreaterThanOrEqual(K - 3);
    expect([await count(real), await count(padding), await count(record)]).toEqual([0, 0, 0]);
  });

  it('is sealed by the purge loop of its own process, counted apart from real keys, with the age of the newest batch', async () => {
    const clock = new TestClock(Date.now());
    const looping = await startSystem(
      { KEY_RELEASE: 'batched', PURGE_INTERVAL_SECONDS: '1', METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' },
      clock,
    );
    try {
      const before = await scrape(looping.metricsUrl!);
      const phone = await claimedPhone(looping.submissionUrl);
      expect(
        (await phone.upload(looping.submissionUrl, makeKeys(2, clock.now(), { rollingStartIntervalNumber: today - 3 * 144 }), clock.now())).status,
      ).toBe(200);
      clock.advance(2 * HOUR_MS);
      const released = 'diagnosis_keys_released_total';
      let after = before;
      for (let i = 0; i < 50 && delta(before, after, released) < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await scrape(looping.metricsUrl!);
      }
      expect(delta(before, after, released)).toBe(2);
      const stored = async (table: string) => (await looping.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
      expect(delta(before, after, 'diagnosis_padding_keys_total')).toBe(await stored('padding_keys'));
      expect(await stored('padding_keys')).toBeGreaterThanOrEqual(K - 2);
      expect(delta(before, after, 'diagnosis_upload_keys_accepted_total{region="302"}')).toBe(2);
      // The stored-keys gauge (read at most every 5 s) counts real keys only.
      expect([0, 2]).toContain(after.get('diagnosis_keys_stored'));
      const newest = (await looping.db.query<{ h: number }>('SELECT max(hour) AS h FROM key_batches')).rows[0]!.h;
      expect(newest).toBe(hourNumber(clock.now()) - 1);
      // Gauges are read from the database at most every 5 s: wait for one read after the seal.
      const ageError = async () => {
        const age = (await scrape(looping.metricsUrl!)).get('diagnosis_newest_batch_age_seconds');
        return age === undefined ? Infinity : Math.abs(age - (Date.now() / 1000 - (newest + 1) * 3600));
      };
      let error = await ageError();
      for (let i = 0; i < 30 && error >= 60; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        error = await ageError();
      }
      expect(error).toBeLessThan(60);
    } finally {
      await looping.stop();
    }
  });
});
