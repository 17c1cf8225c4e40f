// Group commit of claims (migration 0010, submission/claim-groups.ts) on real Postgres:
// claims sharing one call and one commit, each judged and charged on its own, in order.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
