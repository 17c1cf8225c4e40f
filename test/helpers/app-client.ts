// The other ends of the protocol, as they really behave: a health portal asking for codes,
// and the COVID Alert app claiming a code and uploading keys sealed with tweetnacl.
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { EncryptedUploadRequest, EncryptedUploadResponse, KeyClaimRequest, KeyClaimResponse, Upload } from '../../src/protocol/messages.js';
import { currentRollingStartIntervalNumber, INTERVALS_PER_DAY } from '../../src/protocol/time.js';
import type { covidshield } from '../../generated/covidshield.js';
import { PORTAL_TOKEN } from './servers.js';

export interface HttpResult {
  status: number;
  headers: Headers;
  bytes: Buffer;
  text: string;
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const response = await fetch(url, init);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bytes, text: bytes.toString('utf8') };
}

export function post(url: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<HttpResult> {
  // fetch's types take bytes backed by an ArrayBuffer: a copy is one.
  const bytes = typeof body === 'string' ? body : new Uint8Array(body);
  return request(url, { method: 'POST', body: bytes, headers: { 'content-type': 'application/x-protobuf', ...headers } });
}

/** The health portal: POST /new-key-claim[/hashID] with its bearer token. */
export async function newKeyClaim(submissionUrl: string, options: { token?: string; hashId?: string } = {}): Promise<HttpResult> {
  const path = options.hashId === undefined ? '/new-key-claim' : `/new-key-claim/${options.hashId}`;
  return request(submissionUrl + path, { method: 'POST', headers: { authorization: `Bearer ${options.token ?? PORTAL_TOKEN}` } });
}

export async function issueCode(submissionUrl: string, options: { token?: string; hashId?: string } = {}): Promise<string> {
  const result = await newKeyClaim(submissionUrl, options);
  if (result.status !== 200) throw new Error(`new-key-claim answered ${result.status}: ${result.text}`);
  return result.text.trim();
}

export type Key = covidshield.TemporaryExposureKey.$Properties;

/**
 * `count` keys for the days back from today, newest first, as the app sends them; past 14
 * they cycle through the same days again, since one upload may span 15 days at most.
 */
export function makeKeys(count: number, nowMs: number, fields: Partial<Key> = {}): Key[] {
  const today = currentRollingStartIntervalNumber(nowMs);
  return Array.from({ length: count }, (_, i) => ({
    keyData: randomBytes(16),
    transmissionRiskLevel: 1,
    rollingStartIntervalNumber: today - (i % 14) * INTERVALS_PER_DAY,
    rollingPeriod: INTERVALS_PER_DAY,
    ...fields,
  }));
}

export interface ClaimResult extends HttpResult {
  response: covidshield.KeyClaimResponse;
}

export interface UploadResult extends HttpResult {
  response: covidshield.EncryptedUploadResponse;
}

export class Phone {
  readonly keypair = nacl.box.keyPair();
  serverPublicKey: Uint8Array | undefined;

  async claim(submissionUrl: string, code: string, headers: Record<string, string> = {}): Promise<ClaimResult> {
    const body = KeyClaimRequest.encode({ oneTimeCode: code, appPublicKey: this.keypair.publicKey }).finish();
    const result = await post(`${submissionUrl}/claim-key`, body, headers);
    const response = KeyClaimResponse.decode(result.bytes);
    if (result.status === 200) this.serverPublicKey = response.serverPublicKey;
    return { ...result, response };
  }

  /** The EncryptedUploadRequest bytes the app would send; `plaintext` overrides the Upload. */
  seal(keys: Key[], timestampSeconds: number, plaintext?: Uint8Array): Uint8Array {
    if (!this.serverPublicKey) throw new Error('claim first');
    const message = plaintext ?? Upload.encode({ timestamp: { seconds: timestampSeconds }, keys }).finish();
    const nonce = nacl.randomBytes(24);
    const payload = nacl.box(message, nonce, this.serverPublicKey, this.keypair.secretKey);
    return EncryptedUploadRequest.encode({ serverPublicKey: this.serverPublicKey, appPublicKey: this.keypair.publicKey, nonce, payload }).finish();
  }

  async upload(submissionUrl: string, keys: Key[], nowMs: number): Promise<UploadResult> {
    return sendUpload(submissionUrl, this.seal(keys, Math.floor(nowMs / 1000)));
  }
}

export async function sendUpload(submissionUrl: string, body: Uint8Array): Promise<UploadResult> {
  const result = await post(`${submissionUrl}/upload`, body);
  return { ...result, response: EncryptedUploadResponse.decode(result.bytes) };
}

/** A phone that has claimed a fresh code. */
export async function claimedPhone(submissionUrl: string): Promise<Phone> {
  const phone = new Phone();
  const claim = await phone.claim(submissionUrl, await issueCode(submissionUrl));
  if (claim.status !== 200) throw new Error(`claim answered ${claim.status}`);
  return phone;
}
