// The phone's side of retrieval (src/clients/phone-download.ts) with this suite's HMAC key.
import { request, type HttpResult } from '../../src/clients/http.js';
import * as download from '../../src/clients/phone-download.js';
import { RETRIEVE_HMAC_KEY } from './servers.js';

export { readKeyFile, type KeyFile } from '../../src/clients/phone-download.js';

const HMAC_KEY = Buffer.from(RETRIEVE_HMAC_KEY, 'hex');

export function retrievePath(day: string | number, nowMs: number, hourOffset = 0, region = '302'): string {
  return download.retrievePath(HMAC_KEY, region, day, nowMs, hourOffset);
}

export function retrieve(retrievalUrl: string, day: string | number, nowMs: number, init: RequestInit = {}, region = '302'): Promise<HttpResult> {
  return request(retrievalUrl + retrievePath(day, nowMs, 0, region), init);
}
