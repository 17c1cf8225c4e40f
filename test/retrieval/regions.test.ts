// Several regions in one deployment (REGIONS_FILE): portals bound to a region, keys kept
// apart, each region's files under its own MCC, signed by its own keys, released in its own
// padded batches; an MCC not served is 404 and one region's HMAC opens no other.
import { createPublicKey } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecrets } from '../../src/crypto/key-generation.js';
import { verifyExport } from '../../src/exports/verify.js';
import { purgeOnce } from '../../src/purge/purge.js';
import { sealDueBatch } from '../../src/release/seal.js';
import { dateNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, request, type Key } from '../helpers/app-client.js';
import { readKeyFile, retrieve, retrievePath } from '../helpers/phone-download.js';
import { EXPORT_KEYS, PORTAL_TOKEN, SECOND_PORTAL_TOKEN, startSystem, TestClock, type TestSystem } from '../helpers/servers.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const usKey = generateSecrets();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const start = Math.floor(Date.now() / DAY_MS) * DAY_MS + 9 * HOUR_MS;

let dir: string;
let system: TestSystem;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'regions-'));
  const usConfiguration = path.join(dir, 'us-configuration');
  await mkdir(usConfiguration);
  await writeFile(path.join(usConfiguration, 'US.json'), '{"minimumRiskScore": 11}');
  const regionsFile = path.join(dir, 'regions.json');
  await writeFile(
    regionsFile,
    JSON.stringify([
      { mcc: '302', exportRegion: 'CA' },
      {
        mcc: '310',
        exportRegion: 'US',
        signingKeys: [{ ecdsaKey: usKey.ecdsaKey, keyId: '310', keyVersion: 'v1' }],
        exposureConfigurationDir: usConfiguration,
        diagnosisKeyRetentionDays: 16,
      },
    ]),
  );
  system = await startSystem(
    {
      REGIONS_FILE: regionsFile,
      KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=ontario:${SECOND_PORTAL_TOKEN}=texas@310`,
      KEY_RELEASE: 'batched',
    },
    new TestClock(start),
  );
});
afterAll(async () => {
  await system?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function upload(token: string, keys: Key[]): Promise<void> {
  const phone = await claimedPhone(system.submissionUrl, token);
  expect((await phone.upload(system.submissionUrl, keys, system.clock.now())).status).toBe(200);
}

async function fileOf(region: string) {
  const result = await retrieve(system.retrievalUrl, dateNumber(system.clock.now()), system.clock.now(), {}, region);
  expect(result.status).toBe(200);
  return { zip: result.bytes, file: await readKeyFile(result.bytes) };
}

describe('several regions', () => {
  const canadian = makeKeys(4, start - 3 * DAY_MS);
  const american = makeKeys(5, start - 3 * DAY_MS);

  it('keeps each region’s keys in its own files, under its MCC, padded and signed apart', async () => {
    await upload(PORTAL_TOKEN, canadian);
    await upload(SECOND_PORTAL_TOKEN, american);
    const stored = await system.db.query<{ region: string; n: number }>(
      'SELECT region, count(*)::int AS n FROM diagnosis_keys GROUP BY region ORDER BY region',
    );
    expect(stored.rows).toEqual([
      { region: '302', n: 4 },
      { region: '310', n: 5 },
    ]);
    const keypairs = await system.db.query<{ region: string; originator: string }>(
      'SELECT region, originator FROM encryption_keys WHERE app_public_key IS NOT NULL ORDER BY region',
    );
    expect(keypairs.rows).toEqual([
      { region: '302', originator: 'ontario' },
      { region: '310', originator: 'texas' },
    ]);

    system.clock.ms = start + 2 * HOUR_MS;
    await sealDueBatch(system.db, system.config.release!, system.clock, pino({ level: 'silent' }));
    const ca = await fileOf('302');
    const us = await fileOf('310');
    const keysOf = (f: typeof ca) => new Set(f.file.exported.keys.map((k) => hex(k.keyData!)));
    expect(canadian.every((k) => keysOf(ca).has(hex(k.keyData!)))).toBe(true);
    expect(american.some((k) => keysOf(ca).has(hex(k.keyData!)))).toBe(false);
    expect(american.every((k) => keysOf(us).has(hex(k.keyData!)))).toBe(true);
    expect(canadian.some((k) => keysOf(us).has(hex(k.keyData!)))).toBe(false);
    // Each region's batch is padded on its own, and no key is in both.
    expect(keysOf(ca).size).toBeGreaterThanOrEqual(1000);
    expect(keysOf(us).size).toBeGreaterThanOrEqual(1000);
    expect([...keysOf(ca)].filter((k) => keysOf(us).has(k))).toEqual([]);

    expect([ca.file.exported.region, us.file.exported.region]).toEqual(['CA', 'US']);
    expect(us.file.exported.signatureInfos.map((i) => i.verificationKeyId)).toEqual(['310']);
    expect((await verifyExport(us.zip, createPublicKey(usKey.ecdsaPublicKeyPem))).ok).toBe(true);
    expect((await verifyExport(us.zip, createPublicKey(EXPORT_KEYS.ecdsaPublicKeyPem))).ok).toBe(false);
    expect((await verifyExport(ca.zip, createPublicKey(EXPORT_KEYS.ecdsaPublicKeyPem))).ok).toBe(true);
    // Byte-stable per region.
    expect(Buffer.compare((await fileOf('310')).zip, us.zip)).toBe(0);
  });

  it('answers 404 for an MCC not served, and 401 to one region’s HMAC on another’s path', async () => {
    const now = system.clock.now();
    const day = dateNumber(now);
    const unserved = await request(system.retrievalUrl + retrievePath(day, now, 0, '311'));
    expect([unserved.status, unserved.text]).toEqual([404, 'region not served\n']);
    const canadianMac = retrievePath(day, now, 0, '302').split('/').pop()!;
    const crossed = await request(`${system.retrievalUrl}/retrieve/310/${day}/${canadianMac}`);
    expect(crossed.status).toBe(401);
  });

  it('keeps statistics per region: /events?region= answers for one, and without it for all, as before', async () => {
    const date = new Date(system.clock.now()).toISOString().slice(0, 10);
    const auth = { authorization: `Basic ${Buffer.from('metrics-user:metrics-password').toString('base64')}` };
    const events = async (pathAndQuery: string) => {
      const result = await request(`${system.retrievalUrl}/events${pathAndQuery}`, { headers: auth });
      expect(result.status).toBe(200);
      return (JSON.parse(result.text) as { source: string; identifier?: string; count: number }[]).map(
        (e) => `${e.source}:${e.identifier ?? 'upload'}:${e.count}`,
      );
    };
    expect(await events(`/${date}?region=310`)).toEqual(['texas:OTKClaimed:1', 'texas:OTKGenerated:1']);
    expect(await events(`/${date}?region=302`)).toEqual(['ontario:OTKClaimed:1', 'ontario:OTKGenerated:1']);
    expect(await events(`/${date}`)).toEqual(['ontario:OTKClaimed:1', 'ontario:OTKGenerated:1', 'texas:OTKClaimed:1', 'texas:OTKGenerated:1']);
    expect(await events(`/uploads/${date}?region=310`)).toEqual(['texas:upload:1']);
    expect(await events(`/otkdurations/${date}?region=302`)).toEqual(['ontario:upload:1']);
    const bad = await request(`${system.retrievalUrl}/events/${date}?region=3100`, { headers: auth });
    expect([bad.status, bad.text]).toEqual([400, 'error parsing region\n']);
  });

  it('purges each region’s keys by its own retention', async () => {
    const day = dateNumber(system.clock.now());
    const insert = (region: string, hour: number) =>
      system.db.query(
        `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region)
         VALUES (decode(md5(random()::text), 'hex'), 1, 144, 1, $1, $2)`,
        [hour, region],
      );
    // A day older than 302 keeps (15 days), within what 310 keeps (16).
    const hour = (day - 16) * 24 + 5;
    await insert('302', hour);
    await insert('310', hour);
    await purgeOnce(system.db, system.config.purge!, system.clock, pino({ level: 'silent' }));
    const left = await system.db.query<{ region: string }>('SELECT region FROM diagnosis_keys WHERE hour_of_submission = $1', [hour]);
    expect(left.rows).toEqual([{ region: '310' }]);
  });

  it('serves each region’s own exposure configuration under its MCC', async () => {
    const us = await request(`${system.retrievalUrl}/exposure-configuration/310/US.json`);
    expect([us.status, us.text]).toEqual([200, '{"minimumRiskScore": 11}']);
    expect((await request(`${system.retrievalUrl}/exposure-configuration/302/CA.json`)).status).toBe(404);
    expect((await request(`${system.retrievalUrl}/exposure-configuration/CA.json`)).status).toBe(200);
  });
});
