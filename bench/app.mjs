// The app's side for the benchmarks: codes from the portal, claims, sealed uploads, with
// the request bytes of src/clients/app.ts sent over the benchmark's own keep-alive client.
// All the slow client work (tweetnacl) happens before the clock starts.
import nacl from 'tweetnacl';
import { claimRequest as claimBody, recentKeys, sealUpload, uploadMessage } from '../dist/clients/app.js';
import { inParallel } from '../dist/clients/in-parallel.js';
import { covidshield } from '../generated/covidshield.js';
import { indices, TOKEN } from './lib.mjs';

export const KEYS_PER_UPLOAD = 14;

export async function issueCodes(client, port, count) {
  const codes = [];
  await inParallel(indices(count), 16, async () => {
    const result = await client.send(port, 'POST', '/new-key-claim', Buffer.alloc(0), { authorization: `Bearer ${TOKEN}` });
    if (result.status !== 200) throw new Error(`new-key-claim answered ${result.status}`);
    codes.push(result.body.toString().trim());
  });
  return codes;
}

/** The body of a claim for `code` with a fresh app keypair. */
export function claimRequest(code) {
  const keypair = nacl.box.keyPair();
  return { keypair, body: Buffer.from(claimBody(code, keypair.publicKey)) };
}

/** `count` claimed phones: { keypair, serverPublicKey }. */
export async function claimedPhones(client, port, count) {
  const phones = [];
  const codes = await issueCodes(client, port, count);
  await inParallel(codes, 16, async (code) => {
    const { keypair, body } = claimRequest(code);
    const result = await client.send(port, 'POST', '/claim-key', body);
    if (result.status !== 200) throw new Error(`claim-key answered ${result.status}`);
    phones.push({ keypair, serverPublicKey: covidshield.KeyClaimResponse.decode(result.body).serverPublicKey });
  });
  return phones;
}

/** 14 fresh keys of the last 14 days, as after a fortnight of use. */
export function freshKeys(nowMs) {
  return recentKeys(KEYS_PER_UPLOAD, nowMs);
}

export function sealedUpload(phone, keys, nowMs) {
  return Buffer.from(sealUpload(phone.keypair, phone.serverPublicKey, uploadMessage(keys, Math.floor(nowMs / 1000))));
}
