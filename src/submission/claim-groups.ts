// The database calls of /claim-key, shared by concurrent claims (db/commit-groups.ts): one
// query reads the failure counters of a group (the ban check, before any body is read),
// one call judges and redeems a group's claims and commits them together.
import { callSettled, CommitGroups } from '../db/commit-groups.js';
import type { FailureCounter } from '../protocol/claim-ban.js';
import { inCommitGroupSpan } from '../telemetry/tracing.js';
import type { SubmissionContext } from './context.js';
import { claimOneTimeCodes, readClaimFailures, type ClaimOutcome, type ClaimToRedeem } from './store.js';

export type SettledClaim = Exclude<ClaimOutcome, { outcome: 'conflict' }>;

export interface ClaimGroups {
  failures(clientId: string): Promise<FailureCounter | undefined>;
  claim(claim: ClaimToRedeem): Promise<SettledClaim>;
}

export function claimGroups(ctx: Pick<SubmissionContext, 'pool' | 'settings' | 'telemetry'>): ClaimGroups {
  const { pool, settings } = ctx;
  const { metrics, tracer } = ctx.telemetry;
  const counters = new CommitGroups(
    (clientIds: string[]) => readClaimFailures(pool, clientIds),
    settings.commitGroups,
    (size) => metrics.commitGroup('claim_ban_read', size),
  );
  const claims = new CommitGroups(
    (group: ClaimToRedeem[]) => claimOneTimeCodes(pool, settings, group),
    settings.commitGroups,
    (size) => metrics.commitGroup('claim', size),
  );
  return {
    failures: (clientId) => inCommitGroupSpan(tracer, 'claim_ban_read', (joined) => counters.call(clientId, joined)),
    claim: (claim) =>
      inCommitGroupSpan(tracer, 'claim', (joined) =>
        callSettled(claims, claim, (c): c is Extract<ClaimOutcome, { outcome: 'conflict' }> => c.outcome === 'conflict', joined),
      ),
  };
}
