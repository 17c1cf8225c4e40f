// /upload over HTTP against real Postgres (protocol §4.3).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptedUploadRequest, Upload, UploadError } from '../../src/protocol/messages.js';
import { hourNumber } from '../../src/protocol/time.js';
import { claimedPhone, issueCode, makeKeys, type Phone, post, sendUpload, type Key, type UploadResult } from '../helpers/app-client.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';
import { foldStatisticsLogs } from '../../src/statistics/store.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startSystem();
});
afterAll(() => system.stop());

const now = () => system.clock.now();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const keyCount = async () => (await system.db.query('SELECT count(*)::int AS n FROM diagnosis_keys')).rows[0].n as number;
const remaining = async (phone: Phone) =>
  (await system.db.query('SELECT remaining_keys FROM encryption_keys WHERE app_public_key = $1', [phone.keypair.publicKey])).rows[0]
    .remaining_keys as number;

function expectError(result: UploadResult, status: number, error: keyof typeof UploadError) {
  expect({ status: result.status, error: UploadError[result.response.error] }).toEqual({ status, error });
  expect(hex(result.bytes)).toBe('08' + UploadError[error].toString(16).padStart(2, '0'));
  expect(result.headers.get('content-type')).toBe('application/x-protobuf');
  if (status >= 400) expect(result.headers.get('x-content-type-options')).toBe('nosniff');
}

/** Sends an upload and checks that it was refused and nothing was written. */
async function expectRefused(send: () => Promise<UploadResult>, status: number, error: keyof typeof UploadError) {
  const before = await keyCount();
  expectError(await send(), status, error);
  expect(await keyCount()).toBe(before);
}

describe('/upload', () => {
  it('stores the keys with region, originator and submission hour, and answers 08 00', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const keys = makeKeys(14, now(), { transmissionRiskLevel: 3 });
    keys[1]!.rollingPeriod = 72;
    const result = await phone.upload(system.submissionUrl, keys, now());
    expectError(result, 200, 'NONE');
    const rows = (await system.db.query('SELECT * FROM diagnosis_keys WHERE key_data = ANY($1)', [keys.map((k) => k.keyData)])).rows;
    expect(rows).toHaveLength(14);
    const second = rows.find((r) => hex(r.key_data) === hex(keys[1]!.keyData!))!;
    expect(second).toMatchObject({
      rolling_start_interval_number: keys[1]!.rollingStartIntervalNumber,
      rolling_period: 72,
      transmission_risk_level: 3,
      hour_of_submission: hourNumber(now()),
      region: '302',
      originator: 'portal-one',
    });
    expect(await remaining(phone)).toBe(43 - 14);
    await foldStatisticsLogs(system.db);
    const uploads = (await system.db.query("SELECT count, first_upload FROM tek_upload_count WHERE originator = 'portal-one'")).rows;
    expect(uploads).toContainEqual({ count: expect.any(Number), first_upload: true });
  });

  it('answers oversized, truncated and random bodies with 400 UNKNOWN', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const valid = phone.seal(makeKeys(1, now()), now() / 1000);
    await expectRefused(
      () => sendUpload(system.submissionUrl, Buffer.concat([valid, Buffer.from([0x2a, 0x80, 0x08]), randomBytes(1024)])),
      400,
      'UNKNOWN',
    );
    await expectRefused(() => sendUpload(system.submissionUrl, valid.subarray(0, valid.length - 5)), 400, 'UNKNOWN');
    await expectRefused(() => sendUpload(system.submissionUrl, Buffer.from('ffffffffffffffffffff', 'hex')), 400, 'UNKNOWN');
    // 1024 bytes is allowed: the same upload padded with an unknown field up to the limit.
    const padding = 1024 - valid.length - 3;
    const padded = Buffer.concat([valid, Buffer.from([0x2a, 0x80 | (padding & 0x7f), padding >> 7]), randomBytes(padding)]);
    expect(padded.length).toBe(1024);
    expectError(await sendUpload(system.submissionUrl, padded), 200, 'NONE');
  });

  it('checks the server key, the keypair, the nonce and the app key in the protocol order', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const sealed = EncryptedUploadRequest.decode(phone.seal(makeKeys(1, now()), now() / 1000));
    const send = (fields: Record<string, unknown>) => () =>
      sendUpload(system.submissionUrl, EncryptedUploadRequest.encode({ ...sealed, ...fields }).finish());
    await expectRefused(send({ serverPublicKey: randomBytes(31) }), 400, 'INVALID_CRYPTO_PARAMETERS');
    await expectRefused(send({ serverPublicKey: randomBytes(32) }), 401, 'INVALID_KEYPAIR');
    // An unknown server key is refused before a bad nonce is looked at.
    await expectRefused(send({ serverPublicKey: randomBytes(32), nonce: randomBytes(3) }), 401, 'INVALID_KEYPAIR');
    await expectRefused(send({ nonce: randomBytes(23) }), 400, 'INVALID_CRYPTO_PARAMETERS');
    await expectRefused(send({ appPublicKey: randomBytes(33) }), 400, 'INVALID_CRYPTO_PARAMETERS');
    await expectRefused(send({ nonce: randomBytes(24) }), 400, 'DECRYPTION_FAILED');
    await expectRefused(send({ payload: randomBytes(40) }), 400, 'DECRYPTION_FAILED');
  });

  it('refuses an app key from another keypair with 401 INVALID_KEYPAIR, not 500', async () => {
    const mine = await claimedPhone(system.submissionUrl);
    const other = await claimedPhone(system.submissionUrl);
    const sealed = EncryptedUploadRequest.decode(mine.seal(makeKeys(1, now()), now() / 1000));
    const crossed = EncryptedUploadRequest.encode({ ...sealed, appPublicKey: other.keypair.publicKey }).finish();
    await expectRefused(() => sendUpload(system.submissionUrl, crossed), 401, 'INVALID_KEYPAIR');
    // A server key whose code was never claimed has no app key at all.
    const code = await issueCode(system.submissionUrl);
    const unclaimed = (await system.db.query('SELECT server_public_key FROM encryption_keys WHERE one_time_code = $1', [code])).rows[0];
    const toUnclaimed = EncryptedUploadRequest.encode({ ...sealed, serverPublicKey: unclaimed.server_public_key }).finish();
    await expectRefused(() => sendUpload(system.submissionUrl, toUnclaimed), 401, 'INVALID_KEYPAIR');
  });

  it('refuses a keypair past its 15 days', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    await system.db.query("UPDATE encryption_keys SET created = created - interval '15 days' WHERE app_public_key = $1", [phone.keypair.publicKey]);
    await expectRefused(() => phone.upload(system.submissionUrl, makeKeys(1, now()), now()), 401, 'INVALID_KEYPAIR');
  });

  it('maps every payload problem to its error, writing nothing', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const t = now() / 1000;
    const sealed =
      (keys: Key[], timestamp = t) =>
      () =>
        sendUpload(system.submissionUrl, phone.seal(keys, timestamp));
    const raw = (plaintext: Uint8Array) => () => sendUpload(system.submissionUrl, phone.seal([], t, plaintext));
    const one = (fields: Partial<Key>) => makeKeys(1, now(), fields);
    await expectRefused(raw(Buffer.from('0aff', 'hex')), 400, 'INVALID_PAYLOAD');
    await expectRefused(sealed([]), 400, 'NO_KEYS_IN_PAYLOAD');
    await expectRefused(sealed(makeKeys(29, now())), 400, 'TOO_MANY_KEYS');
    await expectRefused(raw(Upload.encode({ keys: makeKeys(1, now()) }).finish()), 400, 'INVALID_TIMESTAMP');
    await expectRefused(sealed(makeKeys(1, now()), t - 3601), 400, 'INVALID_TIMESTAMP');
    await expectRefused(sealed(one({ rollingPeriod: 0 })), 400, 'INVALID_ROLLING_PERIOD');
    await expectRefused(sealed(one({ keyData: randomBytes(17) })), 400, 'INVALID_KEY_DATA');
    await expectRefused(sealed(one({ rollingStartIntervalNumber: 0 })), 400, 'INVALID_ROLLING_START_INTERVAL_NUMBER');
    await expectRefused(sealed(one({ transmissionRiskLevel: 9 })), 400, 'INVALID_TRANSMISSION_RISK_LEVEL');
    const wide = makeKeys(1, now());
    wide.push({ ...makeKeys(1, now())[0]!, rollingStartIntervalNumber: wide[0]!.rollingStartIntervalNumber! - 14 * 144 - 1 });
    await expectRefused(sealed(wide), 400, 'INVALID_ROLLING_START_INTERVAL_NUMBER');
    // One bad key spoils the upload: the good keys beside it are not stored either.
    await expectRefused(sealed([...makeKeys(5, now()), ...one({ transmissionRiskLevel: 9 })]), 400, 'INVALID_TRANSMISSION_RISK_LEVEL');
    expect(await remaining(phone)).toBe(43);
  });

  it('keeps to 43 new keys per keypair; duplicates cost nothing; over quota writes nothing', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const first = makeKeys(28, now());
    expectError(await phone.upload(system.submissionUrl, first, now()), 200, 'NONE');
    expect(await remaining(phone)).toBe(15);
    // The same keys again: ignored, not counted.
    expectError(await phone.upload(system.submissionUrl, first, now()), 200, 'NONE');
    expect(await remaining(phone)).toBe(15);
    // 16 new keys would pass the quota: all refused.
    const before = await keyCount();
    expectError(await phone.upload(system.submissionUrl, makeKeys(16, now()), now()), 400, 'TOO_MANY_KEYS');
    expect(await keyCount()).toBe(before);
    expect(await remaining(phone)).toBe(15);
    // 10 old plus 15 new fit exactly.
    expectError(await phone.upload(system.submissionUrl, [...first.slice(0, 10), ...makeKeys(15, now())], now()), 200, 'NONE');
    expect(await remaining(phone)).toBe(0);
    await expectRefused(() => phone.upload(system.submissionUrl, makeKeys(1, now()), now()), 400, 'INVALID_KEYPAIR');
  });

  it('never stores more than the quota under concurrent uploads on one keypair', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    // Keys of distinct start intervals, so that only the quota limits them.
    const keys = makeKeys(60, now());
    const batches = Array.from({ length: 12 }, (_, i) => keys.slice(i * 5, i * 5 + 5));
    const results = await Promise.all(batches.map((keys) => phone.upload(system.submissionUrl, keys, now())));
    const accepted = results.filter((r) => r.status === 200).length;
    // 43 / 5: eight uploads fit, the ninth would need 45.
    expect(accepted).toBe(8);
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(400);
      expect([UploadError.TOO_MANY_KEYS, UploadError.INVALID_KEYPAIR]).toContain(r.response.error);
    }
    const stored = await system.db.query('SELECT count(*)::int AS n FROM diagnosis_keys WHERE key_data = ANY($1)', [
      batches.flat().map((k) => k.keyData),
    ]);
    expect(stored.rows[0].n).toBe(40);
    expect(await remaining(phone)).toBe(3);
  });

  it('answers 500 SERVER_ERROR when the database fails, storing nothing', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    await system.db.query('ALTER TABLE tek_upload_log RENAME TO tek_upload_log_away');
    try {
      const result = await phone.upload(system.submissionUrl, makeKeys(3, now()), now());
      expectError(result, 500, 'SERVER_ERROR');
    } finally {
      await system.db.query('ALTER TABLE tek_upload_log_away RENAME TO tek_upload_log');
    }
    expect(await remaining(phone)).toBe(43);
  });

  it('reads the body whatever the method and content type', async () => {
    const phone = await claimedPhone(system.submissionUrl);
    const body = phone.seal(makeKeys(1, now()), now() / 1000);
    const result = await post(`${system.submissionUrl}/upload`, body, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(result.status).toBe(200);
    const put = await fetch(`${system.submissionUrl}/upload`, { method: 'PUT', body: new Uint8Array(phone.seal(makeKeys(1, now()), now() / 1000)) });
    expect(put.status).toBe(200);
  });
});
