// The retention purge against real Postgres (protocol §9): each threshold on both sides.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPool } from '../helpers/database.js';
import { purgeOnce } from '../../src/purge/purge.js';
import { dateNumber, utcDate } from '../../src/protocol/time.js';
import { claimedPhone, issueCode, makeKeys, Phone } from '../helpers/app-client.js';
import { ORIGINAL_BEHAVIOUR, startSystem, TestClock, type TestSystem } from '../helpers/servers.js';

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const log = pino({ level: 'silent' });
let system: TestSystem;
let NOW: number;

beforeAll(async () => {
  system = await startSystem(ORIGINAL_BEHAVIOUR);
  NOW = dateNumber(Date.now()) * DAY + 10 * HOUR;
  system.clock.ms = NOW;
});
afterAll(() => system.stop());

const purgeAt = (ms: number) => purgeOnce(system.db, system.config.purge!, new TestClock(ms), log);
const count = async (sql: string, params: unknown[] = []) => (await system.db.query(sql, params)).rows[0].n as number;
const eventCount = (identifier: string) =>
  count("SELECT coalesce(sum(count), 0)::int AS n FROM events WHERE identifier = $1 AND source = 'portal-one'", [identifier]);

async function withClock<T>(ms: number, work: () => Promise<T>): Promise<T> {
  system.clock.ms = ms;
  try {
    return await work();
  } finally {
    system.clock.ms = NOW;
  }
}

describe('retention purge', () => {
  it('deletes an unclaimed code once it is 1440 minutes old, counting OTKUnclaimed', async () => {
    const code = await issueCode(system.submissionUrl);
    const before = await eventCount('OTKUnclaimed');
    const live = () => count('SELECT count(*)::int AS n FROM encryption_keys WHERE one_time_code = $1', [code]);
    expect((await purgeAt(NOW + 24 * HOUR - 2 * SECOND)).unclaimedCodes).toBe(0);
    expect(await live()).toBe(1);
    expect((await purgeAt(NOW + 24 * HOUR + 2 * SECOND)).unclaimedCodes).toBe(1);
    expect(await live()).toBe(0);
    expect(await eventCount('OTKUnclaimed')).toBe(before + 1);
  });

  it('keeps keys from hour (D−15)·24 and deletes those an hour older', async () => {
    const firstKept = (dateNumber(NOW) - 15) * 24;
    const kept = makeKeys(1, NOW);
    const old = makeKeys(1, NOW);
    for (const [hour, keys] of [
      [firstKept, kept],
      [firstKept - 1, old],
    ] as const) {
      await withClock(hour * HOUR + 30 * 60_000, async () => {
        const phone = await claimedPhone(system.submissionUrl);
        expect((await phone.upload(system.submissionUrl, keys, system.clock.now())).status).toBe(200);
      });
    }
    const present = (k: typeof kept) => count('SELECT count(*)::int AS n FROM diagnosis_keys WHERE key_data = $1', [k[0]!.keyData]);
    expect((await purgeAt(NOW)).diagnosisKeys).toBe(1);
    expect(await present(kept)).toBe(1);
    expect(await present(old)).toBe(0);
  });

  it('deletes a claimed keypair exactly when it passes its claim-day midnight plus 15 days', async () => {
    const claimDay = dateNumber(NOW) - 3;
    const claimedAt = claimDay * DAY + 17 * HOUR;
    const [unused, used] = await withClock(claimedAt, async () => {
      const a = await claimedPhone(system.submissionUrl);
      const b = await claimedPhone(system.submissionUrl);
      expect((await b.upload(system.submissionUrl, makeKeys(2, claimedAt), claimedAt)).status).toBe(200);
      return [a, b];
    });
    const alive = (phone: Phone) => count('SELECT count(*)::int AS n FROM encryption_keys WHERE app_public_key = $1', [phone.keypair.publicKey]);
    const expiredBefore = await eventCount('OTKExpired');
    const noUploadsBefore = await eventCount('OTKExpiredNoUploads');
    const deadline = claimDay * DAY + 15 * DAY;

    await purgeAt(deadline - SECOND);
    expect(await alive(unused)).toBe(1);
    expect(await alive(used)).toBe(1);
    await purgeAt(deadline);
    expect(await alive(unused)).toBe(1);
    const purged = await purgeAt(deadline + SECOND);
    expect(purged).toMatchObject({ expiredKeypairs: 2, expiredKeypairsNoUploads: 1 });
    expect(await alive(unused)).toBe(0);
    expect(await alive(used)).toBe(0);
    expect(await eventCount('OTKExpired')).toBe(expiredBefore + 2);
    expect(await eventCount('OTKExpiredNoUploads')).toBe(noUploadsBefore + 1);
  });

  it('deletes a keypair whose quota is spent, counting OTKExhausted, and keeps its keys', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const keys = [...makeKeys(28, NOW), ...makeKeys(15, NOW)];
    expect((await phone.upload(system.submissionUrl, keys.slice(0, 28), NOW)).status).toBe(200);
    expect((await phone.upload(system.submissionUrl, keys.slice(28), NOW)).status).toBe(200);
    const before = await eventCount('OTKExhausted');
    expect((await purgeAt(NOW)).exhaustedKeypairs).toBe(1);
    expect(await eventCount('OTKExhausted')).toBe(before + 1);
    expect(await count('SELECT count(*)::int AS n FROM encryption_keys WHERE app_public_key = $1', [phone.keypair.publicKey])).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM diagnosis_keys WHERE key_data = ANY($1)', [keys.map((k) => k.keyData)])).toBe(43);
  });

  it('deletes claim failure counters an hour after the last failure', async () => {
    await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': '203.0.113.50' });
    const counters = () => count('SELECT count(*)::int AS n FROM failed_key_claim_attempts');
    const before = await counters();
    expect(before).toBeGreaterThan(0);
    await purgeAt(NOW + HOUR - SECOND);
    expect(await counters()).toBe(before);
    expect((await purgeAt(NOW + HOUR + SECOND)).claimFailureCounters).toBe(before);
    expect(await counters()).toBe(0);
  });

  it('keeps statistics for 21 days', async () => {
    const keptDate = utcDate(NOW - 21 * DAY);
    const oldDate = utcDate(NOW - 22 * DAY);
    for (const date of [keptDate, oldDate]) {
      await system.db.query("INSERT INTO events VALUES ('portal-x', 'OTKGenerated', 'server', $1, 3)", [date]);
      await system.db.query("INSERT INTO tek_upload_count VALUES ('portal-x', $1, 2, true)", [date]);
      await system.db.query("INSERT INTO otk_life_duration VALUES ('portal-x', 5, $1, 1)", [date]);
    }
    expect((await purgeAt(NOW)).statistics).toBe(3);
    expect(await count("SELECT count(*)::int AS n FROM events WHERE source = 'portal-x'")).toBe(1);
    expect(await count("SELECT count(*)::int AS n FROM tek_upload_count WHERE originator = 'portal-x' AND date = $1", [keptDate])).toBe(1);
  });

  it('lets two purgers run at once, each deletion counted once', async () => {
    const codes = await Promise.all(Array.from({ length: 20 }, () => issueCode(system.submissionUrl)));
    expect(codes).toHaveLength(20);
    const before = await eventCount('OTKUnclaimed');
    const other = testPool(system.databaseUrl);
    try {
      const later = new TestClock(NOW + 25 * HOUR);
      const [a, b] = await Promise.all([purgeOnce(system.db, system.config.purge!, later, log), purgeOnce(other, system.config.purge!, later, log)]);
      expect(a.unclaimedCodes + b.unclaimedCodes).toBe(20);
      expect(await eventCount('OTKUnclaimed')).toBe(before + 20);
    } finally {
      await other.end();
    }
  });
});
