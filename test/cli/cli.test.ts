// The built command, as operators and `npm start` run it: a real process, real signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempFolder } from '../helpers/temp-folder.js';
import { sharedClusterFolder } from '../../src/db/embedded.js';
import { freshDatabaseUrl, testPool } from '../helpers/database.js';
import { freePort } from '../../src/clients/free-port.js';
import { PORTAL_TOKEN } from '../helpers/servers.js';

const CLI = path.resolve('dist/bundle/cli.mjs');

interface Process {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>, entry = CLI): Process {
  const child = spawn(process.execPath, [entry, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // A test that fails before it stops its server leaves none behind to run on.
  onTestFinished(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  });
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

/** The first log line (JSON, on stderr) with `text` in it, once there is one. */
const logLine = (p: Process, text: string) =>
  waitFor(
    async () =>
      p
        .stderr()
        .split('\n')
        .find((line) => line.includes(text)),
    text,
  );

const pingOk = (url: string) => async () => ((await fetch(`${url}/services/ping`)).status === 200 ? true : undefined);

describe('diagnosis-server', () => {
  it('prints usage for an unknown command and exits 2', async () => {
    const p = run(['launch'], {});
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain('unknown command "launch"');
    expect(p.stderr()).toContain('usage: diagnosis-server <command>');
  });

  it('keys prints fresh, usable secrets', async () => {
    const p = run(['keys'], {});
    expect(await p.exited).toBe(0);
    const out = p.stdout();
    const ecdsaKey = /^ECDSA_KEY=([0-9a-f]+)$/m.exec(out)![1]!;
    expect(/^RETRIEVE_HMAC_KEY=([0-9a-f]{80})$/m.test(out)).toBe(true);
    expect(/^KEY_CLAIM_TOKEN=[0-9a-f]{48}=portal$/m.test(out)).toBe(true);
    const pem = out
      .split('\n')
      .filter((l) => l.startsWith('#   '))
      .map((l) => l.slice(4))
      .join('\n');
    const { createPublicKey, createPrivateKey } = await import('node:crypto');
    const derived = createPublicKey(createPrivateKey({ key: Buffer.from(ecdsaKey, 'hex'), format: 'der', type: 'sec1' }));
    expect(
      createPublicKey(pem)
        .export({ format: 'der', type: 'spki' })
        .equals(derived.export({ format: 'der', type: 'spki' })),
    ).toBe(true);
    const again = run(['keys'], {});
    await again.exited;
    expect(again.stdout()).not.toBe(out);
  });

  it('verify-export accepts the signed sample and rejects it with one byte changed', async () => {
    const dir = path.resolve('test/fixtures/google-ens-sample');
    const ok = run(['verify-export', path.join(dir, 'testExport-2-records-1-of-1.zip'), '--public-key', path.join(dir, 'public.pem')], {});
    expect(await ok.exited).toBe(0);
    expect(ok.stdout()).toContain('keys:       2');
    expect(ok.stdout()).toContain('region:     US');
    expect(ok.stdout()).toMatch(/OK\n$/);

    const JSZip = (await import('jszip')).default;
    const { storedEntry, zip } = await import('../../src/exports/zip.js');
    const { writeFile, readFile } = await import('node:fs/promises');
    const archive = await JSZip.loadAsync(await readFile(path.join(dir, 'testExport-2-records-1-of-1.zip')));
    const bin = Buffer.from(await archive.file('export.bin')!.async('uint8array'));
    bin[40]! ^= 0x10;
    const sig = Buffer.from(await archive.file('export.sig')!.async('uint8array'));
    const changed = path.join(await tempFolder('changed-'), 'changed.zip');
    await writeFile(changed, zip([storedEntry('export.bin', bin), storedEntry('export.sig', sig)]));
    const bad = run(['verify-export', changed, '--public-key', path.join(dir, 'public.pem')], {});
    expect(await bad.exited).toBe(1);
    expect(bad.stdout()).toContain('verified:   NO');
    expect(bad.stdout()).toMatch(/INVALID\n$/);
  });

  it('stops at start-up naming a missing or malformed variable', async () => {
    const missing = run(['key-submission'], { DATABASE_URL: freshDatabaseUrl() });
    expect(await missing.exited).toBe(1);
    expect(missing.stderr().trim()).toMatch(/^diagnosis-server: configuration: KEY_CLAIM_TOKEN: /);

    const malformed = run(['key-submission'], { DATABASE_URL: freshDatabaseUrl(), KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=a`, PORT: '80a' });
    expect(await malformed.exited).toBe(1);
    expect(malformed.stderr().trim()).toMatch(/^diagnosis-server: configuration: PORT: /);

    const noHmac = run(['key-retrieval'], { DATABASE_URL: freshDatabaseUrl(), ECDSA_KEY: '00' });
    expect(await noHmac.exited).toBe(1);
    expect(noHmac.stderr().trim()).toMatch(/^diagnosis-server: configuration: RETRIEVE_HMAC_KEY: /);

    const badKey = run(['key-retrieval'], { DATABASE_URL: freshDatabaseUrl(), RETRIEVE_HMAC_KEY: 'ab'.repeat(40), ECDSA_KEY: 'abcd' });
    expect(await badKey.exited).toBe(1);
    expect(badKey.stderr().trim()).toMatch(/^diagnosis-server: configuration: ECDSA_KEY: /);
  });

  it('migrate creates the database, applies the schema once and exits 0', async () => {
    const url = freshDatabaseUrl();
    const first = run(['migrate'], { DATABASE_URL: url });
    expect(await first.exited).toBe(0);
    const again = run(['migrate'], { DATABASE_URL: url });
    expect(await again.exited).toBe(0);
    const db = testPool(url);
    try {
      const tables = (await db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map(
        (r) => r.table_name,
      );
      expect(tables).toEqual([
        'diagnosis_key_changes',
        'diagnosis_key_versions',
        'diagnosis_keys',
        'encryption_keys',
        'events',
        'events_log',
        'failed_key_claim_attempts',
        'key_batches',
        'otk_life_duration',
        'otk_life_log',
        'padding_keys',
        'schema_migrations',
        'tek_upload_count',
        'tek_upload_log',
      ]);
      // Every file in migrations/, once each, in name order.
      const files = (await readdir('migrations')).filter((f) => f.endsWith('.sql')).sort();
      expect(files.slice(0, 2)).toEqual(['0001_initial.sql', '0002_diagnosis_key_versions.sql']);
      expect((await db.query('SELECT version FROM schema_migrations ORDER BY version')).rows).toEqual(
        files.map((f) => ({ version: f.slice(0, -4) })),
      );
    } finally {
      await db.end();
    }
  });

  it('purge runs once and exits; purger runs until SIGTERM', async () => {
    const url = freshDatabaseUrl();
    const once = run(['purge'], { DATABASE_URL: url, LOG_LEVEL: 'info' });
    expect(await once.exited).toBe(0);
    expect(once.stderr()).toContain('purge done');
    const db = testPool(url);
    try {
      // Applied its migrations first; and a stale code is gone after a purger pass.
      await db.query(
        `INSERT INTO encryption_keys (server_private_key, server_public_key, one_time_code, remaining_keys, created, originator)
         VALUES (decode(repeat('01', 32), 'hex'), decode(repeat('02', 32), 'hex'), 'AAAAAAAAAA', 43, now() - interval '2 days', 'p')`,
      );
      const loop = run(['purger'], { DATABASE_URL: url, PURGE_INTERVAL_SECONDS: '1' });
      await waitFor(
        async () => ((await db.query('SELECT count(*)::int AS n FROM encryption_keys')).rows[0].n === 0 ? true : undefined),
        'the purger to delete the code',
      );
      const events = await db.query("SELECT source, count FROM events WHERE identifier = 'OTKUnclaimed'");
      expect(events.rows).toEqual([{ source: 'p', count: 1 }]);
      loop.child.kill('SIGTERM');
      expect(await loop.exited).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('key-submission migrates, serves, and on SIGTERM closes its server and pool and exits 0', async () => {
    const url = freshDatabaseUrl();
    const port = await freePort();
    const p = run(['key-submission'], {
      DATABASE_URL: url,
      KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=portal`,
      BIND_ADDR: `127.0.0.1:${port}`,
      LOG_LEVEL: 'info',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor(pingOk(base), 'ping');
    // Started from the code cache the build made, and says so.
    expect(JSON.parse(await logLine(p, '"listening"'))).toMatchObject({ role: 'key-submission', url: base, codeCache: 'used' });
    const code = await fetch(`${base}/new-key-claim`, { method: 'POST', headers: { authorization: `Bearer ${PORTAL_TOKEN}` } });
    expect(code.status).toBe(200);

    const db = testPool(url);
    try {
      const connections = async () =>
        (await db.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows[0]
          .n as number;
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

  it('warns when V8 refuses the code cache, and serves all the same', async () => {
    // The shipped script, with a cache from elsewhere: another Node's would be refused the same way.
    const dir = await tempFolder('cli-cache-');
    const cache = path.join(dir, 'cli-script.js.cache');
    await writeFile(cache, Buffer.alloc(4096, 7));
    const launcher = path.join(dir, 'launch.mjs');
    await writeFile(
      launcher,
      `import { runBundle } from ${JSON.stringify(path.resolve('dist/code-cache.js'))};\nrunBundle(${JSON.stringify(path.resolve('dist/bundle/cli-script.js'))}, ${JSON.stringify(cache)});\n`,
    );
    const port = await freePort();
    const p = run(
      ['key-submission'],
      { DATABASE_URL: freshDatabaseUrl(), KEY_CLAIM_TOKEN: `${PORTAL_TOKEN}=portal`, BIND_ADDR: `127.0.0.1:${port}` },
      launcher,
    );
    await waitFor(pingOk(`http://127.0.0.1:${port}`), 'ping');
    expect(JSON.parse(await logLine(p, 'code cache'))).toMatchObject({ level: 40, msg: expect.stringContaining('does not fit this Node') });
  });

  it('all runs on embedded Postgres with generated secrets, and reuses both on the next start', async () => {
    // A private folder (mode 0700, as /root is): as root, Postgres runs as another user,
    // who cannot enter it, and the cluster has to live elsewhere.
    const privateDir = await mkdtemp(path.join(tmpdir(), 'diagnosis-server-all-'));
    const dataDir = path.join(privateDir, 'data');
    onTestFinished(async () => {
      await rm(sharedClusterFolder(dataDir), { recursive: true, force: true });
      await rm(privateDir, { recursive: true, force: true });
    });
    const env = { DATA_DIR: dataDir, EMBEDDED_POSTGRES_PORT: String(await freePort()), PORT: String(await freePort()) };

    const start = async () => {
      const p = run(['all'], env);
      const printed = await waitFor(async () => (p.stdout().includes('KEY_CLAIM_TOKEN') ? p.stdout() : undefined), 'start-up banner', 120_000);
      const submission = /key-submission\s+(http:\S+)/.exec(printed)![1]!;
      const retrieval = /key-retrieval\s+(http:\S+)/.exec(printed)![1]!;
      const token = /KEY_CLAIM_TOKEN\s+(\S+)=/.exec(printed)![1]!;
      const hmacKey = /RETRIEVE_HMAC_KEY\s+([0-9a-f]+)/.exec(printed)![1]!;
      return { p, submission, retrieval, token, hmacKey };
    };

    const first = await start();
    // Loopback only: `all` prints development secrets, and is for one machine.
    expect(first.submission).toBe(`http://127.0.0.1:${env.PORT}`);
    expect(first.retrieval).toBe(`http://127.0.0.1:${Number(env.PORT) + 1}`);
    await waitFor(pingOk(first.retrieval), 'retrieval ping');
    const issued = await fetch(`${first.submission}/new-key-claim`, { method: 'POST', headers: { authorization: `Bearer ${first.token}` } });
    expect(issued.status).toBe(200);
    first.p.child.kill('SIGTERM');
    expect(await first.p.exited).toBe(0);

    const second = await start();
    expect(second.token).toBe(first.token);
    expect(second.hmacKey).toBe(first.hmacKey);
    // The printed HMAC key opens the retrieval endpoint, and the file verifies with the written public key.
    const { retrieveHmac } = await import('../../src/protocol/retrieve.js');
    const { verifyExport } = await import('../../src/exports/verify.js');
    const { createPublicKey } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const now = Date.now();
    const day = String(Math.floor(now / 86_400_000) - 1);
    const mac = retrieveHmac(Buffer.from(second.hmacKey, 'hex'), '302', day, Math.floor(now / 3_600_000)).toString('hex');
    const file = await fetch(`${second.retrieval}/retrieve/302/${day}/${mac}`);
    expect(file.status).toBe(200);
    const publicKey = createPublicKey(await readFile(path.join(dataDir, 'export-public-key.pem'), 'utf8'));
    expect((await verifyExport(Buffer.from(await file.arrayBuffer()), publicKey)).ok).toBe(true);
    const again = await fetch(`${second.submission}/new-key-claim`, { method: 'POST', headers: { authorization: `Bearer ${second.token}` } });
    expect(again.status).toBe(200);
    second.p.child.kill('SIGTERM');
    expect(await second.p.exited).toBe(0);
  });
});
