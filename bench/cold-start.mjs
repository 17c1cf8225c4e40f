// Cold start of each serving role on a migrated database, spawn to the first 200 on
// /services/ping, against `node -e ''` spawn to exit, in the same run; the two servers
// also from the same bundle without its code cache, and from dist/cli.js, unbundled, to
// show what each buys. The starts take turns, so that a slow spell of the machine falls
// on all of them alike.
import { spawn } from 'node:child_process';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { BUNDLE_WITHOUT_CACHE, CLI, freePort, round, spawnRole, summary, UNBUNDLED_CLI, waitForPing } from './lib.mjs';

export async function benchColdStart(postgresUrl, { runs = 10 } = {}) {
  const secrets = generateSecrets();
  const env = { DATABASE_URL: postgresUrl, RETRIEVE_HMAC_KEY: secrets.retrieveHmacKey, ECDSA_KEY: secrets.ecdsaKey };
  const nodeOnly = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await new Promise((resolve) => spawn(process.execPath, ['-e', '']).on('exit', resolve));
    nodeOnly.push(performance.now() - start);
  }
  /** @type {Record<string, { p50Ms: number; maxMs: number }>} */
  const roles = {};
  /** @type {Record<string, { p50Ms: number; maxMs: number }>} */
  const withoutCache = {};
  /** @type {Record<string, { p50Ms: number; maxMs: number }>} */
  const unbundled = {};
  /** @type {[string, string, typeof roles][]} */
  const starts = [
    ['key-submission', CLI, roles],
    ['key-retrieval', CLI, roles],
    ['all', CLI, roles],
    ['key-submission', BUNDLE_WITHOUT_CACHE, withoutCache],
    ['key-retrieval', BUNDLE_WITHOUT_CACHE, withoutCache],
    ['key-submission', UNBUNDLED_CLI, unbundled],
    ['key-retrieval', UNBUNDLED_CLI, unbundled],
  ];
  const turns = starts.map(([role, cli, into]) => ({ role, cli, into, times: /** @type {number[]} */ ([]) }));
  for (let i = 0; i < runs; i++) {
    for (const { role, cli, times } of turns) {
      const port = await freePort();
      const start = performance.now();
      const server = spawnRole(role, { ...env, BIND_ADDR: `127.0.0.1:${port}` }, cli);
      await waitForPing(`http://127.0.0.1:${port}`);
      times.push(performance.now() - start);
      server.child.kill('SIGTERM');
      if ((await server.exited) !== 0) throw new Error(`${role} did not stop cleanly`);
    }
  }
  for (const { role, into, times } of turns) {
    const t = summary(times);
    into[role] = { p50Ms: round(t.p50, 0), maxMs: round(t.max, 0) };
  }
  const n = summary(nodeOnly);
  return { runs, reference: { p50Ms: round(n.p50, 0), maxMs: round(n.max, 0) }, roles, withoutCache, unbundled };
}
