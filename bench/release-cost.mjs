// What batched release costs phones: one day of uploads at N real keys a day, spread over
// its hours, through the app's path (code, claim, sealed upload) to real servers whose
// clock moves hour by hour, the writer running each hour as it would every 30 s; then the
// size of the files that hold that day's keys (the day's own, and the next day's for the
// last hour's uploads), which every phone downloads once. The same day under
// KEY_RELEASE=immediate, in the same run, is the reference.
//   npm run bench:release-cost [-- --keys 10,1000,15000]
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { recentKeys, Phone } from '../dist/clients/app.js';
import { inParallel } from '../dist/clients/in-parallel.js';
import { readKeyFile, retrievePath } from '../dist/clients/phone-download.js';
import { issueCode } from '../dist/clients/portal.js';
import { loadConfig } from '../dist/config.js';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { startRole } from '../dist/start.js';
import { startPostgres, TOKEN } from './lib.mjs';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Keys per upload: ten past days, all no longer broadcast, so none waits past the next hour. */
const KEYS_PER_UPLOAD = 10;

const { values } = parseArgs({ options: { keys: { type: 'string', default: '10,1000,15000' } } });
const volumes = values.keys.split(',').map(Number);
const secrets = generateSecrets();

async function dayFile(postgresUrl, release, keysPerDay) {
  const clock = { ms: 0, now: () => clock.ms };
  const config = loadConfig(
    {
      DATABASE_URL: postgresUrl,
      KEY_CLAIM_TOKEN: `${TOKEN}=bench`,
      RETRIEVE_HMAC_KEY: secrets.retrieveHmacKey,
      ECDSA_KEY: secrets.ecdsaKey,
      BIND_ADDR: '127.0.0.1:0',
      PURGE_INTERVAL_SECONDS: '3600',
      KEY_RELEASE: release,
    },
    'all',
  );
  const day = Math.floor(Date.now() / DAY_MS) - 1;
  clock.ms = day * DAY_MS;
  const running = await startRole('all', config, pino({ level: 'silent' }), clock);
  try {
    const { 'key-submission': submission, 'key-retrieval': retrieval } = running.urls;
    const runChores = running.runChores;
    if (!submission || !retrieval || !runChores) throw new Error('the all role runs both servers and the writer');
    const uploads = Math.ceil(keysPerDay / KEYS_PER_UPLOAD);
    for (let hour = 0; hour < 24; hour++) {
      clock.ms = day * DAY_MS + hour * HOUR_MS + 10 * 60_000;
      const thisHour = Math.floor(((hour + 1) * uploads) / 24) - Math.floor((hour * uploads) / 24);
      await inParallel(Array.from({ length: thisHour }), 16, async () => {
        const phone = new Phone();
        await phone.claim(submission, await issueCode(submission, TOKEN));
        const keys = recentKeys(KEYS_PER_UPLOAD, clock.ms - 2 * DAY_MS);
        const result = await phone.upload(submission, keys, clock.ms);
        if (result.status !== 200) throw new Error(`upload answered ${result.status}`);
      });
      clock.ms = day * DAY_MS + (hour + 1) * HOUR_MS + 5 * 60_000;
      await runChores();
    }
    // 01:05 the next day: the last hour's uploads are out too, in the next day's file.
    clock.ms = (day + 1) * DAY_MS + HOUR_MS + 5 * 60_000;
    await runChores();
    const total = { bytes: 0, keys: 0 };
    for (const d of [day, day + 1]) {
      const path = retrievePath(Buffer.from(secrets.retrieveHmacKey, 'hex'), '302', d, clock.ms);
      const response = await fetch(retrieval + path);
      const bytes = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) throw new Error(`retrieve answered ${response.status}`);
      total.bytes += bytes.length;
      total.keys += (await readKeyFile(bytes)).exported.keys.length;
    }
    return total;
  } finally {
    await running.stop();
  }
}

const postgres = await startPostgres();
try {
  console.log('| real keys a day | immediate (the original): keys served, download | batched: keys served, download | ratio |');
  console.log('|---|---|---|---|');
  for (const [i, n] of volumes.entries()) {
    const immediate = await dayFile(postgres.url.replace(/\/([^/]+)$/, `/$1_immediate_${i}`), 'immediate', n);
    const batched = await dayFile(postgres.url.replace(/\/([^/]+)$/, `/$1_batched_${i}`), 'batched', n);
    const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;
    console.log(
      `| ${n.toLocaleString('en')} | ${immediate.keys.toLocaleString('en')}, ${kib(immediate.bytes)} | ${batched.keys.toLocaleString('en')}, ${kib(batched.bytes)} | ${(batched.bytes / immediate.bytes).toFixed(1)}× |`,
    );
  }
} finally {
  await postgres.stop();
}
