// Uploads of 14 keys at concurrency 64 (or 32, or 1) against a key-submission process,
// against references in the same run at the same concurrency and pool size: the bare
// insert the upload exists for (one statement inserting 14 keys, one round trip, one commit
// each: what Postgres does per request), the server's own database work issued directly
// with pg for one upload at a time (find the keypair, then the store call), and the same
// server with group commit off (COMMIT_GROUP_MAX=1): what sharing commits buys, and at
// concurrency 1 what it costs a lone upload. The bench's client driving a bare node:http
// server with the same bodies shows it is not the ceiling. All take turns for `rounds`
// rounds; the round with the median ratio to the bare insert is the one reported (lib.mjs
// takingTurns).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseEnvironment, submissionSettings } from '../dist/config.js';
import { findValidKeypairs, storeUploads } from '../dist/submission/store.js';
import { claimedPhones, freshKeys, KEYS_PER_UPLOAD, sealedUpload } from './app.mjs';
import { measure, postAll, round, submissionTurns, summary, TOKEN, withSubmissionTargets } from './lib.mjs';

const UPLOADS_PER_PHONE = 3; // 3 × 14 = 42 of the 43-key quota

export async function benchUpload(postgresUrl, { uploads = 6000, concurrency = 64, rounds = 5 } = {}) {
  const perRun = Math.ceil(uploads / UPLOADS_PER_PHONE);
  const now = Date.now();
  const jobs = (list) =>
    list.flatMap((phone) => Array.from({ length: UPLOADS_PER_PHONE }, () => ({ phone, keys: freshKeys(now) }))).slice(0, uploads);
  const uploadAll = (port, list) =>
    postAll(
      port,
      '/upload',
      jobs(list).map((job) => sealedUpload(job.phone, job.keys, now)),
      concurrency,
    );

  // The references: what the server asks of Postgres for each upload, from a pool as big as its own.
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });
  // pool.end() does not wait for its connections to close; Postgres stopping after the run may end them.
  pool.on('error', () => {});
  // The server's own defaults, as the role would load them.
  const rules = submissionSettings(parseEnvironment({ KEY_CLAIM_TOKEN: `${TOKEN}=bench` }));
  const ownDbWork = (list) => {
    const referenceJobs = jobs(list);
    return measure(referenceJobs.length, concurrency, async (i) => {
      const { phone, keys } = referenceJobs[i];
      const [keypair] = await findValidKeypairs(pool, rules, [phone.serverPublicKey], Date.now());
      if (!keypair) return false;
      const [stored] = await storeUploads(pool, rules, [
        { serverPublicKey: phone.serverPublicKey, keys: keys.map((k) => ({ ...k, keyData: Buffer.from(k.keyData) })), nowMs: Date.now() },
      ]);
      return stored?.stored === true;
    });
  };
  const hour = Math.floor(Date.now() / 3_600_000);
  const bareInserts = () =>
    measure(Math.min(uploads, perRun * UPLOADS_PER_PHONE), concurrency, async () => {
      const keys = freshKeys(now);
      // Fresh key data: the server's keys are in already.
      await pool.query(
        `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
         SELECT k, s, 144, 1, $3, '302', 'bench' FROM unnest($1::bytea[], $2::int[]) AS t(k, s)`,
        [keys.map(() => randomBytes(16)), keys.map((k) => k.rollingStartIntervalNumber), hour],
      );
      return true;
    });
  const withKeys = (x) => ({ ...x, keysPerSecond: round(x.perSecond * KEYS_PER_UPLOAD, 0) });
  try {
    // A server that answers 08 00 and does nothing: what the client can drive.
    return await withSubmissionTargets(postgresUrl, concurrency, Buffer.from([8, 0]), async ({ port, client, ungroupedPort, ceilingPort }) => {
      // Fresh phones for every target in every round, the warm-up's too: server, without group
      // commit, its own db work.
      const phones = await claimedPhones(client, port, 3 * perRun * (rounds + 1));
      const phonesOf = (round, target) => phones.slice((round * 3 + target) * perRun, (round * 3 + target + 1) * perRun);
      const measured = await submissionTurns(
        {
          server: (r) => uploadAll(port, phonesOf(r, 0)),
          ungrouped: (r) => uploadAll(ungroupedPort, phonesOf(r, 1)),
          generator: (r) => uploadAll(ceilingPort, phonesOf(r, 1)),
          reference: (r) => ownDbWork(phonesOf(r, 2)),
          bare: () => bareInserts(),
        },
        rounds,
      );
      const { server: serverP50s = [], ungrouped: ungroupedP50s = [] } = measured.p50s;
      const p50Ratios = serverP50s.map((p50, i) => round(p50 / /** @type {number} */ (ungroupedP50s[i]), 2));
      return {
        concurrency,
        ...measured,
        server: withKeys(measured.server),
        ungrouped: withKeys(measured.ungrouped),
        reference: withKeys(measured.reference),
        bare: withKeys(measured.bare),
        // A latency pair, judged over every round: the round reported is picked by its rate
        // against the bare insert, which says nothing of the two p50s in it.
        p50ToUngrouped: summary(p50Ratios).p50,
        p50Ratios,
      };
    });
  } finally {
    await pool.end();
  }
}
