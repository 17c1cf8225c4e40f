// Requests per second for a cached day file, against a key-retrieval process (each request
// still checks its HMAC and reads the day's versions), a bare node:http server process
// returning the same bytes and nginx serving them as a static file, in the same run. The
// load generator is wrk when there is one (nginx outrunning the servers shows it is not
// the ceiling); else this process's own keep-alive client, which is, and says so.
// The three take turns for `rounds` rounds; the round of the median ratio is reported (lib.mjs).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { retrieveHmac } from '../dist/protocol/retrieve.js';
import { freePort, insertKeys, measure, round, takingTurns, withServer } from './lib.mjs';
import { findWrk, runWrk, startNginx } from './wrk.mjs';

const BARE_SERVER = `
const http = require('node:http');
const body = require('node:fs').readFileSync(process.argv[1]);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/zip', 'cache-control': 'public, max-age=3600, max-stale=600', etag: '"x"' });
  res.end(body);
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));`;

export async function benchRetrieveCached(
  postgresUrl,
  { keys = 10_000, requests = 20_000, concurrency = 32, useWrk = true, seconds = 5, rounds = 5 } = {},
) {
  const secrets = generateSecrets();
  const db = new pg.Pool({ connectionString: postgresUrl });
  const now = Date.now();
  const day = Math.floor(now / 86_400_000) - 2;
  await db.query('DELETE FROM diagnosis_keys WHERE hour_of_submission >= $1 AND hour_of_submission < $2', [day * 24, day * 24 + 24]);
  await insertKeys(db, keys, day * 24 + 9, now);
  // Released as a sealer would have (KEY_RELEASE=batched, the default).
  await db.query('UPDATE diagnosis_keys SET released_in = $1 WHERE hour_of_submission = $2', [day * 24 + 10, day * 24 + 9]);
  await db.end();

  const env = { DATABASE_URL: postgresUrl, RETRIEVE_HMAC_KEY: secrets.retrieveHmacKey, ECDSA_KEY: secrets.ecdsaKey };
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let bare;
  /** @type {string | undefined} */
  let dir;
  /** @type {{ url: string; stop: () => Promise<void> } | undefined} */
  let nginx;
  try {
    return await withServer('key-retrieval', env, concurrency, async (port, client) => {
      const mac = retrieveHmac(Buffer.from(secrets.retrieveHmacKey, 'hex'), '302', String(day), Math.floor(Date.now() / 3_600_000)).toString('hex');
      const path_ = `/retrieve/302/${day}/${mac}`;
      const first = await client.send(port, 'GET', path_);
      if (first.status !== 200) throw new Error(`retrieve answered ${first.status}`);
      const size = first.body.length;
      const wrk = useWrk ? findWrk() : undefined;
      const load = (url, check) => (wrk ? Promise.resolve(runWrk(wrk, url, concurrency, seconds)) : measure(requests, concurrency, check));
      const serverUrl = `http://127.0.0.1:${port}${path_}`;
      const checkServer = async () => {
        const r = await client.send(port, 'GET', path_);
        return r.status === 200 && r.body.length === size;
      };

      dir = await mkdtemp(path.join(tmpdir(), 'bare-'));
      await writeFile(path.join(dir, 'day.zip'), first.body);
      const barePort = await freePort();
      const bareServer = spawn(process.execPath, ['-e', BARE_SERVER, path.join(dir, 'day.zip'), String(barePort)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      bare = bareServer;
      await new Promise((resolve) => bareServer.stdout.once('data', resolve));
      const checkBare = async () => {
        const r = await client.send(barePort, 'GET', '/');
        return r.status === 200 && r.body.length === size;
      };
      const started = wrk ? await startNginx(first.body) : undefined;
      nginx = started;

      const bareUrl = `http://127.0.0.1:${barePort}/`;
      const turns = await takingTurns(
        {
          server: () => load(serverUrl, checkServer),
          reference: () => load(bareUrl, checkBare),
          ...(started && wrk ? { nginx: () => Promise.resolve(runWrk(wrk, started.url, concurrency, seconds)) } : {}),
        },
        rounds,
        (r) => r.server.perSecond / r.reference.perSecond,
      );
      const { server: measured, reference, nginx: static_ } = turns.median;
      return {
        keys,
        bytes: size,
        generator: wrk ? 'wrk' : 'node',
        concurrency,
        server: measured,
        reference,
        ...(static_ ? { nginx: static_, ratioToNginx: round(measured.perSecond / static_.perSecond, 2) } : {}),
        ratio: round(measured.perSecond / reference.perSecond, 2),
        rounds: turns.rounds,
        ratios: turns.ratios,
        warmUp: turns.warmUp,
      };
    });
  } finally {
    await nginx?.stop();
    bare?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
