// Cold start of `diagnosis-server key-submission` on a migrated database: spawn to the
// first 200 on /services/ping, against `node -e ''` spawn-to-exit in the same run.
// Run after `npm run build`: node bench/cold-start.mjs [runs]
import { spawn } from 'node:child_process';
import { freePort, spawnRole, startPostgres, summary, waitForPing } from './lib.mjs';

const runs = Number(process.argv[2] ?? 10);
const postgres = await startPostgres();
try {
  const migrate = spawnRole('migrate', { DATABASE_URL: postgres.url });
  if ((await migrate.exited) !== 0) throw new Error('migrate failed');

  const nodeOnly = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await new Promise((resolve) => spawn(process.execPath, ['-e', '']).on('exit', resolve));
    nodeOnly.push(performance.now() - start);
  }

  const coldStart = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const start = performance.now();
    const server = spawnRole('key-submission', { DATABASE_URL: postgres.url, BIND_ADDR: `127.0.0.1:${port}` });
    await waitForPing(`http://127.0.0.1:${port}`);
    coldStart.push(performance.now() - start);
    server.child.kill('SIGTERM');
    if ((await server.exited) !== 0) throw new Error('key-submission did not stop cleanly');
  }

  const fmt = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, `${v.toFixed(0)} ms`]));
  console.log(`runs: ${runs}`);
  console.log('node -e "" spawn to exit:            ', fmt(summary(nodeOnly)));
  console.log('key-submission spawn to first ping:  ', fmt(summary(coldStart)));
} finally {
  await postgres.stop();
}
