// POST /new-key-claim[/hashID] over HTTP against real Postgres (protocol §4.1).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/crypto/secrets.js';
import { issueCode, newKeyClaim, Phone, request } from '../helpers/app-client.js';
import { PORTAL_TOKEN, SECOND_PORTAL_TOKEN, startSystem, type TestSystem } from '../helpers/servers.js';
import { foldStatisticsLogs } from '../../src/statistics/store.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

const hashId = (c: string) => c.repeat(128);
const CODE = /^([AEFHJKLQRSUWXYZ]{3}|[2456789]{3}){2}([AEFHJKLQRSUWXYZ]{4}|[2456789]{4})$/;
/** Events as recorded, logged requests folded in first. */
const eventCount = async (identifier: string) => {
  await foldStatisticsLogs(system.db);
  return Number((await system.db.query('SELECT coalesce(sum(count), 0) AS n FROM events WHERE identifier = $1', [identifier])).rows[0].n);
};

describe('POST /new-key-claim', () => {
  it('issues a code with a fresh keypair, the initial quota and the portal label', async () => {
    const result = await newKeyClaim(system.submissionUrl);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(result.headers.get('access-control-allow-origin')).toBe('*');
    expect(result.text).toMatch(/\n$/);
    const code = result.text.trim();
    expect(code).toMatch(CODE);
    const row = (await system.db.query('SELECT * FROM encryption_keys WHERE one_time_code = $1', [code])).rows[0];
    expect(row.remaining_keys).toBe(43);
    expect(row.originator).toBe('portal-one');
    expect(row.region).toBe('302');
    expect(row.server_private_key).toHaveLength(32);
    expect(row.server_public_key).toHaveLength(32);
    expect(row.app_public_key).toBeNull();
    expect(row.hash_id).toBeNull();
  });

  it('records a fingerprint, never the token, for tokens labelled with the region', async () => {
    const code = await issueCode(system.submissionUrl, { token: SECOND_PORTAL_TOKEN });
    const row = (await system.db.query('SELECT originator FROM encryption_keys WHERE one_time_code = $1', [code])).rows[0];
    expect(row.originator).toBe(fingerprint(SECOND_PORTAL_TOKEN));
    await foldStatisticsLogs(system.db);
    const stored = await system.db.query("SELECT count(*)::int AS n FROM events WHERE source LIKE '%' || $1 || '%'", [SECOND_PORTAL_TOKEN]);
    expect(stored.rows[0].n).toBe(0);
  });

  it('answers OPTIONS for browsers', async () => {
    const result = await request(`${system.submissionUrl}/new-key-claim`, { method: 'OPTIONS' });
    expect(result.status).toBe(200);
    expect(result.bytes).toHaveLength(0);
    expect(result.headers.get('access-control-allow-origin')).toBe('*');
    expect(result.headers.get('access-control-allow-methods')).toBe('POST');
    expect(result.headers.get('access-control-allow-headers')).toBe(
      'Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, Referer, User-Agent',
    );
  });

  it('refuses other methods and bad tokens with 401 unauthorized', async () => {
    const before = (await system.db.query('SELECT count(*)::int AS n FROM encryption_keys')).rows[0].n;
    for (const init of [
      { method: 'GET', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } },
      { method: 'PUT', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } },
      { method: 'POST' },
      { method: 'POST', headers: { authorization: `Bearer ${PORTAL_TOKEN}x` } },
      { method: 'POST', headers: { authorization: `bearer ${PORTAL_TOKEN}` } },
      { method: 'POST', headers: { authorization: `Bearer  ${PORTAL_TOKEN}` } },
      { method: 'POST', headers: { authorization: PORTAL_TOKEN } },
    ]) {
      const result = await request(`${system.submissionUrl}/new-key-claim`, init);
      expect(result.status, JSON.stringify(init)).toBe(401);
      expect(result.text).toBe('unauthorized\n');
      expect(result.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(result.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect((await system.db.query('SELECT count(*)::int AS n FROM encryption_keys')).rows[0].n).toBe(before);
  });

  it('accepts exactly 128 lowercase alphanumerics as a hash id, anything else is a 404', async () => {
    expect((await newKeyClaim(system.submissionUrl, { hashId: hashId('a') })).status).toBe(200);
    for (const bad of ['a'.repeat(127), 'a'.repeat(129), 'A'.repeat(128), 'a'.repeat(127) + '-', `${'a'.repeat(128)}/x`, '']) {
      const result = await newKeyClaim(system.submissionUrl, { hashId: bad });
      expect(result.status, bad).toBe(404);
      expect(result.text).toBe('404 page not found\n');
    }
  });

  it('replaces the unclaimed code of a hash id, and refuses one already claimed', async () => {
    const id = hashId('b');
    const regeneratedBefore = await eventCount('OTKRegenerated');
    const first = await issueCode(system.submissionUrl, { hashId: id });
    const second = await issueCode(system.submissionUrl, { hashId: id });
    expect(second).not.toBe(first);
    expect(await eventCount('OTKRegenerated')).toBe(regeneratedBefore + 1);
    const rows = (await system.db.query('SELECT one_time_code FROM encryption_keys WHERE hash_id = $1', [id])).rows;
    expect(rows).toEqual([{ one_time_code: second }]);

    expect((await new Phone().claim(system.submissionUrl, first)).status).toBe(401);
    expect((await new Phone().claim(system.submissionUrl, second)).status).toBe(200);
    const refused = await newKeyClaim(system.submissionUrl, { hashId: id });
    expect(refused.status).toBe(403);
    expect(refused.text).toBe('forbidden\n');
  });

  it('gives concurrent requests for one new hash id one row between them', async () => {
    const id = hashId('c');
    const results = await Promise.all(Array.from({ length: 10 }, () => newKeyClaim(system.submissionUrl, { hashId: id })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const rows = (await system.db.query('SELECT one_time_code FROM encryption_keys WHERE hash_id = $1', [id])).rows;
    expect(rows).toHaveLength(1);
    expect(results.map((r) => r.text.trim())).toContain(rows[0].one_time_code);
  });

  it('counts every code issued as OTKGenerated for its portal', async () => {
    const before = await eventCount('OTKGenerated');
    await issueCode(system.submissionUrl);
    await issueCode(system.submissionUrl);
    expect(await eventCount('OTKGenerated')).toBe(before + 2);
    const row = (await system.db.query("SELECT device_type FROM events WHERE identifier = 'OTKGenerated' AND source = 'portal-one'")).rows[0];
    expect(row.device_type).toBe('server');
  });

  it('answers 500 server error when the database fails, and writes nothing', async () => {
    await system.db.query('ALTER TABLE encryption_keys RENAME TO encryption_keys_away');
    try {
      const result = await newKeyClaim(system.submissionUrl);
      expect(result.status).toBe(500);
      expect(result.text).toBe('server error\n');
    } finally {
      await system.db.query('ALTER TABLE encryption_keys_away RENAME TO encryption_keys');
    }
  });
});
