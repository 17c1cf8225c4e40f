// The connection pool, and creating the database when the URL names one that is missing.
import pg from 'pg';
import { to as copyTo, type CopyToStreamQuery } from 'pg-copy-streams';
import type { Logger } from 'pino';
import { errorFields } from '../logger.js';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

const INVALID_CATALOG_NAME = '3D000';
const DUPLICATE_DATABASE = '42P04';

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(name);
  return u.toString();
}

/**
 * Connects once through `pool`, a pool for `url`, and creates the database the URL names
 * when it is missing. The connection stays in the pool for what comes next (a start-up's
 * migrations and purge) rather than being opened for this alone: one connection's set-up
 * less in every cold start (about 10 ms here).
 */
export async function ensureDatabase(url: string, pool: Pool, log: Logger, timeouts: PoolTimeouts): Promise<void> {
  try {
    (await pool.connect()).release();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== INVALID_CATALOG_NAME) throw err;
  }
  const limits = { connectionTimeoutMillis: timeouts.connectMs, ...(timeouts.queryMs ? { query_timeout: timeouts.queryMs } : {}) };
  const name = databaseName(url);
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres'), ...limits });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
    log.info({ database: name }, 'created database');
  } catch (err) {
    // Another replica created it first.
    if ((err as { code?: string }).code !== DUPLICATE_DATABASE) throw err;
  } finally {
    await admin.end();
  }
}

export interface PoolTimeouts {
  /**
   * A query that has not answered by then is rejected here, however stuck the server is;
   * undefined for maintenance (migrations, the purge), which may run long or wait its turn.
   */
  queryMs: number | undefined;
  connectMs: number;
}

/** A pool for `url`. It connects on first use, so it opens whether or not Postgres is up. */
export function openPool(url: string, log: Logger, timeouts: PoolTimeouts, max = 20): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: timeouts.connectMs,
    // Client-side, so it holds when Postgres is frozen or the network drops packets; the
    // server-side limits end the work there too, and any transaction left idle.
    ...(timeouts.queryMs
      ? { query_timeout: timeouts.queryMs, statement_timeout: timeouts.queryMs, idle_in_transaction_session_timeout: timeouts.queryMs }
      : {}),
    // The name shows in pg_stat_activity: an operator (or a test) can tell our backends apart.
    application_name: 'diagnosis-server',
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', (err) => log.warn(errorFields(err), 'idle database connection failed'));
  const open = new Set<pg.PoolClient>();
  pool.on('connect', (client) => {
    // pg-pool listens for errors only while a client is idle. A checked-out one that loses
    // its connection between queries (idle in a transaction, say, while a key file is
    // signed) would emit an unhandled 'error' and end the process. With a listener of its
    // own for its whole life, the error is logged and the next query on it rejects, so the
    // request gets its 500 and the connection is discarded.
    client.on('error', (err) => log.warn(errorFields(err), 'database connection failed'));
    open.add(client);
    client.once('end', () => open.delete(client));
  });
  openConnections.set(pool, open);
  return pool;
}

const openConnections = new WeakMap<Pool, Set<pg.PoolClient>>();

/**
 * Ends the pool and waits until every connection has really closed: pool.end() resolves
 * once it has asked them to, and a Postgres stopped right after would cut them off.
 */
export async function closePool(pool: Pool): Promise<void> {
  await pool.end();
  const open = [...(openConnections.get(pool) ?? [])];
  await Promise.all(open.map((client) => new Promise((resolve) => client.once('end', resolve))));
}

/**
 * Runs `work` on one connection that holds a session advisory lock, so that one process at
 * a time does it across every replica. A failure discards the connection: should the
 * unlock not have run, the lock ends with the session instead of staying held.
 */
export async function withAdvisoryLock<T>(pool: Pool, lock: number, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lock]);
    try {
      return await work(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [lock]);
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Runs `work` in one transaction on one connection; rolls back on any throw. */
export async function inTransaction<T>(pool: Pool, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection that failed goes, rather than back to the pool for the next request.
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = true;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Whether the database answers a trivial query now: what readiness reports. */
export async function databaseAnswers(pool: Pool): Promise<boolean> {
  return pool.query('SELECT 1').then(
    () => true,
    () => false,
  );
}

/** A deadlock or serialisation failure: the transaction lost a race and may be tried again whole. */
export function isRetryableConflict(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === '40P01' || code === '40001';
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/**
 * `COPY … TO STDOUT` on `client`, as a stream. The driver arms its query timeout for a
 * copy too (a copy that stalls fails with 'Query read timeout'), but clears it only
 * through `query.callback`, which a copy stream never calls: left alone, the timer would
 * hold the process for the whole timeout after every copy and then fail a finished stream.
 * So the callback is called once the copy is over, however it ended.
 */
export function copyOut(client: Client, sql: string): CopyToStreamQuery {
  const stream = client.query(copyTo(sql));
  const settle = () => (stream as { callback?: () => void }).callback?.();
  stream.once('end', settle).once('error', settle).once('close', settle);
  return stream;
}
