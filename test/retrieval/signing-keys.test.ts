// Rotating the signing key (SIGNING_KEYS_FILE): during an overlap every file carries a
// signature of each valid key, each verifying alone against its own public key, so that
// phones that trust either accept it; before and after, one key signs.
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecrets } from '../../src/crypto/key-generation.js';
import { verifyExport } from '../../src/exports/verify.js';
import { claimedPhone, makeKeys } from '../helpers/app-client.js';
import { readKeyFile, retrieve } from '../helpers/phone-download.js';
import { startSystem, TestClock, type TestSystem } from '../helpers/servers.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const midnight = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const oldKey = generateSecrets();
const newKey = generateSecrets();
// The new key signs from 10:00; the old one until 14:00.
const overlapStarts = midnight + 10 * HOUR_MS;
const overlapEnds = midnight + 14 * HOUR_MS;

let dir: string;
let system: TestSystem;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'signing-keys-'));
  const file = path.join(dir, 'signing-keys.json');
  await writeFile(
    file,
    JSON.stringify([
      { ecdsaKey: oldKey.ecdsaKey, keyId: '302', keyVersion: 'v1', notAfter: new Date(overlapEnds).toISOString() },
      { ecdsaKey: newKey.ecdsaKey, keyId: '302', keyVersion: 'v2', notBefore: new Date(overlapStarts).toISOString() },
    ]),
  );
  system = await startSystem({ SIGNING_KEYS_FILE: file, ECDSA_KEY: '' }, new TestClock(midnight + 8 * HOUR_MS));
  const phone = await claimedPhone(system.submissionUrl);
  expect((await phone.upload(system.submissionUrl, makeKeys(3, system.clock.now()), system.clock.now())).status).toBe(200);
});
afterAll(async () => {
  await system?.stop();
  await rm(dir, { recursive: true, force: true });
});

const publicKey = (secrets: ReturnType<typeof generateSecrets>) => createPublicKey(secrets.ecdsaPublicKeyPem);

/** Today's file at `ms`: its signature infos, and which public key verifies each signature alone. */
async function signedAt(ms: number) {
  system.clock.ms = ms;
  const result = await retrieve(system.retrievalUrl, Math.floor(ms / DAY_MS), ms);
  expect(result.status).toBe(200);
  const file = await readKeyFile(result.bytes);
  expect(file.exported.keys).toHaveLength(3);
  const infos = file.exported.signatureInfos.map((i) => i.verificationKeyVersion);
  const signatures = file.signatures.signatures.map((s) => ({
    version: s.signatureInfo!.verificationKeyVersion,
    old: verify('sha256', file.bin, publicKey(oldKey), s.signature!),
    new: verify('sha256', file.bin, publicKey(newKey), s.signature!),
  }));
  return { infos, signatures, zip: result.bytes };
}

describe('SIGNING_KEYS_FILE', () => {
  it('signs with the old key alone before the new one is valid', async () => {
    const before = await signedAt(overlapStarts - 1);
    expect(before.infos).toEqual(['v1']);
    expect(before.signatures).toEqual([{ version: 'v1', old: true, new: false }]);
  });

  it('signs with both keys during the overlap, each signature verifying alone with its own key', async () => {
    // Valid at the start of the hour: 10:00 exactly, and through 13:59.
    for (const ms of [overlapStarts, overlapEnds - 1]) {
      const during = await signedAt(ms);
      expect(during.infos).toEqual(['v1', 'v2']);
      expect(during.signatures).toEqual([
        { version: 'v1', old: true, new: false },
        { version: 'v2', old: false, new: true },
      ]);
      // Phones that trust either key accept it; verify-export says which signature each verifies.
      for (const trusted of [[publicKey(oldKey)], [publicKey(newKey)], [publicKey(oldKey), publicKey(newKey)]]) {
        const report = await verifyExport(during.zip, trusted);
        expect(report.problems).toEqual([]);
      }
      expect((await verifyExport(during.zip, [publicKey(newKey), publicKey(oldKey)])).signatures.map((s) => s.verifiedBy)).toEqual([1, 0]);
    }
    // Byte-stable within the hour: one file, whoever builds it.
    const again = await signedAt(overlapStarts + 30 * 60_000);
    expect(Buffer.compare(again.zip, (await signedAt(overlapStarts)).zip)).toBe(0);
  });

  it('signs with the new key alone once the old one is retired', async () => {
    const after = await signedAt(overlapEnds);
    expect(after.infos).toEqual(['v2']);
    expect(after.signatures).toEqual([{ version: 'v2', old: false, new: true }]);
    expect((await verifyExport(after.zip, [publicKey(oldKey)])).ok).toBe(false);
  });
});
