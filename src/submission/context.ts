// What the submission routes are handed: configuration, the pool, the clock, the log.
import type { Logger } from 'pino';
import type { ClaimToken, Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Clock } from '../protocol/time.js';
import { fingerprint, secretsEqual } from '../crypto/secrets.js';
import type { SubmissionRules } from './store.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export interface SubmissionContext {
  config: Config;
  pool: Pool;
  clock: Clock;
  log: Logger;
  rules: SubmissionRules;
  telemetry: Telemetry;
}

export function submissionRules(config: Config): SubmissionRules {
  return {
    region: config.region,
    initialRemainingKeys: config.initialRemainingKeys,
    oneTimeCodeExpiryMinutes: config.oneTimeCodeExpiryMinutes,
    encryptionKeyValidityDays: config.encryptionKeyValidityDays,
  };
}

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
export function authenticatePortal(authorization: string | undefined, config: Config): string | undefined {
  if (!authorization?.startsWith('Bearer ')) return undefined;
  const given = authorization.slice('Bearer '.length);
  let match: ClaimToken | undefined;
  for (const candidate of config.claimTokens) {
    if (secretsEqual(given, candidate.token) && !match) match = candidate;
  }
  return match && originatorLabel(match, config.region);
}
