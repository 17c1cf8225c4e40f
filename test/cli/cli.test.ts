// The built command, as operators and `npm start` run it: a real process, real signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshDatabaseUrl, testPool } from '../helpers/database.js';
import { freePort } from '../helpers/global-postgres.js';
import { PORTAL_TOKEN } from '../helpers/servers.js';

const CLI = path.resolve('dist/cli.js');

interface Process {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>): Process {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pingOk = (url: string) => async () => ((await fetch(`${url}/services/ping`)).status === 200 ? true : undefined);

describe('diagnosis-server', () => {
  it('prints usage for an unknown role and exits 2', async () => {
    const p = run(['launch'], {});
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain('unknown role "launch"');
    expect(p.stderr()).toContain('usage: diagnosis-server <role>');
  });

  it('stops at start-up naming a missing or malformed variable', async () => {
    const missing = run(['key-submission'], { DATABASE_URL: freshDatabaseUrl() });
    expect(await missing.exited).toBe(1);
    expect(missing.stderr().trim()).toMatch(/^diagnosis-server: configuration: KEY_CLAIM_TOKEN: /);

    const malformed = run(['key-submission'], { DATABASE_URL: freshDatabaseUrl(), KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=a`, PORT: '80a' });
    expect(await malformed.exited).toBe(1);
    expect(malformed.stderr().trim()).toMatch(/^diagnosis-server: configuration: PORT: /);
  });

  it('migrate creates the database, applies the schema once and exits 0', async () => {
    const url = freshDatabaseUrl();
    const first = run(['migrate'], { DATABASE_URL: url });
    expect(await first.exited).toBe(0);
    const again = run(['migrate'], { DATABASE_URL: url });
    expect(await again.exited).toBe(0);
    const db = testPool(url);
    try {
      const tables = (await db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map((r) => r.table_name);
      expect(tables).toEqual(['diagnosis_keys', 'encryption_keys', 'events', 'failed_key_claim_attempts', 'otk_life_duration', 'schema_migrations', 'tek_upload_count']);
      expect((await db.query('SELECT version FROM schema_migrations')).rows).toEqual([{ version: '0001_initial' }]);
    } finally {
      await db.end();
    }
  });

  it('key-submission migrates, serves, and on SIGTERM closes its server and pool and exits 0', async () => {
    const url = freshDatabaseUrl();
    const port = await freePort();
    const p = run(['key-submission'], { DATABASE_URL: url, KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=portal`, BIND_ADDR: `127.0.0.1:${port}` });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(pingOk(base), 'ping');
    const code = await fetch(`${base}/new-key-claim`, { method: 'POST', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } });
    expect(code.status).toBe(200);

    const db = testPool(url);
    try {
      const connections = async () =>
        (await db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows[0].n as number;
      expect(await connections()).toBeGreaterThan(0);
      p.child.kill('SIGTERM');
      // Exit code 0, not the 1 of the one-second shutdown deadline.
      expect(await p.exited).toBe(0);
      await waitFor(async () => ((await connections()) === 0 ? true : undefined), 'connections to close', 5000);
      await expect(fetch(`${base}/services/ping`)).rejects.toThrow();
    } finally {
      await db.end();
    }
  });

  it('all runs on embedded Postgres with generated secrets, and reuses both on the next start', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'diagnosis-server-all-'));
    await chmod(dataDir, 0o755);
    const env = { DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(await freePort()), PORT: String(await freePort()) };

    const start = async () => {
      const p = run(['all'], env);
      const printed = await waitFor(async () => (p.stdout().includes('KEY_CLAIM_TOKEN') ? p.stdout() : undefined), 'start-up banner', 120_000);
      const submission = /key-submission\s+(http:\S+)/.exec(printed)![1]!;
      const retrieval = /key-retrieval\s+(http:\S+)/.exec(printed)![1]!;
      const token = /KEY_CLAIM_TOKEN (\S+)=/.exec(printed)![1]!;
      return { p, submission, retrieval, token };
    };

    const first = await start();
    expect(first.submission).toBe(`http://localhost:${env.PORT}`);
    expect(first.retrieval).toBe(`http://localhost:${Number(env.PORT) + 1}`);
    await waitFor(pingOk(first.retrieval), 'retrieval ping');
    const issued = await fetch(`${first.submission}/new-key-claim`, { method: 'POST', headers: { authorization: `Bearer ${first.token}` } });
    expect(issued.status).toBe(200);
    first.p.child.kill('SIGTERM');
    expect(await first.p.exited).toBe(0);

    const second = await start();
    expect(second.token).toBe(first.token);
    const again = await fetch(`${second.submission}/new-key-claim`, { method: 'POST', headers: { authorization: `Bearer ${second.token}` } });
    expect(again.status).toBe(200);
    second.p.child.kill('SIGTERM');
    expect(await second.p.exited).toBe(0);
  });
});
