// The COVID Alert app's side of key submission (protocol §4.2, §4.3), as it really behaves:
// a Curve25519 keypair of its own, the claim of a one-time code, and uploads sealed with
// tweetnacl. The encoders are apart from the sending, so that a load generator with its own
// transport (bench/) sends exactly the bytes the app would.
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import type { covidshield } from '../../generated/covidshield.js';
import { EncryptedUploadRequest, EncryptedUploadResponse, KeyClaimRequest, KeyClaimResponse, Upload } from '../protocol/messages.js';
import { currentRollingStartIntervalNumber, INTERVALS_PER_DAY } from '../protocol/time.js';
import { post, type HttpResult } from './http.js';

/** A Temporary Exposure Key as the app puts it in an upload (any field may be left out). */
export type Key = covidshield.TemporaryExposureKey.$Properties;

export interface ClaimResult extends HttpResult {
  response: covidshield.KeyClaimResponse;
}

export interface UploadResult extends HttpResult {
  response: covidshield.EncryptedUploadResponse;
}

/** The KeyClaimRequest bytes for `code` and the app's public key. */
export function claimRequest(code: string, appPublicKey: Uint8Array): Uint8Array {
  return KeyClaimRequest.encode({ oneTimeCode: code, appPublicKey }).finish();
}

/** The EncryptedUploadRequest bytes: `message` sealed from the app's keypair to the server's key. */
export function sealUpload(appKeypair: nacl.BoxKeyPair, serverPublicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const nonce = nacl.randomBytes(24);
  const payload = nacl.box(message, nonce, serverPublicKey, appKeypair.secretKey);
  return EncryptedUploadRequest.encode({ serverPublicKey, appPublicKey: appKeypair.publicKey, nonce, payload }).finish();
}

/** The Upload the app seals: its keys and the time it sends them. */
export function uploadMessage(keys: Key[], timestampSeconds: number): Uint8Array {
  return Upload.encode({ timestamp: { seconds: timestampSeconds }, keys }).finish();
}

/**
 * `count` keys for the days back from today, newest first, as the app sends them; past 14
 * they cycle through the same days again, since one upload may span 15 days at most.
 */
export function recentKeys(count: number, nowMs: number, fields: Partial<Key> = {}): Key[] {
  const today = currentRollingStartIntervalNumber(nowMs);
  return Array.from({ length: count }, (_, i) => ({
    keyData: randomBytes(16),
    transmissionRiskLevel: 1,
    // One day's key each for 14 days, then again a few intervals earlier: never two keys
    // with one start interval (MAX_KEYS_PER_START_INTERVAL), never one too old to serve.
    rollingStartIntervalNumber: today - (i % 14) * INTERVALS_PER_DAY - Math.floor(i / 14),
    rollingPeriod: INTERVALS_PER_DAY,
    ...fields,
  }));
}

export async function sendUpload(submissionUrl: string, body: Uint8Array): Promise<UploadResult> {
  const result = await post(`${submissionUrl}/upload`, body);
  return { ...result, response: EncryptedUploadResponse.decode(result.bytes) };
}

/** One phone: its keypair, and the server key its claim returned. */
export class Phone {
  readonly keypair = nacl.box.keyPair();
  serverPublicKey: Uint8Array | undefined;

  async claim(submissionUrl: string, code: string, headers: Record<string, string> = {}): Promise<ClaimResult> {
    const result = await post(`${submissionUrl}/claim-key`, claimRequest(code, this.keypair.publicKey), headers);
    const response = KeyClaimResponse.decode(result.bytes);
    if (result.status === 200) this.serverPublicKey = response.serverPublicKey;
    return { ...result, response };
  }

  /** The EncryptedUploadRequest bytes the app would send; `plaintext` overrides the Upload. */
  seal(keys: Key[], timestampSeconds: number, plaintext?: Uint8Array): Uint8Array {
    if (!this.serverPublicKey) throw new Error('claim first');
    return sealUpload(this.keypair, this.serverPublicKey, plaintext ?? uploadMessage(keys, timestampSeconds));
  }

  async upload(submissionUrl: string, keys: Key[], nowMs: number): Promise<UploadResult> {
    return sendUpload(submissionUrl, this.seal(keys, Math.floor(nowMs / 1000)));
  }
}
