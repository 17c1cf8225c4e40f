// /exposure-configuration and /events over HTTP (protocol §5.2, §5.3).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempFolder } from '../helpers/temp-folder.js';
import { utcDate } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, request } from '../helpers/app-client.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const good = basic('metrics-user', 'metrics-password');

describe('/exposure-configuration', () => {
  it('serves the default CA.json with a strong ETag and answers If-None-Match with 304', async () => {
    const result = await request(`${system.retrievalUrl}/exposure-configuration/CA.json`);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(result.text)).toEqual({
      minimumRiskScore: 25,
      attenuationDurationThresholds: [50, 63],
      attenuationLevelValues: [1, 1, 8, 8, 8, 8, 8, 8],
      attenuationWeight: 1,
      daysSinceLastExposureLevelValues: [0, 1, 1, 1, 1, 1, 1, 1],
      daysSinceLastExposureWeight: 1,
      durationLevelValues: [0, 0, 0, 0, 4, 4, 5, 8],
      durationWeight: 1,
      minimumExposureDurationMinutes: 15,
      transmissionRiskLevelValues: [1, 1, 1, 1, 1, 1, 1, 1],
      transmissionRiskWeight: 1,
    });
    const etag = result.headers.get('etag')!;
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await request(`${system.retrievalUrl}/exposure-configuration/CA.json`, {
      headers: { 'if-none-match': etag, 'cache-control': 'no-store' },
    });
    expect(again.status).toBe(304);
    expect(again.bytes).toHaveLength(0);
    expect((await request(`${system.retrievalUrl}/exposure-configuration/region.json`)).status).toBe(200);
    for (const missing of ['ON.json', 'CA', 'CA.txt', '..%2Fpackage.json']) {
      expect((await request(`${system.retrievalUrl}/exposure-configuration/${missing}`)).status, missing).toBe(404);
    }
  });

  it("serves the operator's own folder", async () => {
    const dir = await tempFolder('exposure-config-');
    await writeFile(path.join(dir, 'CA.json'), '{"minimumRiskScore": 1}');
    const own = await startSystem({ EXPOSURE_CONFIGURATION_DIR: dir });
    try {
      expect((await request(`${own.retrievalUrl}/exposure-configuration/CA.json`)).text).toBe('{"minimumRiskScore": 1}');
      expect((await request(`${own.retrievalUrl}/exposure-configuration/region.json`)).status).toBe(404);
    } finally {
      await own.stop();
    }
  });
});

describe('/events', () => {
  it('wants Basic auth and GET, and a real date', async () => {
    const today = utcDate(system.clock.now());
    for (const headers of [
      {},
      basic('metrics-user', 'wrong-password'),
      basic('wrong-user!', 'metrics-password'),
      { authorization: 'Bearer metrics-password' },
    ]) {
      const result = await request(`${system.retrievalUrl}/events/${today}`, { headers });
      expect(result.status).toBe(401);
      expect(result.text).toBe('unauthorized\n');
    }
    expect((await request(`${system.retrievalUrl}/events/${today}`, { method: 'POST', headers: good })).status).toBe(401);
    for (const bad of ['2020-13-01', '2020-02-30', '20200101', 'today']) {
      const result = await request(`${system.retrievalUrl}/events/uploads/${bad}`, { headers: good });
      expect(result.status, bad).toBe(400);
      expect(result.text).toBe('error parsing date\n');
    }
  });

  it("reports the day's events, uploads and code lifetimes per portal", async () => {
    const date = utcDate(system.clock.now());
    const empty = await request(`${system.retrievalUrl}/events/2001-01-01`, { headers: good });
    expect(empty.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(empty.text).toBe('[]');

    const phone = await claimedPhone(system.submissionUrl);
    expect((await phone.upload(system.submissionUrl, makeKeys(2, system.clock.now()), system.clock.now())).status).toBe(200);

    const events = JSON.parse((await request(`${system.retrievalUrl}/events/${date}`, { headers: good })).text);
    expect(events).toContainEqual({ source: 'portal-one', date, count: 1, identifier: 'OTKGenerated' });
    expect(events).toContainEqual({ source: 'portal-one', date, count: 1, identifier: 'OTKClaimed' });
    const uploads = JSON.parse((await request(`${system.retrievalUrl}/events/uploads/${date}`, { headers: good })).text);
    expect(uploads).toEqual([{ source: 'portal-one', date, count: 1, first_upload: true }]);
    const lives = JSON.parse((await request(`${system.retrievalUrl}/events/otkdurations/${date}`, { headers: good })).text);
    expect(lives).toEqual([{ source: 'portal-one', date, hours: 0, count: 1 }]);
  });
});
