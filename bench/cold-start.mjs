// Cold start of each serving role on a migrated database, spawn to the first 200 on
// /services/ping, against `node -e ''` spawn to exit, in the same run; the two servers
// also from dist/cli.js, unbundled, to show what the bundle buys.
import { spawn } from 'node:child_process';
import { generateSecrets } from '../dist/crypto/key-generation.js';
import { CLI, freePort, round, spawnRole, summary, UNBUNDLED_CLI, waitForPing } from './lib.mjs';

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
  const unbundled = {};
  /** @type {[string, string, typeof roles][]} */
  const starts = [
    ['key-submission', CLI, roles],
    ['key-retrieval', CLI, roles],
    ['all', CLI, roles],
    ['key-submission', UNBUNDLED_CLI, unbundled],
    ['key-retrieval', UNBUNDLED_CLI, unbundled],
  ];
  for (const [role, cli, into] of starts) {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const port = await freePort();
      const start = performance.now();
      const server = spawnRole(role, { ...env, BIND_ADDR: `127.0.0.1:${port}` }, cli);
      await waitForPing(`http://127.0.0.1:${port}`);
      times.push(performance.now() - start);
      server.child.kill('SIGTERM');
      if ((await server.exited) !== 0) throw new Error(`${role} did not stop cleanly`);
    }
    const s = summary(times);
    into[role] = { p50Ms: round(s.p50, 0), maxMs: round(s.max, 0) };
  }
  const n = summary(nodeOnly);
  return { runs, reference: { p50Ms: round(n.p50, 0), maxMs: round(n.max, 0) }, roles, unbundled };
}
