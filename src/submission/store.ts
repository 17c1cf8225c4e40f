// SQL of key submission: encryption_keys (one-time codes and keypairs), diagnosis_keys
// inserts, and the claim failure counters. Every multi-step write is one transaction.
import type { BoxKeypair } from '../crypto/box.js';
import { recordEvent, SERVER_DEVICE_TYPE } from '../statistics/store.js';
import { inTransaction, isUniqueViolation, type Pool } from '../db/pool.js';
import type { FailureCounter } from '../protocol/claim-ban.js';
import { claimFailuresLapsedAtOrBefore, keypairsCreatedAfter, oneTimeCodesCreatedAfter } from '../protocol/retention.js';
import { hourNumber, utcDate } from '../protocol/time.js';
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';
import type { UploadRules } from '../protocol/upload.js';

export interface SubmissionRules {
  initialRemainingKeys: number;
  oneTimeCodeExpiryMinutes: number;
  encryptionKeyValidityDays: number;
}

/** The unique constraint of encryption_keys.one_time_code (Postgres' default name). */
const ONE_TIME_CODE_UNIQUE = 'encryption_keys_one_time_code_key';
/** Codes are random: a few retries absorb a collision with a live one. */
const MAX_ATTEMPTS = 5;

export type NewCodeResult = { ok: true; code: string; regenerated: boolean } | { ok: false; reason: 'already-claimed' };

/**
 * Issues a one-time code with a fresh server keypair. With a hash id, an unclaimed code
 * for that id is replaced (OTKRegenerated); a claimed one is refused.
 */
export async function issueOneTimeCode(
  pool: Pool,
  rules: SubmissionRules,
  request: { originator: string; region: string; hashId: string | undefined; nowMs: number },
  makeCode: () => string,
  makeKeypair: () => BoxKeypair,
): Promise<NewCodeResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, async (client) => {
        let regenerated = false;
        if (request.hashId !== undefined) {
          // Portals retry: requests for one hash id take turns rather than race to insert.
          await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [request.hashId]);
          const existing = await client.query<{ claimed: boolean }>(
            'SELECT app_public_key IS NOT NULL AS claimed FROM encryption_keys WHERE hash_id = $1 FOR UPDATE',
            [request.hashId],
          );
          if (existing.rows[0]?.claimed) return { ok: false, reason: 'already-claimed' } as const;
          regenerated = existing.rows[0] !== undefined;
          if (regenerated) {
            await client.query('DELETE FROM encryption_keys WHERE hash_id = $1', [request.hashId]);
            await recordEvent(client, request, 'OTKRegenerated', request.nowMs);
          }
        }
        const code = makeCode();
        const keypair = makeKeypair();
        await client.query(
          `INSERT INTO encryption_keys (server_private_key, server_public_key, one_time_code, remaining_keys, created, region, originator, hash_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            keypair.privateKey,
            keypair.publicKey,
            code,
            rules.initialRemainingKeys,
            new Date(request.nowMs),
            request.region,
            request.originator,
            request.hashId ?? null,
          ],
        );
        await recordEvent(client, request, 'OTKGenerated', request.nowMs);
        return { ok: true, code, regenerated } as const;
      });
    } catch (err) {
      // A code collision with a live code: draw another. Any other conflict is a fault.
      if (attempt < MAX_ATTEMPTS && isUniqueViolation(err, ONE_TIME_CODE_UNIQUE)) continue;
      throw err;
    }
  }
}

/**
 * Whether an app key is registered already, and if so whether this claim repeats the one
 * that registered it (same code, by its keyed hash, claimed after `replayAfter`): then the
 * server key it got, to answer the same again. Without a hash (replays off), never a repeat.
 */
export async function registeredAppKey(
  pool: Pool,
  appPublicKey: Uint8Array,
  codeHash: Buffer | undefined,
  replayAfter: Date,
): Promise<{ replayOf: Buffer | undefined } | undefined> {
  const result = await pool.query<{ server_public_key: Buffer; replay: boolean }>(
    `SELECT server_public_key, coalesce(claimed_code_hash = $2::bytea AND claimed_at > $3, false) AS replay
     FROM encryption_keys WHERE app_public_key = $1`,
    [appPublicKey, codeHash ?? null, replayAfter],
  );
  const row = result.rows[0];
  return row && { replayOf: row.replay ? row.server_public_key : undefined };
}

export type ClaimResult =
  { ok: true; serverPublicKey: Buffer; originator: string; region: string } | { ok: false; reason: 'no-such-code' | 'app-key-registered' };

/**
 * Redeems a live code in one statement, so one round trip: binds the app key, moves
 * `created` to midnight UTC of the code's day (the keypair's validity counts from there,
 * as protocol/time.ts startOfUtcDay), logs OTKClaimed and the code's life in whole hours
 * (protocol/retention.ts hoursLived) and clears the client's failures. The row lock makes
 * concurrent claims of one code serialise, and the re-checked WHERE lets exactly one of
 * them through.
 */
export async function claimOneTimeCode(
  pool: Pool,
  rules: SubmissionRules,
  claim: { code: string; appPublicKey: Uint8Array; clientId: string; nowMs: number; codeHash: Buffer | undefined },
): Promise<ClaimResult> {
  try {
    const result = await pool.query<{ server_public_key: Buffer; originator: string; region: string }>(
      `WITH found AS (
         SELECT server_public_key, created, originator, region FROM encryption_keys
         WHERE one_time_code = $1 AND app_public_key IS NULL AND created > $2
         FOR UPDATE
       ),
       claimed AS (
         UPDATE encryption_keys AS e
         SET one_time_code = NULL, app_public_key = $3, created = date_trunc('day', f.created, 'UTC'), claimed_code_hash = $4, claimed_at = $5
         FROM found AS f WHERE e.server_public_key = f.server_public_key
         RETURNING e.server_public_key, coalesce(f.originator, '') AS originator, f.region, f.created AS issued
       ),
       claimed_event AS (
         INSERT INTO events_log (source, identifier, device_type, date, count, region)
         SELECT originator, 'OTKClaimed', '${SERVER_DEVICE_TYPE}', $6::date, 1, region FROM claimed
       ),
       life AS (
         INSERT INTO otk_life_log (originator, hours, date, region)
         SELECT originator, greatest(0, floor(extract(epoch FROM $5::timestamptz - issued) / 3600))::int, $6::date, region FROM claimed
       ),
       cleared AS (DELETE FROM failed_key_claim_attempts WHERE identifier = $7 AND EXISTS (SELECT 1 FROM claimed))
       SELECT server_public_key, originator, region FROM claimed`,
      [
        claim.code,
        oneTimeCodesCreatedAfter(claim.nowMs, rules),
        claim.appPublicKey,
        claim.codeHash ?? null,
        new Date(claim.nowMs),
        utcDate(claim.nowMs),
        claim.clientId,
      ],
    );
    const row = result.rows[0];
    if (!row) return { ok: false, reason: 'no-such-code' };
    return { ok: true, serverPublicKey: row.server_public_key, originator: row.originator, region: row.region };
  } catch (err) {
    // The same app key claiming two codes at once: the unique index lets one win.
    if (isUniqueViolation(err, 'encryption_keys_app_public_key_key')) return { ok: false, reason: 'app-key-registered' };
    throw err;
  }
}

export interface Keypair {
  serverPrivateKey: Buffer;
  appPublicKey: Buffer | null;
}

/**
 * The keypairs of server keys still inside their validity window, one answer per key in
 * order (undefined: no such keypair): one query for any number of uploads.
 */
export async function findValidKeypairs(
  pool: Pool,
  rules: SubmissionRules,
  serverPublicKeys: Uint8Array[],
  nowMs: number,
): Promise<(Keypair | undefined)[]> {
  const result = await pool.query<{ server_public_key: Buffer; server_private_key: Buffer; app_public_key: Buffer | null }>(
    'SELECT server_public_key, server_private_key, app_public_key FROM encryption_keys WHERE server_public_key = ANY($1) AND created > $2',
    [serverPublicKeys, keypairsCreatedAfter(nowMs, rules)],
  );
  const found = new Map(result.rows.map((row) => [row.server_public_key.toString('hex'), row]));
  return serverPublicKeys.map((key) => {
    const row = found.get(Buffer.from(key).toString('hex'));
    return row && { serverPrivateKey: row.server_private_key, appPublicKey: row.app_public_key };
  });
}

/** What storing an upload's keys needs to know: the quota, and the per-interval limit. */
export type StoreRules = SubmissionRules & Pick<UploadRules, 'maxKeysPerStartInterval'>;

export interface UploadToStore {
  serverPublicKey: Uint8Array;
  keys: DiagnosisKey[];
  nowMs: number;
}

export type StoreKeysResult =
  | { stored: true; newKeys: number; region: string }
  | { stored: false; reason: 'keypair-gone' | 'keypair-exhausted' | 'over-quota' | 'over-interval-limit' | 'conflict' };

const OUTCOMES = new Set(['stored', 'keypair-gone', 'keypair-exhausted', 'over-quota', 'over-interval-limit', 'conflict']);

/**
 * Stores the keys of several uploads in one call of store_diagnosis_key_uploads (migration
 * 0009): one round trip and one commit, each upload all-or-nothing on its own, one result
 * per upload in order. For each, its keypair row is locked first, so concurrent uploads on
 * one keypair take turns and can never together pass the quota. Keys already known
 * (key_data is globally unique) are skipped and cost no quota. Keys go in in key_data
 * order, so two uploads sharing keys wait on each other's in one order; uploads in two
 * groups can still wait on each other crosswise, and the one that loses the deadlock comes
 * back as 'conflict', stored nothing, to be tried again. With `maxKeysPerStartInterval`, the
 * new keys are counted per interval against what the keypair stored before, and an upload
 * that would pass it stores nothing.
 */
export async function storeUploads(pool: Pool, rules: StoreRules, inArrival: UploadToStore[]): Promise<StoreKeysResult[]> {
  // Keypairs are locked in one order in every group, so two groups never wait on each
  // other's keypairs crosswise (in arrival order, a phone's uploads in two groups did).
  const order = inArrival.map((_, i) => i).sort((a, b) => Buffer.compare(inArrival[a]!.serverPublicKey, inArrival[b]!.serverPublicKey));
  const uploads = order.map((i) => inArrival[i]!);
  const keys = uploads.flatMap((u) => u.keys);
  const result = await pool.query<{ o_outcome: string; o_new_keys: number; o_region: string }>(
    'SELECT o_outcome, o_new_keys, o_region FROM store_diagnosis_key_uploads($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
    [
      uploads.map((u) => u.serverPublicKey),
      uploads.map((u) => hourNumber(u.nowMs)),
      uploads.map((u) => utcDate(u.nowMs)),
      uploads.map((u) => u.keys.length),
      keys.map((k) => k.keyData),
      keys.map((k) => k.rollingStartIntervalNumber),
      keys.map((k) => k.rollingPeriod),
      keys.map((k) => k.transmissionRiskLevel),
      rules.maxKeysPerStartInterval,
      rules.initialRemainingKeys,
    ],
  );
  if (result.rows.length !== uploads.length) throw new Error(`store_diagnosis_key_uploads: ${result.rows.length} rows for ${uploads.length} uploads`);
  const results = new Array<StoreKeysResult>(uploads.length);
  result.rows.forEach((row, i) => {
    if (!OUTCOMES.has(row.o_outcome)) throw new Error(`store_diagnosis_key_uploads: ${row.o_outcome}`);
    results[order[i]!] =
      row.o_outcome === 'stored'
        ? { stored: true, newKeys: row.o_new_keys, region: row.o_region }
        : { stored: false, reason: row.o_outcome as Exclude<StoreKeysResult, { stored: true }>['reason'] };
  });
  return results;
}

/**
 * The test tool of protocol §4.5: every published key goes (retrieval sees it at once),
 * with the padding and the record of every sealed batch, so that release starts afresh.
 */
export async function deleteAllDiagnosisKeys(pool: Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('DELETE FROM diagnosis_keys');
    await client.query('DELETE FROM padding_keys');
    await client.query('DELETE FROM key_batches');
  });
}

// failed_key_claim_attempts: one counter per client, keyed by a hash of its address.

type FailureRow = { failures: number; last_failure: Date };
const toCounter = (row: FailureRow | undefined): FailureCounter | undefined =>
  row && { failures: row.failures, lastFailureMs: row.last_failure.getTime() };

export async function readClaimFailures(pool: Pool, clientId: string): Promise<FailureCounter | undefined> {
  const result = await pool.query<FailureRow>('SELECT failures, last_failure FROM failed_key_claim_attempts WHERE identifier = $1', [clientId]);
  return toCounter(result.rows[0]);
}

/** Whether the attempt was charged, and the client's counter after it (or as it stands, when refused). */
export interface ClaimCharge {
  charged: boolean;
  counter: FailureCounter;
}

/**
 * Charges one claim attempt to the client before any code is looked at, in one statement:
 * the counter goes up only while it is under `maxFailures` (or has lapsed, a ban length
 * after its last failure, when it starts again from 1). Past the limit nothing changes and
 * the attempt is refused, so however many claims arrive at once, at most `maxFailures` are
 * ever evaluated, and the counter holds exactly the failures answered: a success clears
 * it, and an attempt that ends in neither is refunded.
 */
export async function chargeClaimAttempt(
  pool: Pool,
  clientId: string,
  nowMs: number,
  ban: { maxFailures: number; banMs: number },
): Promise<ClaimCharge> {
  const result = await pool.query<FailureRow & { charged: boolean }>(
    `WITH charged AS (
       INSERT INTO failed_key_claim_attempts AS f (identifier, failures, last_failure) VALUES ($1, 1, $2)
       ON CONFLICT (identifier) DO UPDATE SET
         failures = CASE WHEN f.last_failure <= $3 THEN 1 ELSE f.failures + 1 END,
         last_failure = $2
       WHERE f.last_failure <= $3 OR f.failures < $4
       RETURNING failures, last_failure
     )
     SELECT failures, last_failure, true AS charged FROM charged
     UNION ALL
     SELECT failures, last_failure, false AS charged FROM failed_key_claim_attempts
     WHERE identifier = $1 AND NOT EXISTS (SELECT 1 FROM charged)`,
    [clientId, new Date(nowMs), claimFailuresLapsedAtOrBefore(nowMs, { claimKeyBanDurationMs: ban.banMs }), ban.maxFailures],
  );
  const row = result.rows[0]!;
  return { charged: row.charged, counter: toCounter(row)! };
}

/** Takes back a charge for an attempt that was no failure of the client's (a server error, say). */
export async function refundClaimAttempt(pool: Pool, clientId: string): Promise<void> {
  await pool.query('UPDATE failed_key_claim_attempts SET failures = failures - 1 WHERE identifier = $1 AND failures > 0', [clientId]);
}
