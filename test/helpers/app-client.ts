// The clients of src/clients/ with this suite's defaults: its portal token, its HMAC key
// and region 302. Nothing here speaks the protocol itself.
import { Phone } from '../../src/clients/app.js';
import * as portal from '../../src/clients/portal.js';
import { PORTAL_TOKEN } from './servers.js';

export { request, post, type HttpResult } from '../../src/clients/http.js';
export { Phone, sendUpload, recentKeys as makeKeys, type ClaimResult, type Key, type UploadResult } from '../../src/clients/app.js';

/** The health portal: POST /new-key-claim[/hashID] with its bearer token. */
export function newKeyClaim(submissionUrl: string, options: { token?: string; hashId?: string } = {}) {
  return portal.newKeyClaim(submissionUrl, options.token ?? PORTAL_TOKEN, options.hashId);
}

export function issueCode(submissionUrl: string, options: { token?: string; hashId?: string } = {}): Promise<string> {
  return portal.issueCode(submissionUrl, options.token ?? PORTAL_TOKEN, options.hashId);
}

/** A phone that has claimed a fresh code (from the portal of `token`, or this suite's). */
export async function claimedPhone(submissionUrl: string, token?: string): Promise<Phone> {
  const phone = new Phone();
  const claim = await phone.claim(submissionUrl, await issueCode(submissionUrl, token === undefined ? {} : { token }));
  if (claim.status !== 200) throw new Error(`claim answered ${claim.status}`);
  return phone;
}
