// Claims of one-time codes against a key-submission process, each from an address of its
// own (X-Forwarded-For, as the load balancer appends it), against references in the same
// run: the bare claim (one UPDATE binding an app key to a code, one round trip), the
// server's own database work for one claim at a time directly with pg (the ban read, then
// the claim call), and the same server with group commit off (COMMIT_GROUP_MAX=1). The
// bench's client driving a bare node:http server shows it is not the ceiling.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseEnvironment, submissionSettings } from '../dist/config.js';
import { claimOneTimeCodes, readClaimFailures } from '../dist/submission/store.js';
import { claimRequest, issueCodes } from './app.mjs';
import { bareAnswerCeiling, httpClient, measure, round, TOKEN, withServer } from './lib.mjs';

/** A distinct private address for claim `i`: phones behind the load balancer. */
const address = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export async function benchClaim(postgresUrl, { claims = 4000, concurrency = 64 } = {}) {
  const claimAll = (port, client, codes, offset) => {
    const requests = codes.map((code) => claimRequest(code).body);
    return measure(requests.length, concurrency, async (i) => {
      const result = await client.send(port, 'POST', '/claim-key', requests[i], { 'x-forwarded-for': address(offset + i) });
      return result.status === 200;
    });
  };
  let ungroupedCodes;
  const { measured, referenceCodes, bareCodes } = await withServer(
    'key-submission',
    { DATABASE_URL: postgresUrl },
    concurrency,
    async (port, client) => {
      const codes = await issueCodes(client, port, 4 * claims);
      ungroupedCodes = codes.slice(3 * claims);
      return {
        measured: await claimAll(port, client, codes.slice(0, claims), 0),
        referenceCodes: codes.slice(claims, 2 * claims),
        bareCodes: codes.slice(2 * claims, 3 * claims),
      };
    },
  );
  const ungrouped = await withServer('key-submission', { DATABASE_URL: postgresUrl, COMMIT_GROUP_MAX: '1' }, concurrency, (port, client) =>
    claimAll(port, client, ungroupedCodes, claims),
  );
  // The same requests to a server that answers a claim's bytes and does nothing: what the client can drive.
  const generator = await bareAnswerCeiling(Buffer.from('1220' + '00'.repeat(32) + '1832', 'hex'), async (port) => {
    const client = httpClient(concurrency);
    try {
      return await claimAll(port, client, ungroupedCodes, 2 * claims);
    } finally {
      client.close();
    }
  });

  const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });
  // pool.end() does not wait for its connections to close; Postgres stopping after the run may end them.
  pool.on('error', () => {});
  // The server's own defaults, as the role would load them.
  const rules = submissionSettings(parseEnvironment({ KEY_CLAIM_TOKEN: `${TOKEN}=bench` }));
  const reference = await measure(claims, concurrency, async (i) => {
    const clientId = randomBytes(32).toString('hex');
    await readClaimFailures(pool, [clientId]);
    const [claimed] = await claimOneTimeCodes(pool, rules, [
      { clientId, code: referenceCodes[i], appPublicKey: randomBytes(32), codeHash: randomBytes(32), nowMs: Date.now() },
    ]);
    return claimed?.outcome === 'claimed';
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
    ungrouped,
    generator,
    reference,
    bare,
    ratio: round(measured.perSecond / reference.perSecond, 2),
    ratioToBare: round(measured.perSecond / bare.perSecond, 2),
    ratioToUngrouped: round(measured.perSecond / ungrouped.perSecond, 2),
  };
}
