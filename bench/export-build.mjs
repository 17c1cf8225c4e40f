// Building a day's key file: time and peak RSS of a key-retrieval process answering a
// cache miss for a day of N keys, against encoding the same keys to protobuf alone
// (protobufjs, in this process), in the same run.
import pg from 'pg';
import { covidshield } from '../generated/covidshield.js';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { retrieveHmac } from '../dist/protocol/retrieve.js';
import { freePort, insertKeys, peakRssMiB, round, spawnRole, waitForPing } from './lib.mjs';

export async function benchExportBuild(postgresUrl, { sizes = [100_000, 750_000] } = {}) {
  const secrets = generateSecrets();
  const db = new pg.Pool({ connectionString: postgresUrl });
  const now = Date.now();
  const rows = [];
  try {
    for (const [i, keys] of sizes.entries()) {
      // A day of its own per size, so no file comes from an earlier build.
      const day = Math.floor(now / 86_400_000) - 3 - i;
      await db.query('DELETE FROM diagnosis_keys WHERE hour_of_submission >= $1 AND hour_of_submission < $2', [day * 24, day * 24 + 24]);
      await insertKeys(db, keys, day * 24 + 12, now);
      // Released as a sealer would have (KEY_RELEASE=batched, the default), in that day's batch of 13:00.
      await db.query('UPDATE diagnosis_keys SET released_in = $1 WHERE hour_of_submission = $2', [day * 24 + 13, day * 24 + 12]);
      await db.query('VACUUM ANALYZE diagnosis_keys');

      const port = await freePort();
      const server = spawnRole('key-retrieval', {
        DATABASE_URL: postgresUrl,
        BIND_ADDR: `127.0.0.1:${port}`,
        RETRIEVE_HMAC_KEY: secrets.retrieveHmacKey,
        ECDSA_KEY: secrets.ecdsaKey,
      });
      let buildSeconds, fileBytes, idleMiB, peakMiB;
      try {
        await waitForPing(`http://127.0.0.1:${port}`);
        idleMiB = await peakRssMiB(server.child.pid);
        const mac = retrieveHmac(Buffer.from(secrets.retrieveHmacKey, 'hex'), '302', String(day), Math.floor(Date.now() / 3_600_000)).toString('hex');
        const started = performance.now();
        const response = await fetch(`http://127.0.0.1:${port}/retrieve/302/${day}/${mac}`);
        fileBytes = (await response.arrayBuffer()).byteLength;
        buildSeconds = (performance.now() - started) / 1000;
        if (response.status !== 200) throw new Error(`retrieve answered ${response.status}`);
        peakMiB = await peakRssMiB(server.child.pid);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }

      const stored = (
        await db.query({
          text: `SELECT key_data, rolling_start_interval_number, rolling_period, transmission_risk_level FROM diagnosis_keys
                 WHERE hour_of_submission >= $1 AND hour_of_submission < $2 ORDER BY key_data`,
          values: [day * 24, day * 24 + 24],
          rowMode: 'array',
        })
      ).rows.map((r) => ({
        keyData: r[0],
        rollingStartIntervalNumber: r[1],
        rollingPeriod: r[2],
        transmissionRiskLevel: r[3],
        reportType: 1,
        daysSinceOnsetOfSymptoms: 0,
      }));
      const refStart = performance.now();
      const encoded = covidshield.TemporaryExposureKeyExport.encode({ keys: stored }).finish();
      const referenceSeconds = (performance.now() - refStart) / 1000;

      rows.push({
        keys,
        buildSeconds: round(buildSeconds, 3),
        referenceSeconds: round(referenceSeconds, 3),
        timeRatio: round(buildSeconds / referenceSeconds, 2),
        fileMiB: round(fileBytes / 2 ** 20, 2),
        exportBinMiB: round(encoded.length / 2 ** 20, 2),
        idleRssMiB: round(idleMiB, 0),
        peakRssMiB: round(peakMiB, 0),
        rssLimitMiB: round((4 * encoded.length) / 2 ** 20 + 100, 0),
      });
      await db.query('DELETE FROM diagnosis_keys WHERE hour_of_submission >= $1 AND hour_of_submission < $2', [day * 24, day * 24 + 24]);
    }
  } finally {
    await db.end();
  }
  return { rows };
}
