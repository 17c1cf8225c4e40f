// Health portals (protocol §4.1): which bearer token is whose, and what statistics call it.
import type { ClaimToken } from '../config.js';
import { fingerprint, secretsEqual } from '../crypto/secrets.js';

/**
 * The originator recorded for a portal's token: its label. Legacy configurations label
 * every token with the region ("302"); there the original stored the raw token, which is a
 * secret, so this records a fingerprint of it instead.
 */
export function originatorLabel(claimToken: ClaimToken): string {
  return claimToken.label === claimToken.region ? fingerprint(claimToken.token) : claimToken.label;
}

/** Who a portal is: what statistics call it, and the region its codes issue for. */
export interface Portal {
  originator: string;
  region: string;
}

/**
 * Checks `Authorization: Bearer <token>` against every configured token in constant time
 * (all are compared, so timing does not tell which matched) and returns its originator.
 */
export function authenticatePortal(authorization: string | undefined, portals: { claimTokens: ClaimToken[] }): Portal | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  const given = authorization.slice('Bearer '.length);
  let match: ClaimToken | undefined;
  for (const candidate of portals.claimTokens) {
    if (secretsEqual(given, candidate.token) && !match) match = candidate;
  }
  return match && { originator: originatorLabel(match), region: match.region };
}
