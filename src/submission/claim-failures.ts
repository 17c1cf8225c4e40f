// SQL of failed_key_claim_attempts: one counter per client, keyed by a hash of its address.
import type { Pool } from '../db/pool.js';
import type { FailureCounter } from '../protocol/claim-ban.js';

type Row = { failures: number; last_failure: Date };
const toCounter = (row: Row | undefined): FailureCounter | undefined =>
  row && { failures: row.failures, lastFailureMs: row.last_failure.getTime() };

export async function readClaimFailures(pool: Pool, clientId: string): Promise<FailureCounter | undefined> {
  const result = await pool.query<Row>('SELECT failures, last_failure FROM failed_key_claim_attempts WHERE identifier = $1', [clientId]);
  return toCounter(result.rows[0]);
}

/**
 * Counts one failure in a single statement, so concurrent failures never lose a count.
 * A counter that lapsed (last failure a ban length ago) starts again from 1.
 */
export async function recordClaimFailure(pool: Pool, clientId: string, nowMs: number, banMs: number): Promise<FailureCounter> {
  const result = await pool.query<Row>(
    `INSERT INTO failed_key_claim_attempts AS f (identifier, failures, last_failure) VALUES ($1, 1, $2)
     ON CONFLICT (identifier) DO UPDATE SET
       failures = CASE WHEN f.last_failure <= $3 THEN 1 ELSE LEAST(f.failures + 1, 32767) END,
       last_failure = $2
     RETURNING failures, last_failure`,
    [clientId, new Date(nowMs), new Date(nowMs - banMs)],
  );
  return toCounter(result.rows[0])!;
}
