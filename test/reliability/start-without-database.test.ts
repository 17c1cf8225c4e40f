// Both servers start while Postgres is down (after a restart, a failover, before the
// database exists): they answer /services/ping, say they are not ready, give each request
// that needs the database its 500, and become ready by themselves once Postgres is up.
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/clients/free-port.js';
import { startEmbeddedPostgres, throwawayDataDir, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { withDatabase } from '../../src/db/pool.js';
import { ClaimError } from '../../src/protocol/messages.js';
import { dateNumber } from '../../src/protocol/time.js';
import { issueCode, makeKeys, newKeyClaim, Phone, request, sendUpload } from '../helpers/app-client.js';
import { retrieve } from '../helpers/phone-download.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

const log = pino({ level: 'silent' });
let dataDir: string;
let postgres: EmbeddedPostgres | undefined;
let system: TestSystem | undefined;
afterAll(async () => {
  await system?.stop();
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('starting without a database', () => {
  it('serves what needs no database, 500s the rest, and becomes ready once Postgres is up', async () => {
    dataDir = await throwawayDataDir('diagnosis-down-');
    const port = await freePort();
    const start = () => startEmbeddedPostgres({ dataDir, port, log, settings: { fsync: 'off' } });
    // Started once to have a cluster (and its URL), then stopped: Postgres is down.
    const first = await start();
    const url = withDatabase(first.url, 'never_created_yet');
    await first.stop();

    system = await startSystem({ DATABASE_URL: url, DATABASE_CONNECT_TIMEOUT_SECONDS: '1' });
    for (const base of [system.submissionUrl, system.retrievalUrl]) {
      expect((await request(`${base}/services/ping`)).status).toBe(200);
      const ready = await request(`${base}/services/ready`);
      expect(ready.status).toBe(503);
      expect(ready.text).toBe('database unavailable\n');
    }
    const claim = await new Phone().claim(system.submissionUrl, 'AAAAAAAAAA');
    expect(claim.status).toBe(500);
    expect(claim.response.error).toBe(ClaimError.SERVER_ERROR);
    expect((await newKeyClaim(system.submissionUrl)).status).toBe(500);
    expect((await sendUpload(system.submissionUrl, new Uint8Array(10))).status).toBe(400);
    const file = await retrieve(system.retrievalUrl, dateNumber(Date.now()) - 1, system.clock.now());
    expect(file.status).toBe(500);

    postgres = await start();
    const back = performance.now();
    const readyAgain = async (base: string) => {
      while ((await request(`${base}/services/ready`)).status !== 200) {
        if (performance.now() - back > 15_000) throw new Error(`${base} not ready 15 s after Postgres came back`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await readyAgain(system.submissionUrl);
    await readyAgain(system.retrievalUrl);
    // The database was created and migrated on the way: the whole path works.
    const phone = new Phone();
    expect((await phone.claim(system.submissionUrl, await issueCode(system.submissionUrl))).status).toBe(200);
    expect((await phone.upload(system.submissionUrl, makeKeys(2, system.clock.now()), system.clock.now())).status).toBe(200);
    expect((await retrieve(system.retrievalUrl, dateNumber(Date.now()) - 1, system.clock.now())).status).toBe(200);
  });
});
