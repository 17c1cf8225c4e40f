// /retrieve over HTTP against real Postgres (protocol §5.1 and §7).
import { randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { covidshield } from '../../generated/covidshield.js';
import { currentRollingStartIntervalNumber, dateNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, request, type Key } from '../helpers/app-client.js';
import { readKeyFile, retrieve, retrievePath } from '../helpers/phone-download.js';
import { EXPORT_KEYS, ORIGINAL_BEHAVIOUR, startRetrievalReplica, startSystem, type TestSystem } from '../helpers/servers.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
let system: TestSystem;
/** "Now" for every test: the middle of a day. */
let NOW: number;
let TODAY: number;

beforeAll(async () => {
  system = await startSystem(ORIGINAL_BEHAVIOUR);
  TODAY = dateNumber(Date.now());
  NOW = TODAY * DAY + 13 * HOUR + 17 * 60_000;
  system.clock.ms = NOW;
});
afterAll(() => system.stop());

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Uploads keys as a phone would at `ms` (the clock is put back afterwards). */
async function uploadAt(ms: number, keys: Key[]): Promise<void> {
  system.clock.ms = ms;
  try {
    const phone = await claimedPhone(system.submissionUrl);
    const result = await phone.upload(system.submissionUrl, keys, ms);
    expect(result.status).toBe(200);
  } finally {
    system.clock.ms = NOW;
  }
}

async function keysOfDay(day: string | number): Promise<string[]> {
  const result = await retrieve(system.retrievalUrl, day, NOW);
  expect(result.status).toBe(200);
  return (await readKeyFile(result.bytes)).exported.keys.map((k) => hex(k.keyData!));
}

describe('/retrieve authentication and method', () => {
  it('accepts the HMAC of the current hour and its neighbours only', async () => {
    for (const offset of [-1, 0, 1]) {
      expect((await request(system.retrievalUrl + retrievePath(TODAY - 1, NOW, offset))).status).toBe(200);
    }
    for (const offset of [-2, 2]) {
      const result = await request(system.retrievalUrl + retrievePath(TODAY - 1, NOW, offset));
      expect(result.status).toBe(401);
      expect(result.text).toBe('unauthorized\n');
    }
  });

  it('refuses malformed and wrong HMACs with 401, before looking at the method', async () => {
    const good = retrievePath(TODAY - 1, NOW);
    const base = good.slice(0, good.lastIndexOf('/') + 1);
    const mac = good.slice(good.lastIndexOf('/') + 1);
    for (const bad of ['', mac.slice(1), mac + '0', 'z'.repeat(64), randomBytes(32).toString('hex'), `${mac}/x`]) {
      for (const method of ['GET', 'POST', 'HEAD']) {
        const result = await request(system.retrievalUrl + base + bad, { method });
        expect(result.status, `${method} ${bad}`).toBe(401);
      }
    }
    // An HMAC for another day does not open this one.
    const other = retrievePath(TODAY - 2, NOW);
    expect((await request(system.retrievalUrl + base + other.slice(other.lastIndexOf('/') + 1))).status).toBe(401);
    // Upper-case hex is the same HMAC.
    expect((await request(system.retrievalUrl + base + mac.toUpperCase())).status).toBe(200);
  });

  it('answers 405 to anything but GET once the HMAC is good, HEAD included', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']) {
      const result = await request(system.retrievalUrl + retrievePath(TODAY - 1, NOW), { method });
      expect(result.status, method).toBe(405);
      if (method !== 'HEAD') expect(result.text).toBe('method not allowed\n');
    }
  });

  it('answers 404 for a missing or malformed segment', async () => {
    const mac = retrievePath(TODAY - 1, NOW)
      .split('/')
      .pop()!;
    for (const path of [
      '/retrieve',
      '/retrieve/302',
      `/retrieve/302/${TODAY - 1}`,
      `/retrieve/30/${TODAY - 1}/${mac}`,
      `/retrieve/302/${TODAY - 1}0/${mac}`,
      `/retrieve/3a2/${TODAY - 1}/${mac}`,
    ]) {
      const result = await request(system.retrievalUrl + path);
      expect(result.status, path).toBe(404);
      expect(result.text).toBe('404 page not found\n');
    }
  });
});

describe('/retrieve day rules', () => {
  it('serves the last 14 days and today, and refuses the future and the expired', async () => {
    const future = await retrieve(system.retrievalUrl, TODAY + 1, NOW);
    expect(future.status).toBe(404);
    expect(future.text).toBe('cannot request future data\n');
    const expired = await retrieve(system.retrievalUrl, TODAY - 15, NOW);
    expect(expired.status).toBe(410);
    expect(expired.text).toBe('requested data no longer valid\n');
    for (const day of [TODAY - 14, TODAY - 1, TODAY]) expect((await retrieve(system.retrievalUrl, day, NOW)).status).toBe(200);
  });

  it('refuses today when the current-day check is on', async () => {
    const strict = await startSystem({ ...ORIGINAL_BEHAVIOUR, DISABLE_CURRENT_DATE_CHECK: 'false' });
    try {
      strict.clock.ms = NOW;
      const result = await retrieve(strict.retrievalUrl, TODAY, NOW);
      expect(result.status).toBe(404);
      expect(result.text).toBe('cannot serve data for current period for privacy reasons\n');
      expect((await retrieve(strict.retrievalUrl, TODAY - 1, NOW)).status).toBe(200);
    } finally {
      await strict.stop();
    }
  });

  it('puts a key submitted at 00:00:00 and at 23:59:59 in that day only', async () => {
    const day = TODAY - 3;
    const [first, last, before, after] = [makeKeys(1, NOW), makeKeys(1, NOW), makeKeys(1, NOW), makeKeys(1, NOW)];
    await uploadAt(day * DAY, first);
    await uploadAt((day + 1) * DAY - 1000, last);
    await uploadAt(day * DAY - 1000, before);
    await uploadAt((day + 1) * DAY, after);
    const of = (keys: Key[]) => hex(keys[0]!.keyData!);
    const thatDay = await keysOfDay(day);
    expect(thatDay).toContain(of(first));
    expect(thatDay).toContain(of(last));
    expect(thatDay).not.toContain(of(before));
    expect(thatDay).not.toContain(of(after));
    expect(await keysOfDay(day - 1)).toContain(of(before));
    expect(await keysOfDay(day + 1)).toContain(of(after));
    expect(await keysOfDay(day - 1)).not.toContain(of(first));
  });

  it('bundles submission days D−15 … D−1 under 00000, with its window in the file', async () => {
    const inside = [makeKeys(1, NOW), makeKeys(1, NOW)];
    const outside = [makeKeys(1, NOW), makeKeys(1, NOW)];
    await uploadAt((TODAY - 15) * DAY, inside[0]!);
    await uploadAt(TODAY * DAY - 1, inside[1]!);
    await uploadAt((TODAY - 15) * DAY - 1, outside[0]!);
    await uploadAt(TODAY * DAY, outside[1]!);
    const result = await retrieve(system.retrievalUrl, '00000', NOW);
    expect(result.status).toBe(200);
    const file = await readKeyFile(result.bytes);
    expect(Number(file.exported.startTimestamp)).toBe((TODAY - 15) * 86_400);
    expect(Number(file.exported.endTimestamp)).toBe(TODAY * 86_400);
    const keys = file.exported.keys.map((k) => hex(k.keyData!));
    for (const k of inside) expect(keys).toContain(hex(k[0]!.keyData!));
    for (const k of outside) expect(keys).not.toContain(hex(k[0]!.keyData!));
  });

  it('leaves out keys too old for a phone to match', async () => {
    const oldest = currentRollingStartIntervalNumber(NOW) - 14 * 144;
    const tooOld = makeKeys(1, NOW, { rollingStartIntervalNumber: oldest });
    const justInside = makeKeys(1, NOW, { rollingStartIntervalNumber: oldest + 1 });
    await uploadAt(NOW - 2 * DAY, [...tooOld, ...justInside]);
    const keys = await keysOfDay(TODAY - 2);
    expect(keys).toContain(hex(justInside[0]!.keyData!));
    expect(keys).not.toContain(hex(tooOld[0]!.keyData!));
  });
});

describe('/retrieve key files', () => {
  it('round-trips uploaded keys into a signed file, sorted, with every field set', async () => {
    const keys = makeKeys(10, NOW, { transmissionRiskLevel: 4 });
    keys[3]!.rollingPeriod = 33;
    // A day no other test writes to: every key in the file is one of these.
    await uploadAt(NOW - 8 * DAY + 5 * HOUR, keys);
    const result = await retrieve(system.retrievalUrl, TODAY - 8, NOW);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('application/zip');
    expect(result.headers.get('cache-control')).toBe('public, max-age=3600, max-stale=600');
    const file = await readKeyFile(result.bytes);
    expect(file.entries).toEqual(['export.bin', 'export.sig']);
    expect(file.bin.subarray(0, 16).toString('latin1')).toBe('EK Export v1    ');
    const exported = file.exported;
    expect(exported).toMatchObject({ region: 'CA', batchNum: 1, batchSize: 1 });
    expect(Number(exported.startTimestamp)).toBe((TODAY - 8) * 86_400);
    expect(Number(exported.endTimestamp)).toBe((TODAY - 7) * 86_400);
    expect(exported.signatureInfos).toEqual([
      expect.objectContaining({ verificationKeyVersion: 'v1', verificationKeyId: '302', signatureAlgorithm: '1.2.840.10045.4.3.2' }),
    ]);

    const served = exported.keys.map((k) => hex(k.keyData!));
    expect(served).toEqual(keys.map((k) => hex(k.keyData!)).sort());
    for (const key of exported.keys) {
      for (const field of [
        'keyData',
        'transmissionRiskLevel',
        'rollingStartIntervalNumber',
        'rollingPeriod',
        'reportType',
        'daysSinceOnsetOfSymptoms',
      ]) {
        expect(Object.hasOwn(key, field), field).toBe(true);
      }
      expect(key.reportType).toBe(covidshield.TemporaryExposureKey.ReportType.CONFIRMED_TEST);
      expect(key.daysSinceOnsetOfSymptoms).toBe(0);
      const sent = keys.find((k) => hex(k.keyData!) === hex(key.keyData!))!;
      expect(key).toMatchObject({
        transmissionRiskLevel: 4,
        rollingStartIntervalNumber: sent.rollingStartIntervalNumber,
        rollingPeriod: sent.rollingPeriod,
      });
    }

    const [signature] = file.signatures.signatures;
    expect(signature).toMatchObject({ batchNum: 1, batchSize: 1 });
    expect(signature!.signatureInfo).toEqual(exported.signatureInfos[0]);
    const publicKey = EXPORT_KEYS.ecdsaPublicKeyPem;
    expect(verify('sha256', file.bin, publicKey, signature!.signature!)).toBe(true);
    const tampered = Buffer.from(file.bin);
    tampered[tampered.length - 1]! ^= 1;
    expect(verify('sha256', tampered, publicKey, signature!.signature!)).toBe(false);
  });

  it('serves a valid signed file for an empty day', async () => {
    const result = await retrieve(system.retrievalUrl, TODAY - 13, NOW);
    expect(result.status).toBe(200);
    const file = await readKeyFile(result.bytes);
    expect(file.exported.keys).toHaveLength(0);
    expect(verify('sha256', file.bin, EXPORT_KEYS.ecdsaPublicKeyPem, file.signatures.signatures[0]!.signature!)).toBe(true);
  });

  it('gives identical bytes to repeated requests, another replica and a restart, and 304 on If-None-Match', async () => {
    await uploadAt(NOW - 5 * DAY, makeKeys(5, NOW));
    const first = await retrieve(system.retrievalUrl, TODAY - 5, NOW);
    const second = await retrieve(system.retrievalUrl, TODAY - 5, NOW);
    expect(second.bytes.equals(first.bytes)).toBe(true);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(second.headers.get('etag')).toBe(etag);

    const replica = await startRetrievalReplica(system);
    try {
      const elsewhere = await retrieve(replica.url, TODAY - 5, NOW);
      expect(elsewhere.bytes.equals(first.bytes)).toBe(true);
      expect(elsewhere.headers.get('etag')).toBe(etag);
    } finally {
      await replica.stop();
    }

    const notModified = await retrieve(system.retrievalUrl, TODAY - 5, NOW, { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.bytes).toHaveLength(0);
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(notModified.headers.get('cache-control')).toBe('public, max-age=3600, max-stale=600');
    const listed = await retrieve(system.retrievalUrl, TODAY - 5, NOW, { headers: { 'if-none-match': `"other", ${etag}` } });
    expect(listed.status).toBe(304);
    const stale = await retrieve(system.retrievalUrl, TODAY - 5, NOW, { headers: { 'if-none-match': '"other"' } });
    expect(stale.status).toBe(200);
  });

  it('shows any change to the stored keys in the very next response', async () => {
    const keys = makeKeys(3, NOW, { transmissionRiskLevel: 2 });
    await uploadAt(NOW - 6 * DAY, keys);
    const before = await retrieve(system.retrievalUrl, TODAY - 6, NOW);

    // An upload a moment ago.
    const more = makeKeys(1, NOW);
    await uploadAt(NOW - 6 * DAY + HOUR, more);
    const afterUpload = await retrieve(system.retrievalUrl, TODAY - 6, NOW, { headers: { 'if-none-match': before.headers.get('etag')! } });
    expect(afterUpload.status).toBe(200);
    expect((await readKeyFile(afterUpload.bytes)).exported.keys.map((k) => hex(k.keyData!))).toContain(hex(more[0]!.keyData!));

    // An operator's direct SQL.
    await system.db.query('UPDATE diagnosis_keys SET transmission_risk_level = 7 WHERE key_data = $1', [keys[0]!.keyData]);
    const afterUpdate = await readKeyFile((await retrieve(system.retrievalUrl, TODAY - 6, NOW)).bytes);
    expect(afterUpdate.exported.keys.find((k) => hex(k.keyData!) === hex(keys[0]!.keyData!))!.transmissionRiskLevel).toBe(7);

    await system.db.query('DELETE FROM diagnosis_keys WHERE key_data = $1', [keys[1]!.keyData]);
    const afterDelete = await readKeyFile((await retrieve(system.retrievalUrl, TODAY - 6, NOW)).bytes);
    expect(afterDelete.exported.keys.map((k) => hex(k.keyData!))).not.toContain(hex(keys[1]!.keyData!));

    // And back to the first content: the first bytes again.
    await system.db.query('DELETE FROM diagnosis_keys WHERE key_data = $1', [more[0]!.keyData]);
    await system.db.query('UPDATE diagnosis_keys SET transmission_risk_level = 2 WHERE key_data = $1', [keys[0]!.keyData]);
    await system.db.query(
      `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
       VALUES ($1, $2, 144, 2, $3, '302', 'portal-one')`,
      [keys[1]!.keyData, keys[1]!.rollingStartIntervalNumber, Math.floor((NOW - 6 * DAY) / HOUR)],
    );
    const restored = await retrieve(system.retrievalUrl, TODAY - 6, NOW);
    expect(restored.bytes.equals(before.bytes)).toBe(true);
  });

  it('sees a TRUNCATE too', async () => {
    await uploadAt(NOW - 9 * DAY, makeKeys(2, NOW));
    expect(await keysOfDay(TODAY - 9)).toHaveLength(2);
    const replica = await startRetrievalReplica(system);
    try {
      await system.db.query('TRUNCATE diagnosis_keys');
      expect(await keysOfDay(TODAY - 9)).toHaveLength(0);
      const elsewhere = await readKeyFile((await retrieve(replica.url, TODAY - 9, NOW)).bytes);
      expect(elsewhere.exported.keys).toHaveLength(0);
    } finally {
      await replica.stop();
    }
  });

  it('answers 500 database error when the database fails', async () => {
    await system.db.query('ALTER TABLE diagnosis_key_versions RENAME TO diagnosis_key_versions_away');
    try {
      const result = await retrieve(system.retrievalUrl, TODAY - 7, NOW);
      expect(result.status).toBe(500);
      expect(result.text).toBe('database error\n');
    } finally {
      await system.db.query('ALTER TABLE diagnosis_key_versions_away RENAME TO diagnosis_key_versions');
    }
  });
});
