// The app's side for the benchmarks: codes from the portal, claims, sealed uploads. All
// the slow client work (tweetnacl) happens before the clock starts.
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { covidshield } from '../generated/covidshield.js';
import { inParallel, TOKEN } from './lib.mjs';

const { KeyClaimRequest, KeyClaimResponse, EncryptedUploadRequest, Upload } = covidshield;
export const KEYS_PER_UPLOAD = 14;

export async function issueCodes(client, port, count) {
  const codes = [];
  await inParallel(count, 16, async () => {
    const result = await client.send(port, 'POST', '/new-key-claim', Buffer.alloc(0), { authorization: `Bearer ${TOKEN}` });
    if (result.status !== 200) throw new Error(`new-key-claim answered ${result.status}`);
    codes.push(result.body.toString().trim());
  });
  return codes;
}

/** The body of a claim for `code` with a fresh app keypair. */
export function claimRequest(code) {
  const keypair = nacl.box.keyPair();
  return { keypair, body: Buffer.from(KeyClaimRequest.encode({ oneTimeCode: code, appPublicKey: keypair.publicKey }).finish()) };
}

/** `count` claimed phones: { keypair, serverPublicKey }. */
export async function claimedPhones(client, port, count) {
  const phones = [];
  const codes = await issueCodes(client, port, count);
  await inParallel(codes.length, 16, async (i) => {
    const { keypair, body } = claimRequest(codes[i]);
    const result = await client.send(port, 'POST', '/claim-key', body);
    if (result.status !== 200) throw new Error(`claim-key answered ${result.status}`);
    phones.push({ keypair, serverPublicKey: KeyClaimResponse.decode(result.body).serverPublicKey });
  });
  return phones;
}

/** 14 fresh keys of the last 14 days, as after a fortnight of use. */
export function freshKeys(nowMs) {
  const today = Math.floor(nowMs / 600_000 / 144) * 144;
  return Array.from({ length: KEYS_PER_UPLOAD }, (_, i) => ({
    keyData: randomBytes(16),
    transmissionRiskLevel: 1,
    rollingStartIntervalNumber: today - i * 144,
    rollingPeriod: 144,
  }));
}

export function sealedUpload(phone, keys, nowMs) {
  const nonce = nacl.randomBytes(24);
  const payload = nacl.box(
    Upload.encode({ timestamp: { seconds: Math.floor(nowMs / 1000) }, keys }).finish(),
    nonce,
    phone.serverPublicKey,
    phone.keypair.secretKey,
  );
  return Buffer.from(
    EncryptedUploadRequest.encode({ serverPublicKey: phone.serverPublicKey, appPublicKey: phone.keypair.publicKey, nonce, payload }).finish(),
  );
}
