// Group commit of claims (migration 0010, submission/claim-groups.ts) on real Postgres:
// claims sharing one call and one commit, each judged and charged on its own, in order.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hoursLived } from '../../src/protocol/retention.js';
import { startOfUtcDay } from '../../src/protocol/time.js';
import { claimOneTimeCodes, type ClaimToRedeem } from '../../src/submission/store.js';
import { issueCode, Phone } from '../helpers/app-client.js';
import { delta, scrape } from '../helpers/metrics.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  // One group in flight: every claim that arrives while it runs waits for the next one.
  system = await startSystem({ COMMIT_GROUPS_IN_FLIGHT: '1', METRIC_PROVIDER: 'prometheus', PROMETHEUS_PORT: '0' });
});
afterAll(() => system.stop());

const HOUR = 3_600_000;
const now = () => system.clock.now();
const failures = async (clientId: string) =>
  (await system.db.query('SELECT failures FROM failed_key_claim_attempts WHERE identifier = $1', [clientId])).rows[0]?.failures ?? 0;
const claim = (clientId: string, code: string | undefined, appPublicKey: Uint8Array = randomBytes(32)): ClaimToRedeem => ({
  clientId,
  code,
  appPublicKey,
  codeHash: randomBytes(32),
  nowMs: now(),
});

describe('a group of claims in one call', () => {
  it('judges each claim in order, each seeing what the ones before it did', async () => {
    const [a, b] = [await issueCode(system.submissionUrl), await issueCode(system.submissionUrl)];
    const [x, y, z] = ['x', 'y', 'z'].map((c) => c.repeat(64));
    const key = randomBytes(32);
    const outcomes = await claimOneTimeCodes(system.db, system.config.submission!, [
      claim(x!, a, key),
      // The code the claim before it redeemed: a failure, charged.
      claim(y!, a),
      // The app key the first claim registered: refused, nothing charged.
      claim(z!, b, key),
      // No code could look like it: charged as a failure without a lookup.
      claim(z!, undefined),
      claim(z!, b),
    ]);
    expect(outcomes.map((o) => o.outcome)).toEqual(['claimed', 'no-such-code', 'app-key-registered', 'no-such-code', 'claimed']);
    expect(outcomes[1]).toMatchObject({ counter: { failures: 1 } });
    expect(outcomes[3]).toMatchObject({ counter: { failures: 1 } });
    // Successes clear their client's counter; the failure of y stands.
    expect([await failures(x!), await failures(y!), await failures(z!)]).toEqual([0, 1, 0]);
  });

  it('refuses a client past the limit uncharged, however many of its claims share the group', async () => {
    const client = 'b'.repeat(64);
    const limit = system.config.submission!.maxConsecutiveClaimKeyFailures;
    const code = await issueCode(system.submissionUrl);
    const group = [...Array.from({ length: limit + 5 }, () => claim(client, 'AAAAAAAAAA')), claim(client, code)];
    const outcomes = await claimOneTimeCodes(system.db, system.config.submission!, group);
    expect(outcomes.filter((o) => o.outcome === 'no-such-code')).toHaveLength(limit);
    expect(outcomes.filter((o) => o.outcome === 'banned')).toHaveLength(6);
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'banned', counter: { failures: limit } });
    expect(await failures(client)).toBe(limit);
  });
});

describe('the claim call’s SQL against the protocol’s functions', () => {
  it('dates the keypair from midnight UTC of its code’s day, and logs the code’s life in whole hours, as protocol/ does', async () => {
    // A claim at a fixed time of day, so that every code below is still live whenever this runs.
    const midnight = startOfUtcDay(now());
    const claimedAt = midnight + 5 * HOUR + 17 * 60_000 + 123;
    // Codes issued at instants around the edges: a midnight, just before and after it, an
    // hour's edge, and a few minutes before the claim.
    const issuedAt = [midnight, midnight - 1, midnight + 1, midnight - 3 * HOUR + 1, claimedAt - HOUR, claimedAt - HOUR + 1, claimedAt - 5 * 60_000];
    for (const issued of issuedAt) {
      const code = await issueCode(system.submissionUrl);
      await system.db.query('UPDATE encryption_keys SET created = $1 WHERE one_time_code = $2', [new Date(issued), code]);
      await system.db.query('DELETE FROM otk_life_log');
      const [outcome] = await claimOneTimeCodes(system.db, system.config.submission!, [{ ...claim('c'.repeat(64), code), nowMs: claimedAt }]);
      expect(outcome).toMatchObject({ outcome: 'claimed' });
      const serverKey = outcome!.outcome === 'claimed' ? outcome!.serverPublicKey : Buffer.alloc(0);
      const created = (await system.db.query('SELECT created FROM encryption_keys WHERE server_public_key = $1', [serverKey])).rows[0]
        .created as Date;
      const hours = (await system.db.query('SELECT hours FROM otk_life_log')).rows.map((r) => r.hours as number);
      expect({ issued, created: created.getTime(), hours }).toEqual({
        issued,
        created: startOfUtcDay(issued),
        hours: [hoursLived(issued, claimedAt)],
      });
    }
  });
});

describe('/claim-key under concurrent phones', () => {
  it('shares commits between claims that arrive together, and answers each', async () => {
    const codes = await Promise.all(Array.from({ length: 24 }, () => issueCode(system.submissionUrl)));
    const before = await scrape(system.metricsUrl!);
    const results = await Promise.all(
      codes.map((code, i) => new Phone().claim(system.submissionUrl, code, { 'x-forwarded-for': `198.51.100.${i + 1}` })),
    );
    expect(results.map((r) => r.status)).toEqual(codes.map(() => 200));
    const after = await scrape(system.metricsUrl!);
    const groups = delta(before, after, 'diagnosis_commit_group_size_count{call="claim"}');
    expect(delta(before, after, 'diagnosis_commit_group_size_sum{call="claim"}')).toBe(24);
    expect(groups).toBeGreaterThan(0);
    expect(groups).toBeLessThan(24);
  });
});
