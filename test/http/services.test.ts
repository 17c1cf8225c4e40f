// /services/*, the 404 handler and the test tool (protocol §2, §4.4, §4.5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimedPhone, makeKeys, request } from '../helpers/app-client.js';
import { PORTAL_TOKEN, startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem({ BUILD_BRANCH: 'main', BUILD_REVISION: 'abc123', DISABLE_CURRENT_DATE_CHECK: 'false' });
});
afterAll(() => system.stop());

describe('/services on both servers', () => {
  for (const server of ['submissionUrl', 'retrievalUrl'] as const) {
    it(`answers on ${server}, any method, never cached`, async () => {
      const base = system[server];
      for (const method of ['GET', 'POST', 'HEAD']) {
        const ping = await request(`${base}/services/ping`, { method });
        expect(ping.status).toBe(200);
        expect(ping.headers.get('cache-control')).toBe('no-store');
        if (method !== 'HEAD') expect(ping.text).toBe('OK\n');
        expect(ping.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      }
      const present = await request(`${base}/services/present`);
      expect(present.status).toBe(204);
      expect(present.headers.get('cache-control')).toBe('no-store');

      const version = await request(`${base}/services/version.json`);
      expect(version.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(version.headers.get('cache-control')).toBe('no-store');
      expect(version.text).toBe('{"branch":"main","revision":"abc123"}');

      const flags = await request(`${base}/services/featureFlags.json`, { method: 'POST' });
      expect(flags.headers.get('cache-control')).toBe('no-store');
      expect(flags.text).toBe('{"enableEntirePeriodBundle":true,"disableCurrentDateCheckFeatureFlag":false}');
    });

    it(`answers unknown routes on ${server} with the plain-text 404`, async () => {
      for (const path of ['/', '/nope', '/services/pong', '/claim-key/extra', '/services']) {
        const result = await request(system[server] + path, { method: 'POST', body: 'x' });
        expect(result.status, path).toBe(404);
        expect(result.text).toBe('404 page not found\n');
        expect(result.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(result.headers.get('x-content-type-options')).toBe('nosniff');
      }
    });
  }
});

describe('/clear-diagnosis-keys', () => {
  it('does not exist unless ENABLE_TEST_TOOLS is on', async () => {
    const result = await request(`${system.submissionUrl}/clear-diagnosis-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${PORTAL_TOKEN}` },
    });
    expect(result.status).toBe(404);
  });

  it('empties diagnosis_keys for a portal token, and refuses anything else with 401', async () => {
    const tools = await startSystem({ ENABLE_TEST_TOOLS: 'true' });
    try {
      const phone = await claimedPhone(tools.submissionUrl);
      expect((await phone.upload(tools.submissionUrl, makeKeys(3, tools.clock.now()), tools.clock.now())).status).toBe(200);
      const url = `${tools.submissionUrl}/clear-diagnosis-keys`;
      expect((await request(url, { method: 'GET', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } })).status).toBe(401);
      const bad = await request(url, { method: 'POST', headers: { authorization: 'Bearer nope' } });
      expect(bad.status).toBe(401);
      expect(bad.text).toBe('unauthorized\n');
      expect((await tools.db.query('SELECT count(*)::int AS n FROM diagnosis_keys')).rows[0].n).toBe(3);
      const ok = await request(url, { method: 'POST', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(ok.text).toBe('cleared diagnosis_keys');
      expect((await tools.db.query('SELECT count(*)::int AS n FROM diagnosis_keys')).rows[0].n).toBe(0);
    } finally {
      await tools.stop();
    }
  });
});
