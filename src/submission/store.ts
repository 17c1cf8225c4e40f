// SQL of key submission: encryption_keys (one-time codes and keypairs), diagnosis_keys
// inserts, and the claim failure counters. Every multi-step write is one transaction.
import type { BoxKeypair } from '../crypto/box.js';
import { recordEvent, SERVER_DEVICE_TYPE } from '../statistics/store.js';
import { inLockOrder } from '../db/commit-groups.js';
import { inTransaction, isUniqueViolation, type Pool } from '../db/pool.js';
import type { FailureCounter } from '../protocol/claim-ban.js';
import { claimFailuresLapsedAtOrBefore, claimReplaysAfter, keypairsCreatedAfter, oneTimeCodesCreatedAfter } from '../protocol/retention.js';
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

/** What a claim is judged by: code expiry, the ban, the replay window. */
export interface ClaimRules extends SubmissionRules {
  maxConsecutiveClaimKeyFailures: number;
  claimKeyBanDurationMs: number;
  claimReplayMinutes: number;
}

export interface ClaimToRedeem {
  /** The keyed hash of the client's address. */
  clientId: string;
  /** Normalised; undefined when no code could look like it (charged all the same). */
  code: string | undefined;
  appPublicKey: Uint8Array;
  /** The code's keyed hash, to recognise a repeat; undefined with replays off. */
  codeHash: Buffer | undefined;
  nowMs: number;
}

export type ClaimOutcome =
  | { outcome: 'claimed'; serverPublicKey: Buffer; originator: string; region: string }
  /** A repeat of the claim that registered this app key: the same answer again. */
  | { outcome: 'replayed'; serverPublicKey: Buffer }
  | { outcome: 'app-key-registered' }
  /** Refused uncharged; the counter as it stands. */
  | { outcome: 'banned'; counter: FailureCounter }
  /** Charged as a failure; the counter after it. */
  | { outcome: 'no-such-code'; counter: FailureCounter }
  | { outcome: 'conflict' };

type ClaimRow = {
  o_outcome: ClaimOutcome['outcome'];
  o_server_public_key: Buffer | null;
  o_originator: string | null;
  o_region: string | null;
  o_failures: number | null;
  o_last_failure: Date | null;
};

/**
 * Claims of several clients in one call of claim_one_time_codes (migrations 0010, 0013): one
 * round trip and one commit, each claim all-or-nothing, one outcome per claim in order. For
 * each: an app key registered already (a repeat within the replay window gets its answer
 * again); then, the client's attempts taking turns on a lock until commit, its counter
 * (refused past the limit), the redemption, which clears the counter, or else a failure
 * charged before the lock is let go (so a burst of claims sent at once is evaluated at most
 * `maxFailures` times). Redeeming binds the app key, moves `created` to midnight UTC of
 * the code's day (protocol/time.ts startOfUtcDay) and logs OTKClaimed and the code's life
 * in whole hours (protocol/retention.ts hoursLived). A code's row lock makes concurrent
 * claims of it serialise; the re-checked WHERE lets exactly one through.
 */
export async function claimOneTimeCodes(pool: Pool, rules: ClaimRules, inArrival: ClaimToRedeem[]): Promise<ClaimOutcome[]> {
  // Failure counters are locked in one order in every group.
  return inLockOrder(
    inArrival,
    (a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0),
    async (claims) => {
      const result = await pool.query<ClaimRow>(
        `SELECT o_outcome, o_server_public_key, o_originator, o_region, o_failures, o_last_failure
       FROM claim_one_time_codes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          claims.map((c) => c.clientId),
          claims.map((c) => c.code ?? null),
          claims.map((c) => c.appPublicKey),
          claims.map((c) => c.codeHash ?? null),
          claims.map((c) => new Date(c.nowMs)),
          claims.map((c) => utcDate(c.nowMs)),
          claims.map((c) => oneTimeCodesCreatedAfter(c.nowMs, rules)),
          claims.map((c) => claimReplaysAfter(c.nowMs, rules)),
          claims.map((c) => claimFailuresLapsedAtOrBefore(c.nowMs, rules)),
          rules.maxConsecutiveClaimKeyFailures,
          SERVER_DEVICE_TYPE,
        ],
      );
      return result.rows.map(claimOutcome);
    },
  );
}

function claimOutcome(row: ClaimRow): ClaimOutcome {
  const counter = () => toCounter({ failures: row.o_failures!, last_failure: row.o_last_failure! })!;
  switch (row.o_outcome) {
    case 'claimed':
      return { outcome: 'claimed', serverPublicKey: row.o_server_public_key!, originator: row.o_originator!, region: row.o_region! };
    case 'replayed':
      return { outcome: 'replayed', serverPublicKey: row.o_server_public_key! };
    case 'banned':
    case 'no-such-code':
      return { outcome: row.o_outcome, counter: counter() };
    case 'app-key-registered':
    case 'conflict':
      return { outcome: row.o_outcome };
    default:
      throw new Error(`claim_one_time_codes: ${String(row.o_outcome)}`);
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
  | { stored: false; reason: 'keypair-gone' | 'keypair-exhausted' | 'over-quota' | 'over-interval-limit' }
  /** Lost a deadlock to another group: nothing of it stored, to be tried again. */
  | { stored: false; reason: 'conflict' };

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
  // Keypairs are locked in one order in every group (in arrival order, a phone's uploads
  // split over two groups waited on each other's keypairs crosswise).
  return inLockOrder(
    inArrival,
    (a, b) => Buffer.compare(a.serverPublicKey, b.serverPublicKey),
    async (uploads) => {
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
      return result.rows.map((row): StoreKeysResult => {
        if (!OUTCOMES.has(row.o_outcome)) throw new Error(`store_diagnosis_key_uploads: ${row.o_outcome}`);
        if (row.o_outcome === 'stored') return { stored: true, newKeys: row.o_new_keys, region: row.o_region };
        return { stored: false, reason: row.o_outcome } as Exclude<StoreKeysResult, { stored: true }>;
      });
    },
  );
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

/** The failure counters of several clients, one answer per client in order: one query. */
export async function readClaimFailures(pool: Pool, clientIds: string[]): Promise<(FailureCounter | undefined)[]> {
  const result = await pool.query<FailureRow & { identifier: string }>(
    'SELECT identifier, failures, last_failure FROM failed_key_claim_attempts WHERE identifier = ANY($1)',
    [clientIds],
  );
  const found = new Map(result.rows.map((row) => [row.identifier, row]));
  return clientIds.map((id) => toCounter(found.get(id)));
}
