// Group commit of uploads (migration 0009, submission/upload-groups.ts) on real Postgres:
// uploads sharing one call and one commit, each still all-or-nothing on its own.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { DiagnosisKey } from '../../src/protocol/diagnosis-key.js';
import { hourNumber } from '../../src/protocol/time.js';
import { storeUploads, type UploadToStore } from '../../src/submission/store.js';
import { claimedPhone, makeKeys, type Key, type Phone } from '../helpers/app-client.js';
import { delta, scrape } from '../helpers/metrics.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  // One group in flight: every upload that arrives while it runs waits for the next one.
  system = await startSystem({ COMMIT_GROUPS_IN_FLIGHT: '1', METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' });
});
afterAll(() => system.stop());

const now = () => system.clock.now();
const rules = () => system.config.submission!;
const asStored = (keys: Key[]): DiagnosisKey[] =>
  keys.map((k) => ({
    keyData: Buffer.from(k.keyData!),
    rollingStartIntervalNumber: k.rollingStartIntervalNumber!,
    rollingPeriod: k.rollingPeriod!,
    transmissionRiskLevel: k.transmissionRiskLevel!,
  }));
const upload = (phone: Phone, keys: Key[]): UploadToStore => ({ serverPublicKey: phone.serverPublicKey!, keys: asStored(keys), nowMs: now() });
const storedCount = async (keys: Key[]) =>
  (await system.db.query('SELECT count(*)::int AS n FROM diagnosis_keys WHERE key_data = ANY($1)', [keys.map((k) => k.keyData)])).rows[0].n;
const remaining = async (phone: Phone) =>
  (await system.db.query('SELECT remaining_keys FROM encryption_keys WHERE server_public_key = $1', [phone.serverPublicKey])).rows[0].remaining_keys;
const hourVersion = async () =>
  (await system.db.query('SELECT version FROM diagnosis_key_versions WHERE hour_of_submission = $1', [hourNumber(now())])).rows[0]?.version;

/** Phones in the order of their server keys, which is the order a group locks them in. */
async function phonesInKeyOrder(n: number): Promise<Phone[]> {
  const phones = await Promise.all(Array.from({ length: n }, () => claimedPhone(system.submissionUrl)));
  return phones.sort((a, b) => Buffer.compare(a.serverPublicKey!, b.serverPublicKey!));
}

/** A key whose key_data starts with `first`, so that its place in key_data order is known. */
const keyStarting = (first: number, template: Key): Key => ({ ...template, keyData: Buffer.concat([Buffer.from([first]), randomBytes(15)]) });

/** Blocked on a lock: how many of our group calls are. */
async function untilWaiting(n: number) {
  for (let i = 0; i < 500; i++) {
    const waiting = await system.db.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%store_diagnosis_key_uploads%'",
    );
    if (waiting.rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${n} calls never waited`);
}

/**
 * Starts each call while another transaction holds `keys` inserted and uncommitted, one
 * after the other once the one before is blocked on a lock, then rolls the holder back.
 */
async function whileHeld<T>(keys: Key[], calls: (() => Promise<T>)[]): Promise<T[]> {
  const holder: pg.PoolClient = await system.db.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(
      `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
       SELECT k, 1, 144, 1, 1, '302', 'holder' FROM unnest($1::bytea[]) AS k`,
      [keys.map((k) => k.keyData)],
    );
    const pending: Promise<T>[] = [];
    for (const call of calls) {
      pending.push(call());
      await untilWaiting(pending.length);
    }
    await holder.query('ROLLBACK');
    return await Promise.all(pending);
  } finally {
    // Should a call never have waited, the holder still lets go, and leaves no transaction open.
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
  }
}

describe('a group of uploads in one call', () => {
  it('stores each upload or none of it, on its own, and bumps the hour’s version once', async () => {
    const [full, second, third] = await phonesInKeyOrder(3);
    // 40 of its 43 keys spent: 5 more is over its quota.
    expect(await storeUploads(system.db, rules(), [upload(full!, makeKeys(40, now()))])).toMatchObject([{ stored: true, newKeys: 40 }]);
    const before = await hourVersion();
    const group = [makeKeys(3, now()), makeKeys(5, now()), makeKeys(4, now()), makeKeys(2, now())];
    const results = await storeUploads(system.db, rules(), [
      upload(second!, group[0]!),
      upload(full!, group[1]!),
      upload(third!, group[2]!),
      // The same keypair twice in one group: the second sees the first's spending.
      upload(second!, group[3]!),
    ]);
    expect(results).toEqual([
      { stored: true, newKeys: 3, region: '302' },
      { stored: false, reason: 'over-quota' },
      { stored: true, newKeys: 4, region: '302' },
      { stored: true, newKeys: 2, region: '302' },
    ]);
    expect(await Promise.all(group.map(storedCount))).toEqual([3, 0, 4, 2]);
    expect(await Promise.all([full, second, third].map((p) => remaining(p!)))).toEqual([3, 38, 39]);
    // One commit, one note of the hour: its version moves by one, not by three.
    expect(Number(await hourVersion())).toBe(Number(before) + 1);
  });

  it('answers a keypair that is gone, and stores the rest', async () => {
    const [phone] = await phonesInKeyOrder(1);
    const keys = makeKeys(2, now());
    const results = await storeUploads(system.db, rules(), [
      { serverPublicKey: randomBytes(32), keys: asStored(makeKeys(1, now())), nowMs: now() },
      upload(phone!, keys),
    ]);
    expect(results).toEqual([
      { stored: false, reason: 'keypair-gone' },
      { stored: true, newKeys: 2, region: '302' },
    ]);
  });

  it('locks keypairs in one order, so two groups naming them in opposite orders never deadlock', async () => {
    const [a, b] = await phonesInKeyOrder(2);
    const template = makeKeys(1, now())[0]!;
    // Each group's first upload waits on a key another transaction holds; once it lets go,
    // groups that locked a and b crosswise would each wait for the other.
    const held = [keyStarting(0x01, template), keyStarting(0x02, template)];
    const results = await whileHeld(held, [
      () => storeUploads(system.db, rules(), [upload(a!, [held[0]!]), upload(b!, makeKeys(1, now()))]),
      () => storeUploads(system.db, rules(), [upload(b!, [held[1]!]), upload(a!, makeKeys(1, now()))]),
    ]);
    expect(results.flat().map((r) => r.stored)).toEqual([true, true, true, true]);
  });

  it('makes a group that spends a keypair wait for the one holding it, never spend it twice', async () => {
    const [phone] = await phonesInKeyOrder(1);
    expect(await storeUploads(system.db, rules(), [upload(phone!, makeKeys(42, now()))])).toMatchObject([{ stored: true, newKeys: 42 }]);
    const template = makeKeys(1, now())[0]!;
    const held = keyStarting(0x03, template);
    // The first group holds the keypair, one key left, while it waits on a key held
    // elsewhere; the second must wait for it, and then find the keypair spent.
    const results = await whileHeld(
      [held],
      [
        () => storeUploads(system.db, rules(), [upload(phone!, [held])]),
        () => storeUploads(system.db, rules(), [upload(phone!, makeKeys(1, now()))]),
      ],
    );
    expect(results).toEqual([[{ stored: true, newKeys: 1, region: '302' }], [{ stored: false, reason: 'keypair-exhausted' }]]);
    expect(await remaining(phone!)).toBe(0);
  });

  it('gives back the upload that lost a deadlock as a conflict, having stored nothing of it', async () => {
    const [a, b, c, d] = await phonesInKeyOrder(4);
    const template = makeKeys(1, now())[0]!;
    const [k5, k6, k7] = [keyStarting(0x05, template), keyStarting(0x06, template), keyStarting(0x07, template)];
    const shift = (key: Key, by: number) => ({ ...key, rollingStartIntervalNumber: key.rollingStartIntervalNumber! - by });
    // The first group stores k5, then waits on k7 (held); the second stores k6, then waits on
    // k5 (the first's). Let go of k7, and the first wants k6: each waits for the other.
    const results = await whileHeld(
      [k7],
      [
        () => storeUploads(system.db, rules(), [upload(a!, [k5, shift(k7, 1)]), upload(b!, [shift(k6, 2)])]),
        () => storeUploads(system.db, rules(), [upload(c!, [k6]), upload(d!, [shift(k5, 3)])]),
      ],
    );
    const outcomes = results.flat();
    const conflicts = outcomes.filter((r) => !r.stored && r.reason === 'conflict');
    expect(conflicts).toHaveLength(1);
    expect(outcomes.filter((r) => r.stored)).toHaveLength(3);
    // The loser spent no quota, and its group's other key, stored by the winner meanwhile,
    // was a duplicate for the other: only two keypairs spent anything.
    const left = await Promise.all([a, b, c, d].map((p) => remaining(p!)));
    expect(left.sort((x, y) => x - y)).toEqual([41, 42, 43, 43]);
  });
});

describe('/upload under concurrent phones', () => {
  it('keeps the quota exact under 100 uploads at once on one keypair, in groups running side by side', async () => {
    // Small groups, sixteen at once: the keypair's row lock is all that keeps them apart.
    const many = await startSystem({ DATABASE_URL: system.databaseUrl, COMMIT_GROUP_MAX: '2', COMMIT_GROUPS_IN_FLIGHT: '16' });
    onTestFinished(() => many.stop());
    const phone = await claimedPhone(many.submissionUrl);
    // One key each, every one of its own start interval: only the quota limits them.
    const keys = makeKeys(100, now());
    const results = await Promise.all(keys.map((key) => phone.upload(many.submissionUrl, [key], now())));
    expect(results.filter((r) => r.status === 200)).toHaveLength(43);
    expect(results.filter((r) => r.status === 400)).toHaveLength(57);
    expect(await storedCount(keys)).toBe(43);
    expect(await remaining(phone)).toBe(0);
  });

  it('shares commits between uploads that arrive together, and answers each', async () => {
    const phones = await Promise.all(Array.from({ length: 24 }, () => claimedPhone(system.submissionUrl)));
    const before = await scrape(system.metricsUrl!);
    const keys = phones.map(() => makeKeys(14, now()));
    const results = await Promise.all(phones.map((phone, i) => phone.upload(system.submissionUrl, keys[i]!, now())));
    expect(results.map((r) => r.status)).toEqual(phones.map(() => 200));
    expect(await Promise.all(keys.map(storedCount))).toEqual(phones.map(() => 14));
    const after = await scrape(system.metricsUrl!);
    const groups = delta(before, after, 'diagnosis_commit_group_size_count{call="upload_store"}');
    expect(delta(before, after, 'diagnosis_commit_group_size_sum{call="upload_store"}')).toBe(24);
    // Some uploads waited for a running group and shared the next commit.
    expect(groups).toBeGreaterThan(0);
    expect(groups).toBeLessThan(24);
  });
});
