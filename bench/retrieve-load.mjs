// Requests per second for a cached day file of 10,000 keys, from this process against a
// separate key-retrieval process on real Postgres. Every request still authenticates its
// HMAC and reads the day's hour versions before it is served from the cache.
// Run after `npm run build`: node bench/retrieve-load.mjs [requests] [concurrency] [keys]
import http from 'node:http';
import pg from 'pg';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { retrieveHmac } from '../dist/protocol/retrieve.js';
import { freePort, insertKeys, spawnRole, startPostgres, summary, waitForPing } from './lib.mjs';

const requests = Number(process.argv[2] ?? 20_000);
const concurrency = Number(process.argv[3] ?? 32);
const keyCount = Number(process.argv[4] ?? 10_000);
const secrets = generateSecrets();
const postgres = await startPostgres();
const migrate = spawnRole('migrate', { DATABASE_URL: postgres.url });
if ((await migrate.exited) !== 0) throw new Error('migrate failed');
const db = new pg.Pool({ connectionString: postgres.url });
const now = Date.now();
const day = Math.floor(now / 86_400_000) - 1;
await insertKeys(db, keyCount, day * 24 + 9, now);
await db.end();

const port = await freePort();
const server = spawnRole('key-retrieval', { DATABASE_URL: postgres.url, BIND_ADDR: `127.0.0.1:${port}`, RETRIEVE_HMAC_KEY: secrets.retrieveHmacKey, ECDSA_KEY: secrets.ecdsaKey });
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
try {
  await waitForPing(`http://127.0.0.1:${port}`);
  const mac = retrieveHmac(Buffer.from(secrets.retrieveHmacKey, 'hex'), '302', String(day), Math.floor(Date.now() / 3_600_000)).toString('hex');
  const path = `/retrieve/302/${day}/${mac}`;
  const get = () =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, agent }, (res) => {
          let bytes = 0;
          res.on('data', (c) => (bytes += c.length));
          res.on('end', () => resolve({ status: res.statusCode, bytes }));
        })
        .on('error', reject);
    });
  const first = await get(); // builds the file once
  if (first.status !== 200) throw new Error(`retrieve answered ${first.status}`);

  const latencies = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) {
        const t = performance.now();
        const r = await get();
        latencies.push(performance.now() - t);
        if (r.status !== 200 || r.bytes !== first.bytes) failed++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const s = summary(latencies);
  console.log(`day file: ${keyCount} keys, ${first.bytes} bytes; ${requests} requests at concurrency ${concurrency}, ${failed} failed`);
  console.log(`throughput: ${(requests / seconds).toFixed(0)} requests/s (${((requests * first.bytes) / seconds / 2 ** 20).toFixed(0)} MiB/s)`);
  console.log(`latency: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`);
  if (failed) process.exitCode = 1;
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  agent.destroy();
  await postgres.stop();
}
