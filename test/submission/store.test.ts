// The submission store's own rules, on real Postgres: one-time code collisions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBoxKeypair } from '../../src/crypto/box.js';
import { generateOneTimeCode } from '../../src/protocol/one-time-code.js';
import { issueOneTimeCode } from '../../src/submission/store.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

const issue = (makeCode: () => string, makeKeypair = generateBoxKeypair) =>
  issueOneTimeCode(
    system.db,
    system.config.submission!,
    { originator: 'portal-one', region: '302', hashId: undefined, nowMs: system.clock.now() },
    makeCode,
    makeKeypair,
  );

describe('issuing a one-time code', () => {
  it('draws again when the code collides with a live one', async () => {
    const live = await issue(generateOneTimeCode);
    expect(live.ok).toBe(true);
    const draws = [live.ok ? live.code : '', live.ok ? live.code : '', 'HJKLQRSUWX'];
    let drawn = 0;
    const result = await issue(() => draws[drawn++]!);
    expect(result).toEqual({ ok: true, code: 'HJKLQRSUWX', regenerated: false });
    expect(drawn).toBe(3);
  });

  it('gives up after five collisions', async () => {
    const live = await issue(generateOneTimeCode);
    let drawn = 0;
    await expect(issue(() => (drawn++, live.ok ? live.code : ''))).rejects.toMatchObject({ code: '23505' });
    expect(drawn).toBe(5);
  });

  it('does not retry a unique violation that is not the code’s', async () => {
    const keypair = generateBoxKeypair();
    expect((await issue(generateOneTimeCode, () => keypair)).ok).toBe(true);
    let drawn = 0;
    const again = issue(
      () => (drawn++, generateOneTimeCode()),
      () => keypair,
    );
    await expect(again).rejects.toMatchObject({ code: '23505', constraint: 'encryption_keys_server_private_key_key' });
    expect(drawn).toBe(1);
  });
});
