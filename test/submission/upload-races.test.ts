// Uploads that race each other over the same keys: two keypairs sending the same keys in
// opposite order at once must never deadlock (a 500 to a phone that did nothing wrong).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimedPhone, makeKeys, type Phone } from '../helpers/app-client.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

describe('uploads of the same keys at once', () => {
  it('never deadlock, whatever order the keys come in', async () => {
    const pairs = 60;
    // Claimed 20 at a time: more than the ban limit (50) of claims in flight at once from one
    // address are refused before any is evaluated, by design.
    const phones: Phone[] = [];
    for (let i = 0; i < pairs * 2; i += 20) phones.push(...(await Promise.all(Array.from({ length: 20 }, () => claimedPhone(system.submissionUrl)))));
    const now = system.clock.now();
    const statuses = await Promise.all(
      Array.from({ length: pairs }, async (_, i) => {
        const keys = makeKeys(28, now);
        const [a, b] = [phones[2 * i]!, phones[2 * i + 1]!];
        const results = await Promise.all([a.upload(system.submissionUrl, keys, now), b.upload(system.submissionUrl, [...keys].reverse(), now)]);
        return results.map((r) => r.status);
      }),
    );
    expect(statuses.flat().filter((s) => s !== 200)).toEqual([]);
  });
});
