// Sealing an hour's batch (KEY_RELEASE=batched): time and peak RSS of one sealing pass, in
// a process of its own, over N real keys due for release; against the database work alone
// (the same keys marked released and the same number of padding rows inserted, by pg
// directly), in the same run.
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { round } from './lib.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const HOUR_MS = 3_600_000;

async function reset(db) {
  await db.query('TRUNCATE diagnosis_keys, padding_keys, key_batches');
}

/** N keys submitted three hours ago that stopped being broadcast two days ago. */
async function insertDueKeys(db, count, nowMs) {
  const today = Math.floor(nowMs / 600_000 / 144) * 144;
  await db.query(
    `INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
     SELECT decode(md5(random()::text || i), 'hex'), $2 - (i % 10), 144, i % 8, $3, '302', 'bench'
     FROM generate_series(1, $1) AS i`,
    [count, today - 3 * 144, Math.floor(nowMs / HOUR_MS) - 3],
  );
  await db.query('VACUUM ANALYZE diagnosis_keys');
}

function sealOnce(postgresUrl) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'seal-once.mjs'), postgresUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`seal-once exited with ${code}`))));
  });
}

export async function benchSeal(postgresUrl, { sizes = [500, 50_000] } = {}) {
  const db = new pg.Pool({ connectionString: postgresUrl });
  const rows = [];
  try {
    for (const keys of sizes) {
      const now = Date.now();
      await reset(db);
      await insertDueKeys(db, keys, now);
      const sealed = await sealOnce(postgresUrl);
      if (!sealed.batch || sealed.batch.realKeys !== keys) throw new Error(`sealed ${JSON.stringify(sealed.batch)}, expected ${keys} keys`);

      // The reference: the same rows marked and the same padding inserted, nothing else.
      await reset(db);
      await insertDueKeys(db, keys, now);
      const hour = Math.floor(now / HOUR_MS) - 1;
      const client = await db.connect();
      const started = performance.now();
      try {
        await client.query('BEGIN');
        await client.query('UPDATE diagnosis_keys SET released_in = $1 WHERE released_in IS NULL', [hour]);
        await client.query(
          `INSERT INTO padding_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, region, hour_of_submission, released_in)
           SELECT decode(md5(random()::text || i), 'hex'), 1, 144, 1, '302', $2, $2 FROM generate_series(1, $1) AS i`,
          [sealed.batch.paddingKeys, hour],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const referenceSeconds = (performance.now() - started) / 1000;
      rows.push({
        keys,
        paddingKeys: sealed.batch.paddingKeys,
        sealSeconds: round(sealed.seconds, 3),
        referenceSeconds: round(referenceSeconds, 3),
        timeRatio: round(sealed.seconds / referenceSeconds, 2),
        idleRssMiB: round(sealed.idleRssMiB, 0),
        peakRssMiB: round(sealed.peakRssMiB, 0),
      });
    }
    await reset(db);
  } finally {
    await db.end();
  }
  return { rows };
}
