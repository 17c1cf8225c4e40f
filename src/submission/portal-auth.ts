// Health portals (protocol §4.1): which bearer token is whose, and what statistics call it.
import type { ClaimToken } from '../config.js';
import { fingerprint, secretsEqual } from '../crypto/secrets.js';

/**
 * The originator recorded for a portal's token: its label. Legacy configurations label
 * every token with the region ("302"); there the original stored the raw token, which is a
 * secret, so this records a fingerprint of it instead.
 */
export function originatorLabel(claimToken: ClaimToken, region: string): string {
  return claimToken.label === region ? fingerprint(claimToken.token) : claimToken.label;
}

/**
 * Checks `Authorization: Bearer <token>` against every configured token in constant time
 * (all are compared, so timing does not tell which matched) and returns its originator.
 */
export function authenticatePortal(authorization: string | undefined, portals: { claimTokens: ClaimToken[]; region: string }): string | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  const given = authorization.slice('Bearer '.length);
  let match: ClaimToken | undefined;
  for (const candidate of portals.claimTokens) {
    if (secretsEqual(given, candidate.token) && !match) match = candidate;
  }
  return match && originatorLabel(match, portals.region);
}
