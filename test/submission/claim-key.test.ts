// /claim-key over HTTP against real Postgres (protocol §4.2 and §6).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimError, KeyClaimRequest } from '../../src/protocol/messages.js';
import { issueCode, Phone, post, type ClaimResult, type HttpResult } from '../helpers/app-client.js';
import { pino } from 'pino';
import { purgeOnce } from '../../src/purge/purge.js';
import { startSystem, TestClock, type TestSystem } from '../helpers/servers.js';
import { foldStatisticsLogs } from '../../src/statistics/store.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

const HOUR = 3_600_000;
let clientCounter = 0;
/** A distinct client address, as the load balancer would append it. */
const freshClient = () => ({ 'x-forwarded-for': `198.51.100.${++clientCounter}` });
const claimRaw = (body: Uint8Array | string, headers: Record<string, string>) => post(`${system.submissionUrl}/claim-key`, body, headers);
const failureCount = async () =>
  (await system.db.query('SELECT coalesce(sum(failures), 0)::int AS n FROM failed_key_claim_attempts')).rows[0].n as number;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function expectClaimHeaders(result: HttpResult) {
  expect(result.headers.get('content-type')).toBe('application/x-protobuf');
  if (result.status >= 400) expect(result.headers.get('x-content-type-options')).toBe('nosniff');
}

describe('/claim-key', () => {
  it('redeems a code: server key, 50 tries, error absent, code cleared, keypair dated from midnight', async () => {
    const code = await issueCode(system.submissionUrl);
    const before = (await system.db.query('SELECT server_public_key, created FROM encryption_keys WHERE one_time_code = $1', [code])).rows[0];
    const phone = new Phone();
    const result = await phone.claim(system.submissionUrl, code, freshClient());
    expect(result.status).toBe(200);
    expectClaimHeaders(result);
    // Byte-exact: field 2 (server key), field 3 = 50, and no field 1.
    expect(hex(result.bytes)).toBe('1220' + hex(before.server_public_key) + '1832');
    const after = (await system.db.query('SELECT * FROM encryption_keys WHERE server_public_key = $1', [before.server_public_key])).rows[0];
    expect(after.one_time_code).toBeNull();
    expect(hex(after.app_public_key)).toBe(hex(phone.keypair.publicKey));
    const created = new Date(before.created);
    expect(after.created.toISOString()).toBe(new Date(Date.UTC(created.getUTCFullYear(), created.getUTCMonth(), created.getUTCDate())).toISOString());
    await foldStatisticsLogs(system.db);
    const claimed = await system.db.query("SELECT count FROM events WHERE identifier = 'OTKClaimed' AND source = 'portal-one'");
    expect(claimed.rows[0].count).toBeGreaterThanOrEqual(1);
    const lifetimes = await system.db.query("SELECT hours, count FROM otk_life_duration WHERE originator = 'portal-one'");
    expect(lifetimes.rows[0]).toMatchObject({ hours: 0 });
  });

  it('accepts the code as typed: lower case, spaces and dashes', async () => {
    const code = await issueCode(system.submissionUrl);
    const typed = ` ${code.slice(0, 3)}-${code.slice(3, 6)} ${code.slice(6)}`.toLowerCase();
    expect((await new Phone().claim(system.submissionUrl, typed, freshClient())).status).toBe(200);
  });

  it('lets only one of 50 concurrent claims of a code succeed', async () => {
    const code = await issueCode(system.submissionUrl);
    const results = await Promise.all(Array.from({ length: 50 }, () => new Phone().claim(system.submissionUrl, code, freshClient())));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(49);
    for (const r of results.filter((r) => r.status === 401)) expect(r.response.error).toBe(ClaimError.INVALID_ONE_TIME_CODE);
  });

  it('counts a wrong code as a failure, with remaining_ban_duration set to zero', async () => {
    const client = freshClient();
    const result = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client);
    expect(result.status).toBe(401);
    expectClaimHeaders(result);
    // error 2, tries 49, and an empty Duration: field 4 present with length 0.
    expect(hex(result.bytes)).toBe('0802' + '1831' + '2200');
    const second = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client);
    expect(second.response.triesRemaining).toBe(48);
  });

  it('clears the client’s own failures when it claims a code (§4.2 step 7)', async () => {
    const client = freshClient();
    for (let i = 0; i < 3; i++) await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client);
    const claimed = await new Phone().claim(system.submissionUrl, await issueCode(system.submissionUrl), client);
    expect(claimed.status).toBe(200);
    // Counted from zero again: one failure leaves 49 tries, not the 46 that three more would.
    const after = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client);
    expect(after.response.triesRemaining).toBe(49);
  });

  it('answers codes no code could be (a NUL byte, non-ASCII, too long) as wrong ones, and counts them', async () => {
    const client = freshClient();
    const codes = ['AAA\0AAAAAA', 'ÄÄÄÄÄÄÄÄÄÄ', 'A'.repeat(11)];
    for (const [i, code] of codes.entries()) {
      const result = await new Phone().claim(system.submissionUrl, code, client);
      expect(result.status).toBe(401);
      expect(result.response.error).toBe(ClaimError.INVALID_ONE_TIME_CODE);
      expect(result.response.triesRemaining).toBe(49 - i);
    }
  });

  it('refuses an expired code as a wrong one', async () => {
    const code = await issueCode(system.submissionUrl);
    await system.db.query("UPDATE encryption_keys SET created = created - interval '1441 minutes' WHERE one_time_code = $1", [code]);
    const result = await new Phone().claim(system.submissionUrl, code, freshClient());
    expect(result.status).toBe(401);
    expect(result.response.error).toBe(ClaimError.INVALID_ONE_TIME_CODE);
  });

  it('refuses a malformed app key with 400 INVALID_KEY, counts nothing and keeps the code', async () => {
    const code = await issueCode(system.submissionUrl);
    const failuresBefore = await failureCount();
    for (const key of [randomBytes(31), randomBytes(33), Buffer.alloc(0)]) {
      const result = await claimRaw(KeyClaimRequest.encode({ oneTimeCode: code, appPublicKey: key }).finish(), freshClient());
      expect(result.status).toBe(400);
      expect(hex(result.bytes)).toBe('0804' + '1832');
    }
    expect(await failureCount()).toBe(failuresBefore);
    expect((await new Phone().claim(system.submissionUrl, code, freshClient())).status).toBe(200);
  });

  it('refuses an app key that is already registered with 401 INVALID_KEY', async () => {
    const phone = new Phone();
    expect((await phone.claim(system.submissionUrl, await issueCode(system.submissionUrl), freshClient())).status).toBe(200);
    const code = await issueCode(system.submissionUrl);
    const again = await phone.claim(system.submissionUrl, code, freshClient());
    expect(again.status).toBe(401);
    expect(again.response.error).toBe(ClaimError.INVALID_KEY);
    expect(again.response.triesRemaining).toBe(50);
    // The second code is still there for someone else.
    expect((await new Phone().claim(system.submissionUrl, code, freshClient())).status).toBe(200);
  });

  it('answers bodies over 256 bytes, truncated and random bytes with 400 UNKNOWN', async () => {
    const client = freshClient();
    const valid = KeyClaimRequest.encode({ oneTimeCode: 'AAAAAAAAAA', appPublicKey: randomBytes(32) }).finish();
    const oversized = KeyClaimRequest.encode({ oneTimeCode: 'A'.repeat(230), appPublicKey: randomBytes(32) }).finish();
    expect(oversized.length).toBeGreaterThan(256);
    for (const body of [oversized, valid.subarray(0, valid.length - 3), Buffer.from('ffffffffffffffffffff', 'hex'), randomBytes(300)]) {
      const result = await claimRaw(body, client);
      expect(result.status).toBe(400);
      expectClaimHeaders(result);
      expect(hex(result.bytes)).toBe('0801' + '1832');
    }
    // A form-encoded content type is read as bytes all the same.
    const form = await claimRaw(valid, { ...client, 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(401);
    expect(await failureCount()).toBeGreaterThan(0);
  });

  it('bans a client after 50 failures for an hour from the last one, then lets it start again', async () => {
    const client = freshClient();
    let last: ClaimResult | undefined;
    for (let i = 0; i < 50; i++) last = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client);
    expect(last!.status).toBe(401);
    expect(last!.response.triesRemaining).toBe(0);
    expect(Number(last!.response.remainingBanDuration!.seconds)).toBe(3600);

    // Even a good code is refused, before the body is looked at.
    const code = await issueCode(system.submissionUrl);
    const banned = await new Phone().claim(system.submissionUrl, code, client);
    expect(banned.status).toBe(429);
    expectClaimHeaders(banned);
    // TEMPORARY_BAN, tries 0, and the full hour left (the clock has not moved): 3600 s.
    expect(hex(banned.bytes)).toBe('0805' + '1800' + '2203' + '08901c');
    expect((await claimRaw(randomBytes(1000), client)).status).toBe(429);

    system.clock.advance(HOUR - 60_000);
    const later = await new Phone().claim(system.submissionUrl, code, client);
    expect(later.status).toBe(429);
    expect(Number(later.response.remainingBanDuration!.seconds)).toBeLessThanOrEqual(60);

    system.clock.advance(60_000);
    const free = await new Phone().claim(system.submissionUrl, code, client);
    expect(free.status).toBe(200);
    const counter = await system.db.query('SELECT count(*)::int AS n FROM failed_key_claim_attempts');
    expect(counter.rows[0].n).toBeGreaterThan(0);
  });

  it('ignores the X-Forwarded-For entries a client writes itself', async () => {
    // The load balancer appends the real address last; the client controls what is before it.
    for (let i = 0; i < 50; i++) {
      await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': `10.9.${i}.1, 203.0.113.77` });
    }
    const dodge = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': '10.200.0.1, 203.0.113.77' });
    expect(dodge.status).toBe(429);
    const other = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': '203.0.113.77, 203.0.113.78' });
    expect(other.status).toBe(401);
  });

  it('believes X-Forwarded-For only from a configured proxy', async () => {
    // Loopback, where the test connects from, is no proxy here: the client is its socket.
    const direct = await startSystem({ TRUSTED_PROXIES: '10.0.0.0/8' });
    try {
      const first = await new Phone().claim(direct.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': '198.51.100.1' });
      const second = await new Phone().claim(direct.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': '198.51.100.2' });
      expect([first.response.triesRemaining, second.response.triesRemaining]).toEqual([49, 48]);
      expect((await direct.db.query('SELECT failures FROM failed_key_claim_attempts')).rows).toEqual([{ failures: 2 }]);
    } finally {
      await direct.stop();
    }
  });

  it('stores a keyed hash of the client address, never the address', async () => {
    await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', { 'x-forwarded-for': '192.0.2.123' });
    const rows = (await system.db.query('SELECT identifier FROM failed_key_claim_attempts')).rows as { identifier: string }[];
    expect(rows.length).toBeGreaterThan(0);
    for (const { identifier } of rows) {
      expect(identifier).toMatch(/^[0-9a-f]{64}$/);
      expect(identifier).not.toContain('192.0.2.123');
    }
  });

  it('answers 500 SERVER_ERROR when the database fails', async () => {
    const code = await issueCode(system.submissionUrl);
    await system.db.query('ALTER TABLE otk_life_log RENAME TO otk_life_log_away');
    try {
      const result = await new Phone().claim(system.submissionUrl, code, freshClient());
      expect(result.status).toBe(500);
      expect(result.response.error).toBe(ClaimError.SERVER_ERROR);
      expect(result.response.triesRemaining).toBe(50);
    } finally {
      await system.db.query('ALTER TABLE otk_life_log_away RENAME TO otk_life_log');
    }
    // The failed transaction left the code unclaimed.
    expect((await new Phone().claim(system.submissionUrl, code, freshClient())).status).toBe(200);
  });
});

describe('/claim-key under concurrent failures', () => {
  let raised: TestSystem;
  beforeAll(async () => {
    raised = await startSystem({ MAX_CONSECUTIVE_CLAIM_KEY_FAILURES: '1000' });
  });
  afterAll(() => raised.stop());

  it('counts 100 concurrent bad claims from one client as exactly 100 failures', async () => {
    const client = { 'x-forwarded-for': '203.0.113.200' };
    const results = await Promise.all(Array.from({ length: 100 }, () => new Phone().claim(raised.submissionUrl, 'AAAAAAAAAA', client)));
    expect(results.every((r) => r.status === 401)).toBe(true);
    const rows = (await raised.db.query('SELECT failures FROM failed_key_claim_attempts')).rows;
    expect(rows).toEqual([{ failures: 100 }]);
    const tries = results.map((r) => r.response.triesRemaining).sort((a, b) => a - b);
    expect(tries[0]).toBe(900);
    expect(new Set(tries).size).toBe(100);
  });

  it('with the default limit, counts every failure it answers and bans the rest', async () => {
    const defaults = await startSystem();
    try {
      const client = { 'x-forwarded-for': '203.0.113.201' };
      const results = await Promise.all(Array.from({ length: 100 }, () => new Phone().claim(defaults.submissionUrl, 'AAAAAAAAAA', client)));
      const failed = results.filter((r) => r.status === 401).length;
      const banned = results.filter((r) => r.status === 429).length;
      expect(failed + banned).toBe(100);
      expect(failed).toBeGreaterThanOrEqual(50);
      const rows = (await defaults.db.query('SELECT failures FROM failed_key_claim_attempts')).rows;
      expect(rows).toEqual([{ failures: failed }]);
    } finally {
      await defaults.stop();
    }
  });
});

describe('/claim-key under a burst from one client', () => {
  // Bursts written at once: the ban is charged before any code is looked at, so at most the
  // limit (50) of them are evaluated, however many arrive together, even a real code sent last.
  for (const [i, burst] of [100, 1000, 5000].entries()) {
    it(`evaluates at most 50 of ${burst} claims sent at once`, async () => {
      const client = { 'x-forwarded-for': `192.0.2.${10 + i}` };
      const code = await issueCode(system.submissionUrl);
      const claims = Array.from({ length: burst - 1 }, () => new Phone().claim(system.submissionUrl, 'AAAAAAAAAA', client));
      claims.push(new Phone().claim(system.submissionUrl, code, client));
      const results = await Promise.all(claims);
      const statuses = results.map((r) => r.status);
      const evaluated = statuses.filter((s) => s === 401 || s === 200).length;
      expect(evaluated).toBeLessThanOrEqual(50);
      expect(statuses.filter((s) => s === 429).length).toBe(burst - evaluated);
      for (const r of results.filter((r) => r.status === 429)) expect(r.response.error).toBe(ClaimError.TEMPORARY_BAN);
      // The counter never passes the limit: refused attempts are not counted.
      const rows = (await system.db.query('SELECT failures FROM failed_key_claim_attempts ORDER BY last_failure DESC LIMIT 1')).rows;
      expect(rows[0].failures).toBeLessThanOrEqual(50);
      expect(rows[0].failures).toBeLessThanOrEqual(statuses.filter((s) => s === 401).length);
      // Once banned, even a real code is refused.
      const after = await new Phone().claim(system.submissionUrl, await issueCode(system.submissionUrl), client);
      expect(after.status).toBe(429);
    });
  }
});

describe('/claim-key repeated to recover a lost answer (CLAIM_REPLAY_MINUTES)', () => {
  it('answers the same code and app key again within 15 minutes, counting nothing', async () => {
    const client = freshClient();
    const phone = new Phone();
    const code = await issueCode(system.submissionUrl);
    const first = await phone.claim(system.submissionUrl, code, client);
    expect(first.status).toBe(200);
    system.clock.advance(14 * 60_000);
    try {
      const again = await phone.claim(system.submissionUrl, code, client);
      expect(again.status).toBe(200);
      expect(hex(again.bytes)).toBe(hex(first.bytes));
      // Another app key with that code, or that app key with another code: refused as ever.
      const other = await new Phone().claim(system.submissionUrl, code, client);
      expect(other.response.error).toBe(ClaimError.INVALID_ONE_TIME_CODE);
      expect(other.response.triesRemaining).toBe(49);
      const wrong = await phone.claim(system.submissionUrl, 'AAAAAAAAAA', client);
      expect([wrong.status, wrong.response.error]).toEqual([401, ClaimError.INVALID_KEY]);
      // What recognises the code is a keyed hash, never the code.
      const stored = await system.db.query('SELECT claimed_code_hash FROM encryption_keys WHERE app_public_key = $1', [
        Buffer.from(phone.keypair.publicKey),
      ]);
      expect(stored.rows[0].claimed_code_hash).toHaveLength(32);
      expect(stored.rows[0].claimed_code_hash.includes(Buffer.from(code))).toBe(false);
      system.clock.advance(2 * 60_000);
      const late = await phone.claim(system.submissionUrl, code, client);
      expect([late.status, late.response.error]).toEqual([401, ClaimError.INVALID_KEY]);
    } finally {
      system.clock.ms = Date.now();
    }
  });

  it('is forgotten by the purge once the window is past', async () => {
    const phone = new Phone();
    expect((await phone.claim(system.submissionUrl, await issueCode(system.submissionUrl), freshClient())).status).toBe(200);
    const hashOf = async () =>
      (await system.db.query('SELECT claimed_code_hash FROM encryption_keys WHERE app_public_key = $1', [Buffer.from(phone.keypair.publicKey)]))
        .rows[0].claimed_code_hash;
    expect(await hashOf()).not.toBeNull();
    await purgeOnce(system.db, system.config.purge!, new TestClock(system.clock.now() + 16 * 60_000), pino({ level: 'silent' }));
    expect(await hashOf()).toBeNull();
  });

  it('with 0, behaves as the original: a repeat is refused, and nothing is kept', async () => {
    const original = await startSystem({ CLAIM_REPLAY_MINUTES: '0' });
    try {
      const phone = new Phone();
      const code = await issueCode(original.submissionUrl);
      expect((await phone.claim(original.submissionUrl, code, freshClient())).status).toBe(200);
      const again = await phone.claim(original.submissionUrl, code, freshClient());
      expect([again.status, hex(again.bytes)]).toEqual([401, '0804' + '1832']);
      expect((await original.db.query('SELECT claimed_code_hash FROM encryption_keys')).rows).toEqual([{ claimed_code_hash: null }]);
    } finally {
      await original.stop();
    }
  });
});
