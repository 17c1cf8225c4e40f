// Uploads of 14 keys at concurrency 64 against a key-submission process, against two
// references in the same run at the same concurrency and pool size: the bare insert the
// upload exists for (one statement inserting 14 keys, one round trip: what Postgres can
// do), and the server's own database work issued directly with pg (find the keypair, then
// the store transaction).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { parseEnvironment, submissionSettings } from '../dist/config.js';
import { findValidKeypair, storeDiagnosisKeys } from '../dist/submission/store.js';
import { claimedPhones, freshKeys, KEYS_PER_UPLOAD, sealedUpload } from './app.mjs';
import { measure, round, TOKEN, withServer } from './lib.mjs';

const UPLOADS_PER_PHONE = 3; // 3 × 14 = 42 of the 43-key quota

export async function benchUpload(postgresUrl, { uploads = 6000, concurrency = 64 } = {}) {
  return withServer('key-submission', { DATABASE_URL: postgresUrl }, concurrency, async (port, client) => {
    const perRun = Math.ceil(uploads / UPLOADS_PER_PHONE);
    const phones = await claimedPhones(client, port, 2 * perRun);
    const now = Date.now();
    const jobs = (list) =>
      list.flatMap((phone) => Array.from({ length: UPLOADS_PER_PHONE }, () => ({ phone, keys: freshKeys(now) }))).slice(0, uploads);
    const serverJobs = jobs(phones.slice(0, perRun)).map((job) => sealedUpload(job.phone, job.keys, now));
    const referenceJobs = jobs(phones.slice(perRun));

    const measured = await measure(serverJobs.length, concurrency, async (i) => {
      const result = await client.send(port, 'POST', '/upload', serverJobs[i]);
      return result.status === 200;
    });

    // The reference: what the server asks of Postgres for each upload, from a pool as big as its own.
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 20 });
    // The server's own defaults, as the role would load them.
    const rules = submissionSettings(parseEnvironment({ KEY_CLAIM_TOKEN: `${TOKEN}=bench` }));
    const reference = await measure(referenceJobs.length, concurrency, async (i) => {
      const { phone, keys } = referenceJobs[i];
      const keypair = await findValidKeypair(pool, rules, phone.serverPublicKey, Date.now());
      if (!keypair) return false;
      const stored = await storeDiagnosisKeys(
        pool,
        rules,
        phone.serverPublicKey,
        keys.map((k) => ({ ...k, keyData: Buffer.from(k.keyData) })),
        Date.now(),
      );
      return stored.stored;
    });
    const hour = Math.floor(Date.now() / 3_600_000);
    const bare = await measure(referenceJobs.length, concurrency, async () => {
      const keys = freshKeys(now);
      // Fresh key data: the server's keys are in already.
      await pool.query(
        `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
         SELECT k, s, 144, 1, $3, '302', 'bench' FROM unnest($1::bytea[], $2::int[]) AS t(k, s)`,
        [keys.map(() => randomBytes(16)), keys.map((k) => k.rollingStartIntervalNumber), hour],
      );
      return true;
    });
    await pool.end();
    return {
      server: { ...measured, keysPerSecond: round(measured.perSecond * KEYS_PER_UPLOAD, 0) },
      reference: { ...reference, keysPerSecond: round(reference.perSecond * KEYS_PER_UPLOAD, 0) },
      bare: { ...bare, keysPerSecond: round(bare.perSecond * KEYS_PER_UPLOAD, 0) },
      ratio: round(measured.perSecond / reference.perSecond, 2),
      ratioToBare: round(measured.perSecond / bare.perSecond, 2),
    };
  });
}
