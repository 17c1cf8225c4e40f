// Claims of one-time codes against a key-submission process, each from an address of its
// own (X-Forwarded-For, as the load balancer appends it), against references in the same
// run: the bare claim (one UPDATE binding an app key to a code, one round trip), the
// server's own database work for one claim at a time directly with pg (the ban read, then
// the claim call), and the same server with group commit off (COMMIT_GROUP_MAX=1). The
// bench's client driving a bare node:http server shows it is not the ceiling. All take
// turns for `rounds` rounds; the round with the median ratio to the bare claim is the one
// reported (lib.mjs takingTurns).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseEnvironment, submissionSettings } from '../dist/config.js';
import { claimOneTimeCodes, readClaimFailures } from '../dist/submission/store.js';
import { claimRequest, issueCodes } from './app.mjs';
import { measure, postAll, submissionTurns, TOKEN, withSubmissionTargets } from './lib.mjs';

/** A distinct private address for claim `i`: phones behind the load balancer. */
const address = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export async function benchClaim(postgresUrl, { claims = 10_000, concurrency = 64, rounds = 5 } = {}) {
  const claimAll = (port, codes, offset) =>
    postAll(
      port,
      '/claim-key',
      codes.map((code) => claimRequest(code).body),
      concurrency,
      (i) => ({ 'x-forwarded-for': address(offset + i) }),
    );
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });
  // pool.end() does not wait for its connections to close; Postgres stopping after the run may end them.
  pool.on('error', () => {});
  // The server's own defaults, as the role would load them.
  const rules = submissionSettings(parseEnvironment({ KEY_CLAIM_TOKEN: `${TOKEN}=bench` }));
  const referenceClaims = (codes) =>
    measure(claims, concurrency, async (i) => {
      const clientId = randomBytes(32).toString('hex');
      await readClaimFailures(pool, [clientId]);
      const [claimed] = await claimOneTimeCodes(pool, rules, [
        { clientId, code: codes[i], appPublicKey: randomBytes(32), codeHash: randomBytes(32), nowMs: Date.now() },
      ]);
      return claimed?.outcome === 'claimed';
    });
  const bareClaims = (codes) =>
    measure(claims, concurrency, async (i) => {
      const result = await pool.query(
        'UPDATE encryption_keys SET one_time_code = NULL, app_public_key = $1 WHERE one_time_code = $2 AND app_public_key IS NULL',
        [randomBytes(32), codes[i]],
      );
      return result.rowCount === 1;
    });
  // A server answering a claim's bytes and doing nothing: what the client can drive.
  const claimAnswer = Buffer.from('1220' + '00'.repeat(32) + '1832', 'hex');
  try {
    return await withSubmissionTargets(postgresUrl, concurrency, claimAnswer, async ({ port, client, ungroupedPort, ceilingPort }) => {
      // Fresh codes for every target in every round, the warm-up's too: server, without group
      // commit, its own db work, bare.
      const codes = await issueCodes(client, port, 4 * claims * (rounds + 1));
      const set = (round, target) => (round * 4 + target) * claims;
      const codesOf = (round, target) => codes.slice(set(round, target), set(round, target) + claims);
      return submissionTurns(
        {
          server: (r) => claimAll(port, codesOf(r, 0), set(r, 0)),
          ungrouped: (r) => claimAll(ungroupedPort, codesOf(r, 1), set(r, 1)),
          generator: (r) => claimAll(ceilingPort, codesOf(r, 1), set(r, 1)),
          reference: (r) => referenceClaims(codesOf(r, 2)),
          bare: (r) => bareClaims(codesOf(r, 3)),
        },
        rounds,
      );
    });
  } finally {
    await pool.end();
  }
}
