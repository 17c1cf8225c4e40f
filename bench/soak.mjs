// Soak: fuzzing and database faults against real server processes for longer than the
// test suite affords, on a Postgres cluster of its own (loopback only, every loop bounded).
// Not part of npm test. Prints what it sent and what broke:
//   node bench/soak.mjs [--fuzz-seconds 20] [--fault-rounds 3]
// Phase 1 sends random requests (methods, paths, content types, bodies) and counts 5xx:
// with the database healthy, any 5xx is a bug. Phase 2 keeps phones uploading while the
// database fails (backends terminated, a fast restart, a freeze) and measures how long
// each takes to serve again; then every acknowledged key must be stored.
import { randomBytes, randomInt } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { freePort } from '../dist/clients/free-port.js';
import { startEmbeddedPostgres, throwawayDataDir } from '../dist/db/embedded.js';
import { recentKeys } from '../dist/clients/app.js';
import { claimedPhones, sealedUpload } from './app.mjs';
import { httpClient, spawnRole, waitForPing } from './lib.mjs';

const { values } = parseArgs({ options: { 'fuzz-seconds': { type: 'string', default: '20' }, 'fault-rounds': { type: 'string', default: '3' } } });
const FUZZ_SECONDS = Number(values['fuzz-seconds']);
const FAULT_ROUNDS = Number(values['fault-rounds']);
const log = pino({ level: 'silent' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dataDir = await throwawayDataDir('diagnosis-soak-');
const pgPort = await freePort();
const startPostgres = () => startEmbeddedPostgres({ dataDir, port: pgPort, log, settings: { fsync: 'off', max_connections: '200' } });
let postgres = await startPostgres();
const databaseUrl = postgres.url.replace(/\/diagnosis$/, '/soak');
const ports = { submission: await freePort(), retrieval: await freePort() };
const env = {
  DATABASE_URL: databaseUrl,
  RETRIEVE_HMAC_KEY: randomBytes(40).toString('hex'),
  ECDSA_KEY: (await import('../dist/crypto/key-generation.js')).generateSecrets().ecdsaKey,
  DATABASE_QUERY_TIMEOUT_SECONDS: '2',
  DATABASE_CONNECT_TIMEOUT_SECONDS: '1',
  // The faults are deliberate: their warnings and the requests they fail are expected.
  LOG_LEVEL: 'fatal',
};
const submission = spawnRole('key-submission', { ...env, BIND_ADDR: `127.0.0.1:${ports.submission}` });
const retrieval = spawnRole('key-retrieval', { ...env, BIND_ADDR: `127.0.0.1:${ports.retrieval}` });
const crashes = [];
submission.exited.then((code) => crashes.push(`key-submission exited with ${code}`));
retrieval.exited.then((code) => crashes.push(`key-retrieval exited with ${code}`));
const client = httpClient(64);
/** @type {{ round: number; fault: string; recovery: string }[]} */
const faults = [];
const figures = { fuzz: { sent: 0, byStatus: {}, errors5xx: 0, notReady: 0 }, faults, acknowledgedKeys: 0, lostKeys: 0 };

try {
  await waitForPing(`http://127.0.0.1:${ports.submission}`);
  await waitForPing(`http://127.0.0.1:${ports.retrieval}`);

  // Phase 1: fuzzing, database healthy.
  const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'PURGE', 'QUERY', 'SEARCH'];
  const PATHS = [
    '/claim-key',
    '/upload',
    '/new-key-claim',
    `/new-key-claim/${'a'.repeat(128)}`,
    '/services/ping',
    '/services/ready',
    '/retrieve/302/00000/',
    '/events/2026-01-01',
    '/exposure-configuration/CA.json',
    '/%zz',
    `/x/${'y'.repeat(400)}`,
  ];
  const TYPES = ['application/x-protobuf', 'foo', ';', '', 'application/x-www-form-urlencoded', 'x'.repeat(3000)];
  const fuzzEnd = performance.now() + FUZZ_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < fuzzEnd) {
        const port = randomInt(2) ? ports.submission : ports.retrieval;
        const method = METHODS[randomInt(METHODS.length)];
        const target = PATHS[randomInt(PATHS.length)] + (randomInt(4) === 0 ? randomBytes(8).toString('hex') : '');
        const body = method === 'GET' || method === 'HEAD' ? undefined : randomBytes(randomInt(0, 1500));
        const type = TYPES[randomInt(TYPES.length)];
        const result = await client.send(port, method, target, body, type ? { 'content-type': type } : {}).catch(() => ({ status: 0 }));
        figures.fuzz.sent++;
        figures.fuzz.byStatus[result.status] = (figures.fuzz.byStatus[result.status] ?? 0) + 1;
        // /services/ready may say 503 under load (it waits for a connection like any query);
        // that is its answer, not a failure.
        if (result.status === 503 && target.startsWith('/services/ready')) figures.fuzz.notReady++;
        else if (result.status >= 500) figures.fuzz.errors5xx++;
      }
    }),
  );

  // Phase 2: faults under upload load.
  // Enough phones, each uploading one key every 1.2 s up to its quota, to keep uploads
  // going through every fault: about 100 a second for the whole phase.
  const phones = await claimedPhones(client, ports.submission, 120);
  const acknowledged = [];
  let lastSuccess = 0;
  let running = true;
  const load = Promise.all(
    phones.map(async (phone) => {
      // Each key of its own start interval: MAX_KEYS_PER_START_INTERVAL allows 3 per interval.
      const own = recentKeys(40, Date.now());
      for (let n = 0; running && n < 40;) {
        const keys = [own[n]];
        const result = await client.send(ports.submission, 'POST', '/upload', sealedUpload(phone, keys, Date.now())).catch(() => ({ status: 0 }));
        if (result.status === 200) {
          acknowledged.push(Buffer.from(keys[0]?.keyData ?? []).toString('hex'));
          lastSuccess = performance.now();
          n++;
        }
        await sleep(1200);
      }
    }),
  );
  const terminateBackends = async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'diagnosis-server'");
    await admin.end();
  };
  const postmasterPids = async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const pids = (await admin.query('SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()')).rows.map((r) => r.pid);
    await admin.end();
    const postmaster = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '');
    return [postmaster, ...pids];
  };
  const FAULTS = {
    'terminate backends': terminateBackends,
    'restart (fast)': async () => {
      await postgres.stop();
      await sleep(500);
      postgres = await startPostgres();
    },
    'freeze 3 s': async () => {
      const pids = await postmasterPids();
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      await sleep(3000);
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    },
  };
  for (let round = 0; round < FAULT_ROUNDS; round++) {
    for (const [name, fault] of Object.entries(FAULTS)) {
      await sleep(500);
      await fault();
      const over = performance.now();
      while (lastSuccess < over && performance.now() - over < 20_000) await sleep(10);
      figures.faults.push({ round, fault: name, recovery: lastSuccess >= over ? `${Math.round(lastSuccess - over)} ms` : 'NOT within 20 s' });
    }
  }
  running = false;
  await load;

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const stored = new Set((await db.query("SELECT encode(key_data, 'hex') AS k FROM diagnosis_keys")).rows.map((r) => r.k));
  await db.end();
  figures.acknowledgedKeys = acknowledged.length;
  figures.lostKeys = acknowledged.filter((k) => !stored.has(k)).length;
} finally {
  client.close();
  submission.child.kill('SIGTERM');
  retrieval.child.kill('SIGTERM');
  await Promise.all([submission.exited, retrieval.exited]);
  await postgres.stop();
  await rm(dataDir, { recursive: true, force: true });
}

// Exit 0 is the orderly stop at the end; anything else is a crash.
const crashed = crashes.filter((c) => !c.endsWith('exited with 0'));
console.log(
  `fuzz:    ${figures.fuzz.sent} requests in ${FUZZ_SECONDS} s, 5xx: ${figures.fuzz.errors5xx} (and ${figures.fuzz.notReady} not-ready answers of /services/ready), by status: ${JSON.stringify(figures.fuzz.byStatus)}`,
);
for (const f of figures.faults) console.log(`fault:   round ${f.round + 1} ${f.fault.padEnd(18)} first upload served after the fault: ${f.recovery}`);
console.log(`keys:    ${figures.acknowledgedKeys} acknowledged, ${figures.lostKeys} lost`);
console.log(`crashes: ${crashed.length ? crashed.join('; ') : 'none'}`);
const recovered = figures.faults.every((f) => !f.recovery.startsWith('NOT'));
process.exitCode = figures.fuzz.errors5xx === 0 && figures.lostKeys === 0 && crashed.length === 0 && recovered ? 0 : 1;
