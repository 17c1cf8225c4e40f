// Postgres restarted (fast shutdown, as `pg_ctl restart -m fast`) or frozen (SIGSTOP) under
// the servers, on a cluster of the test's own: every request during the outage gets its
// documented error, the process stays up, every acknowledged key is stored, and requests
// are answered again within 2 s of Postgres being back.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/clients/free-port.js';
import { startEmbeddedPostgres, throwawayDataDir, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { dateNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, Phone } from '../helpers/app-client.js';
import { retrieve } from '../helpers/phone-download.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

const log = pino({ level: 'silent' });
let dataDir: string;
let port: number;
let postgres: EmbeddedPostgres;
let system: TestSystem;

const startPostgres = () => startEmbeddedPostgres({ dataDir, port, log, settings: { fsync: 'off' } });

beforeAll(async () => {
  dataDir = await throwawayDataDir('diagnosis-restart-');
  port = await freePort();
  postgres = await startPostgres();
  system = await startSystem({ DATABASE_URL: postgres.url });
});
afterAll(async () => {
  await system?.stop();
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a Postgres restart under upload load', () => {
  it('loses no acknowledged key and serves again within 2 s of Postgres being back', async () => {
    const phones: Phone[] = [];
    for (let i = 0; i < 40; i++) phones.push(await claimedPhone(system.submissionUrl));
    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    let running = true;
    let backAt = Infinity;
    let firstSuccessAfterBack = Infinity;

    const phoneLoop = async (phone: Phone) => {
      // One key an upload, well within the 43-key quota of each phone, each of its own interval.
      const phoneKeys = makeKeys(40, system.clock.now());
      for (let n = 0; running && n < 40; n++) {
        const keys = [phoneKeys[n]!];
        const result = await phone.upload(system.submissionUrl, keys, system.clock.now()).catch(() => undefined);
        const status = result?.status ?? 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) {
          acknowledged.push(Buffer.from(keys[0]!.keyData!).toString('hex'));
          if (performance.now() > backAt) firstSuccessAfterBack = Math.min(firstSuccessAfterBack, performance.now());
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const load = Promise.all(phones.slice(0, 8).map(phoneLoop));

    await new Promise((r) => setTimeout(r, 300));
    await postgres.stop();
    await new Promise((r) => setTimeout(r, 500));
    postgres = await startPostgres();
    backAt = performance.now();
    await new Promise((r) => setTimeout(r, 2500));
    running = false;
    await load;

    // Only documented answers: 200, or the 500 SERVER_ERROR of a database failure.
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 500)).toEqual([]);
    expect(statuses.get(500) ?? 0).toBeGreaterThan(0);
    expect(firstSuccessAfterBack - backAt).toBeLessThan(2000);
    const stored = await system.db.query<{ k: string }>("SELECT encode(key_data, 'hex') AS k FROM diagnosis_keys");
    const keys = new Set(stored.rows.map((r) => r.k));
    expect(acknowledged.filter((k) => !keys.has(k))).toEqual([]);
    expect((await fetch(`${system.retrievalUrl}/services/ping`)).status).toBe(200);
  });
});

/** Sends `signal` to the cluster's postmaster and every process it runs. */
async function signalCluster(signal: NodeJS.Signals, pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

describe('a frozen Postgres', () => {
  it('answers each request with its 500 within the query timeout, and serves again once it thaws', async () => {
    const quick = await startSystem({ DATABASE_URL: postgres.url, DATABASE_QUERY_TIMEOUT_SECONDS: '1', DATABASE_CONNECT_TIMEOUT_SECONDS: '1' });
    try {
      const phone = await claimedPhone(quick.submissionUrl);
      const postmaster = Number((await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
      const backends = (await quick.db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()')).rows.map(
        (r) => r.pid,
      );
      const frozen = [postmaster, ...backends];
      await signalCluster('SIGSTOP', frozen);
      try {
        const timed = async (work: () => Promise<{ status: number }>) => {
          const started = performance.now();
          const { status } = await work();
          return { status, seconds: (performance.now() - started) / 1000 };
        };
        const answers = await Promise.all([
          timed(() => new Phone().claim(quick.submissionUrl, 'AAAAAAAAAA')),
          timed(() => phone.upload(quick.submissionUrl, makeKeys(1, quick.clock.now()), quick.clock.now())),
          timed(() => retrieve(quick.retrievalUrl, dateNumber(quick.clock.now()) - 2, quick.clock.now())),
        ]);
        for (const answer of answers) {
          expect(answer.status).toBe(500);
          expect(answer.seconds).toBeLessThan(5);
        }
      } finally {
        await signalCluster('SIGCONT', frozen);
      }
      const thawed = performance.now();
      let answered = false;
      while (!answered && performance.now() - thawed < 2000) {
        answered = (await phone.upload(quick.submissionUrl, makeKeys(1, quick.clock.now()), quick.clock.now())).status === 200;
      }
      expect(answered).toBe(true);
    } finally {
      await quick.stop();
    }
  });
});
