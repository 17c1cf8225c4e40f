// Building a day's key file: time and peak RSS of a key-retrieval process answering a
// cache miss for a day of N keys (100,000 and 750,000 by default), and the same keys
// encoded to protobuf alone in this process, as the floor to compare with.
// Run after `npm run build`: node bench/export-build.mjs [sizes...]
import pg from 'pg';
import { covidshield } from '../generated/covidshield.js';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { retrieveHmac } from '../dist/protocol/retrieve.js';
import { freePort, insertKeys, peakRssMiB, spawnRole, startPostgres, waitForPing } from './lib.mjs';

const sizes = process.argv.slice(2).map(Number);
if (sizes.length === 0) sizes.push(100_000, 750_000);
const secrets = generateSecrets();
const postgres = await startPostgres();
try {
  const migrate = spawnRole('migrate', { DATABASE_URL: postgres.url });
  if ((await migrate.exited) !== 0) throw new Error('migrate failed');
  const db = new pg.Pool({ connectionString: postgres.url });
  const now = Date.now();
  const yesterday = Math.floor(now / 86_400_000) - 1;
  console.log('keys       build    file      export.bin  peak RSS (idle → after)   protobufjs encode alone');
  for (const [i, size] of sizes.entries()) {
    // Each size gets its own day, so no file is served from an earlier build.
    const day = yesterday - i;
    await db.query('TRUNCATE diagnosis_keys');
    await insertKeys(db, size, day * 24 + 12, now);

    const port = await freePort();
    const server = spawnRole('key-retrieval', {
      DATABASE_URL: postgres.url,
      BIND_ADDR: `127.0.0.1:${port}`,
      RETRIEVE_HMAC_KEY: secrets.retrieveHmacKey,
      ECDSA_KEY: secrets.ecdsaKey,
    });
    await waitForPing(`http://127.0.0.1:${port}`);
    const idle = await peakRssMiB(server.child.pid);
    const mac = retrieveHmac(Buffer.from(secrets.retrieveHmacKey, 'hex'), '302', String(day), Math.floor(Date.now() / 3_600_000)).toString('hex');
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${port}/retrieve/302/${day}/${mac}`);
    const body = Buffer.from(await response.arrayBuffer());
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`retrieve answered ${response.status}`);
    const peak = await peakRssMiB(server.child.pid);
    server.child.kill('SIGTERM');
    await server.exited;

    // The reference: the same rows, read and encoded by protobufjs in one message.
    const rows = (await db.query({ text: 'SELECT key_data, rolling_start_interval_number, rolling_period, transmission_risk_level FROM diagnosis_keys ORDER BY key_data', rowMode: 'array' })).rows;
    const keys = rows.map((r) => ({ keyData: r[0], rollingStartIntervalNumber: r[1], rollingPeriod: r[2], transmissionRiskLevel: r[3], reportType: 1, daysSinceOnsetOfSymptoms: 0 }));
    const refStart = performance.now();
    const encoded = covidshield.TemporaryExposureKeyExport.encode({ keys }).finish();
    const refMs = performance.now() - refStart;

    console.log(
      `${String(size).padEnd(10)} ${(ms / 1000).toFixed(2).padStart(5)} s  ${(body.length / 2 ** 20).toFixed(1).padStart(5)} MiB  ${(encoded.length / 2 ** 20).toFixed(1).padStart(6)} MiB  ${idle.toFixed(0).padStart(5)} → ${peak.toFixed(0)} MiB (+${(peak - idle).toFixed(0)})        ${(refMs / 1000).toFixed(2)} s`,
    );
  }
  await db.end();
} finally {
  await postgres.stop();
}
