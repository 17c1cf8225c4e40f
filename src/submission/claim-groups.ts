// The database calls of /claim-key, shared by concurrent claims (db/commit-groups.ts): one
// query reads the failure counters of a group (the ban check, before any body is read),
// one call judges and redeems a group's claims and commits them together.
import type { FailureCounter } from '../protocol/claim-ban.js';
import type { SubmissionContext } from './context.js';
import { sharedCall } from './shared-calls.js';
import { claimOneTimeCodes, readClaimFailures, type ClaimOutcome, type ClaimToRedeem } from './store.js';

export type SettledClaim = Exclude<ClaimOutcome, { outcome: 'conflict' }>;

export interface ClaimGroups {
  failures(clientId: string): Promise<FailureCounter | undefined>;
  claim(claim: ClaimToRedeem): Promise<SettledClaim>;
}

export function claimGroups(ctx: Pick<SubmissionContext, 'pool' | 'settings' | 'telemetry'>): ClaimGroups {
  const { pool, settings } = ctx;
  const counters = sharedCall(ctx, 'claim_ban_read', (clientIds: string[]) => readClaimFailures(pool, clientIds));
  const claims = sharedCall(ctx, 'claim', (group: ClaimToRedeem[]) => claimOneTimeCodes(pool, settings, group));
  return {
    failures: (clientId) => counters.call(clientId),
    claim: (claim) => claims.settled(claim, (c): c is Extract<ClaimOutcome, { outcome: 'conflict' }> => c.outcome === 'conflict'),
  };
}
