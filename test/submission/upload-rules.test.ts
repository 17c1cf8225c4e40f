// The upload rules this server adds to the protocol (MAX_KEYS_PER_START_INTERVAL,
// REFUSE_FUTURE_KEYS, DROP_UNSERVABLE_KEYS), over HTTP on real Postgres, each with its metric,
// and each one setting away from the original's behaviour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadError } from '../../src/protocol/messages.js';
import { servableStartsAfter } from '../../src/protocol/retrieve.js';
import { currentRollingStartIntervalNumber, intervalNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, type Key, type Phone } from '../helpers/app-client.js';
import { delta, scrape } from '../helpers/metrics.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
let original: TestSystem;
beforeAll(async () => {
  [system, original] = await Promise.all([
    startSystem({ METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' }),
    startSystem({ MAX_KEYS_PER_START_INTERVAL: '0', REFUSE_FUTURE_KEYS: 'false', DROP_UNSERVABLE_KEYS: 'false' }),
  ]);
});
afterAll(() => Promise.all([system?.stop(), original?.stop()]));

const now = () => system.clock.now();
const stored = async (s: TestSystem, keys: Key[]) =>
  (await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM diagnosis_keys WHERE key_data = ANY($1)', [keys.map((k) => k.keyData)])).rows[0]!
    .n;
const remaining = async (s: TestSystem, phone: Phone) =>
  (await s.db.query<{ r: number }>('SELECT remaining_keys AS r FROM encryption_keys WHERE app_public_key = $1', [phone.keypair.publicKey])).rows[0]!
    .r;
const upload = async (s: TestSystem, phone: Phone, keys: Key[]) => {
  const result = await phone.upload(s.submissionUrl, keys, s.clock.now());
  return `${result.status} ${UploadError[result.response.error]}`;
};
const refusedForInterval = (rule: string) => `diagnosis_upload_rejections_total{error="INVALID_ROLLING_START_INTERVAL_NUMBER",rule="${rule}"}`;

describe('upload rules', () => {
  it('stores at most 3 keys of one start interval per keypair, over all its uploads', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const today = currentRollingStartIntervalNumber(now());
    const sameStart = () => makeKeys(1, now(), { rollingStartIntervalNumber: today });
    const first = [...sameStart(), ...sameStart()];
    const before = await scrape(system.metricsUrl!);
    expect(await upload(system, phone, first)).toBe('200 NONE');
    expect(await upload(system, phone, [...sameStart(), ...makeKeys(2, now(), { rollingStartIntervalNumber: today - 144 })])).toBe('200 NONE');
    // A fourth key of today's interval, with another that would fit: the whole upload is refused.
    const fourth = [...sameStart(), ...makeKeys(1, now(), { rollingStartIntervalNumber: today - 288 })];
    expect(await upload(system, phone, fourth)).toBe('400 INVALID_ROLLING_START_INTERVAL_NUMBER');
    expect(await stored(system, fourth)).toBe(0);
    expect(await remaining(system, phone)).toBe(43 - 5);
    // Keys already stored cost nothing, so the app may send the same upload again.
    expect(await upload(system, phone, first)).toBe('200 NONE');
    const after = await scrape(system.metricsUrl!);
    expect(delta(before, after, refusedForInterval('start_interval_limit'))).toBe(1);
    // The counts live in the keypair's row, one entry per stored key, and go with it.
    const counts = 'SELECT stored_start_intervals AS s FROM encryption_keys WHERE server_public_key = $1';
    const intervals = async () => (await system.db.query<{ s: number[] }>(counts, [phone.serverPublicKey])).rows[0]?.s.sort();
    expect(await intervals()).toEqual([today - 144, today - 144, today, today, today]);
    await system.db.query('DELETE FROM encryption_keys WHERE server_public_key = $1', [phone.serverPublicKey]);
    expect(await intervals()).toBeUndefined();

    // The original: any number.
    const free = await claimedPhone(original.submissionUrl);
    const four = Array.from({ length: 4 }, () => makeKeys(1, now(), { rollingStartIntervalNumber: today })[0]!);
    expect(await upload(original, free, four.slice(0, 2))).toBe('200 NONE');
    expect(await upload(original, free, four.slice(2))).toBe('200 NONE');
    expect(await stored(original, four)).toBe(4);
  });

  it('refuses an upload with a key that starts after the current interval, storing nothing', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const current = intervalNumber(now());
    const keys = [...makeKeys(2, now()), ...makeKeys(1, now(), { rollingStartIntervalNumber: current + 1 })];
    const before = await scrape(system.metricsUrl!);
    expect(await upload(system, phone, keys)).toBe('400 INVALID_ROLLING_START_INTERVAL_NUMBER');
    expect(await stored(system, keys)).toBe(0);
    expect(delta(before, await scrape(system.metricsUrl!), refusedForInterval('future_key'))).toBe(1);
    expect(await upload(system, phone, makeKeys(1, now(), { rollingStartIntervalNumber: current }))).toBe('200 NONE');

    const free = await claimedPhone(original.submissionUrl);
    const future = makeKeys(1, now(), { rollingStartIntervalNumber: current + 1 });
    expect(await upload(original, free, future)).toBe('200 NONE');
    expect(await stored(original, future)).toBe(1);
  });

  it('stores none of the keys too old to serve, charges no quota for them, and keeps the rest', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const cutOff = servableStartsAfter(now());
    const old = makeKeys(2, now(), { rollingStartIntervalNumber: cutOff });
    const fresh = makeKeys(3, now());
    const before = await scrape(system.metricsUrl!);
    expect(await upload(system, phone, [...old, ...fresh])).toBe('200 NONE');
    expect([await stored(system, old), await stored(system, fresh), await remaining(system, phone)]).toEqual([0, 3, 40]);
    const after = await scrape(system.metricsUrl!);
    expect(delta(before, after, 'diagnosis_upload_keys_dropped_total{reason="unservable"}')).toBe(2);
    expect(delta(before, after, 'diagnosis_upload_keys_accepted_total{region="302"}')).toBe(3);

    const free = await claimedPhone(original.submissionUrl);
    expect(await upload(original, free, old)).toBe('200 NONE');
    expect(await stored(original, old)).toBe(2);
  });
});
