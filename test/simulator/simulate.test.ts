// The end-to-end loop with a small population, against real servers on real Postgres.
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { tempFolder } from '../helpers/temp-folder.js';
import { throwawayDataDir } from '../../src/db/embedded.js';
import { freePort } from '../../src/clients/free-port.js';
import { compareMatches, simulate, type Servers } from '../../src/simulator/simulate.js';
import { EXPORT_KEYS, PORTAL_TOKEN, RETRIEVE_HMAC_KEY, SECOND_PORTAL_TOKEN, startSystem, type TestSystem } from '../helpers/servers.js';

const settings = { phones: 60, days: 14, contactsPerDay: 3, positiveShare: 0.1, seed: 42 };

function serversOf(system: TestSystem): Servers {
  return {
    submissionUrl: system.submissionUrl,
    retrievalUrl: system.retrievalUrl,
    portalToken: PORTAL_TOKEN,
    hmacKey: Buffer.from(RETRIEVE_HMAC_KEY, 'hex'),
    publicKey: createPublicKey(EXPORT_KEYS.ecdsaPublicKeyPem),
    setTime: (ms) => (system.clock.ms = ms),
    runChores: system.runChores,
    ...(system.config.release?.policy === 'batched' ? { embargoMinutes: system.config.release.embargoMinutes } : {}),
  };
}

describe('simulate', () => {
  let system: TestSystem;
  beforeAll(async () => {
    // Batched release, the default: the simulation moves the clock past the embargo.
    system = await startSystem({ KEY_RELEASE: 'batched' });
  });
  afterAll(() => system.stop());

  it('matches every phone that heard a published key, and no other', async () => {
    const summary = await simulate(settings, serversOf(system));
    expect(summary.problems).toEqual([]);
    expect(summary).toMatchObject({ phones: 60, positives: 6 });
    expect(summary.meetings).toBe(60 * 14 * 3);
    expect(summary.keysPublished).toBeGreaterThan(6);
    expect(summary.exposuresMatched).toBeGreaterThan(0);
    expect(summary.peopleNotified).toBeGreaterThan(0);
    expect(summary.peopleNotified).toBeLessThanOrEqual(summary.phonesMatched);
    expect(summary.bytesDownloadedPerPhone).toBeGreaterThan(16 * 300);
    // Uploads happened on their simulated days: the keys are spread over the day files.
    const days = await system.db.query('SELECT count(DISTINCT hour_of_submission / 24)::int AS n FROM diagnosis_keys');
    expect(days.rows[0].n).toBeGreaterThan(1);
    // …and were released in padded batches, a batch each simulated day that had uploads.
    const batches = await system.db.query(
      'SELECT count(*)::int AS n, min(real_keys + padding_keys)::int AS least FROM key_batches WHERE real_keys > 0',
    );
    expect(batches.rows[0].n).toBeGreaterThan(1);
    expect(batches.rows[0].least).toBeGreaterThanOrEqual(1000);
  });

  it('reports what goes wrong when phones cannot get today’s keys', async () => {
    const strict = await startSystem({ KEY_RELEASE: 'batched', DISABLE_CURRENT_DATE_CHECK: 'false' });
    try {
      const summary = await simulate({ ...settings, seed: 43 }, serversOf(strict));
      expect(summary.problems.some((p) => p.includes('answered 404'))).toBe(true);
      expect(summary.problems.some((p) => p.includes('expected matches not found'))).toBe(true);
    } finally {
      await strict.stop();
    }
  });

  it('matches per region: phones of two regions each match their own region’s keys, and never the other’s', async () => {
    const twoRegions = await startSystem({
      KEY_RELEASE: 'batched',
      REGIONS: '302=CA,310=US',
      KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=canada:${SECOND_PORTAL_TOKEN}=states@310`,
    });
    try {
      const summary = await simulate(
        { ...settings, seed: 44, positiveShare: 0.15 },
        {
          ...serversOf(twoRegions),
          regions: [
            { mcc: '302', portalToken: PORTAL_TOKEN },
            { mcc: '310', portalToken: SECOND_PORTAL_TOKEN },
          ],
        },
      );
      expect(summary.problems).toEqual([]);
      expect(summary.regions).toEqual(['302', '310']);
      expect(summary.exposuresMatched).toBeGreaterThan(0);
      // Both regions published keys, each region's own.
      const byRegion = await twoRegions.db.query('SELECT region, count(*)::int AS n FROM diagnosis_keys GROUP BY region ORDER BY region');
      expect(byRegion.rows.map((r) => r.region)).toEqual(['302', '310']);
    } finally {
      await twoRegions.stop();
    }
  });

  it('compares matches both ways', () => {
    expect(compareMatches(new Set(['1:a', '2:b']), new Set(['1:a', '2:b']))).toEqual([]);
    expect(compareMatches(new Set(['1:a', '2:b']), new Set(['1:a']))).toEqual(['1 expected matches not found (first: phone:key 2:b)']);
    expect(compareMatches(new Set(['1:a']), new Set(['1:a', '3:c']))).toEqual(['1 matches nobody caused (first: phone:key 3:c)']);
  });

  it('runs from the command line against running servers and exits 0 on a correct match', async () => {
    const dir = await tempFolder('simulate-');
    const pem = path.join(dir, 'public.pem');
    await writeFile(pem, EXPORT_KEYS.ecdsaPublicKeyPem);
    // Remote servers' clocks cannot be moved past the embargo: these publish keys at once.
    const remote = await startSystem({ KEY_RELEASE: 'immediate' });
    onTestFinished(() => remote.stop());
    const child = spawn(
      process.execPath,
      [
        path.resolve('dist/bundle/cli.mjs'),
        'simulate',
        '--phones',
        '25',
        '--days',
        '5',
        '--positives',
        '0.2',
        '--submission-url',
        remote.submissionUrl,
        '--retrieval-url',
        remote.retrievalUrl,
        '--token',
        PORTAL_TOKEN,
        '--hmac-key',
        RETRIEVE_HMAC_KEY,
        '--public-key',
        pem,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(out).toContain('phones:                25');
    expect(out).toContain('matches: correct');
    expect(code).toBe(0);
  });

  it('starts its own servers from the command line when ECDSA_KEY is a PEM file', async () => {
    const dataDir = await throwawayDataDir('simulate-pem-');
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    const keyFile = path.join(dataDir, 'export-key.pem');
    const pem = createPrivateKey({ key: Buffer.from(EXPORT_KEYS.ecdsaKey, 'hex'), format: 'der', type: 'sec1' }).export({
      format: 'pem',
      type: 'pkcs8',
    });
    await writeFile(keyFile, pem);
    const child = spawn(process.execPath, [path.resolve('dist/bundle/cli.mjs'), 'simulate', '--phones', '10', '--days', '3', '--positives', '0.2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, ECDSA_KEY: keyFile, EMBEDDED_POSTGRES_PORT: String(await freePort()) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(err).toBe('');
    expect(out).toContain('matches: correct');
    expect(code).toBe(0);
  });
});
