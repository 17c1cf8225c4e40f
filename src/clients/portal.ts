// A health portal (protocol §4.1): asks for a one-time code to give a patient.
import { request, type HttpResult } from './http.js';

/** POST /new-key-claim[/hashID] with the portal's bearer token. */
export function newKeyClaim(submissionUrl: string, token: string, hashId?: string): Promise<HttpResult> {
  const path = hashId === undefined ? '/new-key-claim' : `/new-key-claim/${hashId}`;
  return request(submissionUrl + path, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
}

/** A fresh one-time code, or an error saying what the server answered. */
export async function issueCode(submissionUrl: string, token: string, hashId?: string): Promise<string> {
  const result = await newKeyClaim(submissionUrl, token, hashId);
  if (result.status !== 200) throw new Error(`new-key-claim answered ${result.status}: ${result.text}`);
  return result.text.trim();
}
