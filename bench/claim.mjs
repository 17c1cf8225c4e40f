// Claims of one-time codes against a key-submission process, against two references in
// the same run: the bare claim (one UPDATE binding an app key to a code, one round trip)
// and the server's own database work (ban check, app key check, the charge of the
// attempt, the claim) directly with pg.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseEnvironment, submissionSettings } from '../dist/config.js';
import { chargeClaimAttempt, claimOneTimeCode, readClaimFailures, registeredAppKey } from '../dist/submission/store.js';
import { claimRequest, issueCodes } from './app.mjs';
import { measure, round, TOKEN, withServer } from './lib.mjs';

export async function benchClaim(postgresUrl, { claims = 4000, concurrency = 64 } = {}) {
  return withServer('key-submission', { DATABASE_URL: postgresUrl }, concurrency, async (port, client) => {
    const codes = await issueCodes(client, port, 3 * claims);
    const requests = codes.slice(0, claims).map((code) => claimRequest(code).body);
    const referenceCodes = codes.slice(claims, 2 * claims);
    const bareCodes = codes.slice(2 * claims);

    const measured = await measure(claims, concurrency, async (i) => (await client.send(port, 'POST', '/claim-key', requests[i])).status === 200);

    const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });
    // pool.end() does not wait for its connections to close; Postgres stopping after the run may end them.
    pool.on('error', () => {});
    // The server's own defaults, as the role would load them.
    const rules = submissionSettings(parseEnvironment({ KEY_CLAIM_TOKEN: `${TOKEN}=bench` }));
    const reference = await measure(claims, concurrency, async (i) => {
      const clientId = randomBytes(32).toString('hex');
      const appPublicKey = randomBytes(32);
      const nowMs = Date.now();
      const codeHash = randomBytes(32);
      await readClaimFailures(pool, clientId);
      if (await registeredAppKey(pool, appPublicKey, codeHash, new Date(nowMs - 15 * 60_000))) return false;
      const ban = { maxFailures: rules.maxConsecutiveClaimKeyFailures, banMs: rules.claimKeyBanDurationMs };
      if (!(await chargeClaimAttempt(pool, clientId, nowMs, ban)).charged) return false;
      const claimed = await claimOneTimeCode(pool, rules, { code: referenceCodes[i], appPublicKey, clientId, nowMs, codeHash });
      return claimed.ok;
    });
    const bare = await measure(claims, concurrency, async (i) => {
      const result = await pool.query(
        'UPDATE encryption_keys SET one_time_code = NULL, app_public_key = $1 WHERE one_time_code = $2 AND app_public_key IS NULL',
        [randomBytes(32), bareCodes[i]],
      );
      return result.rowCount === 1;
    });
    await pool.end();
    return {
      server: measured,
      reference,
      bare,
      ratio: round(measured.perSecond / reference.perSecond, 2),
      ratioToBare: round(measured.perSecond / bare.perSecond, 2),
    };
  });
}
