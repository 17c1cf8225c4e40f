// Starting a role, as the role table says: database, migrations, the purge, servers, and
// an orderly stop of whatever was started, in reverse.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, type Config, type RetrievalRegion, type RetrievalSettings } from './config.js';
import type { RetrievalSigningKey, ServedRegion } from './retrieval/context.js';
import type { ExportSigner } from './crypto/export-signer.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { closePool, databaseAnswers, ensureDatabase, openPool, type Pool, type PoolTimeouts } from './db/pool.js';
import { foldStatisticsLogs, storedCounts } from './statistics/store.js';
import { systemClock, type Clock } from './protocol/time.js';
import { purgeOnce } from './purge/purge.js';
import { sealDueBatch } from './release/seal.js';
import { roleSpec, serverPort, type Role, type Server } from './roles.js';
import { startTelemetry } from './telemetry/telemetry.js';
import type { Metrics } from './telemetry/metrics.js';
import { traceQueries } from './telemetry/tracing.js';
import { errorFields } from './logger.js';

export interface Running {
  /** Base URL per server, e.g. { 'key-submission': 'http://127.0.0.1:8000' }. */
  urls: Partial<Record<Server | 'metrics', string>>;
  /** Runs the writer's chores (purge, sealing) now, at the role's clock: for simulations that move it. */
  runChores?: () => Promise<void>;
  stop: () => Promise<void>;
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shownHost}:${actualPort}`;
}

// A local role is for one person's machine, and prints development secrets: it stays on
// loopback. The server roles run in containers, where the address that counts is not loopback.
const LOCAL_HOST = '127.0.0.1';
const ALL_INTERFACES = '0.0.0.0';

// Each role loads only its own modules (the other server's, the signing library): a
// smaller process that starts faster.
async function loadRegions(retrieval: RetrievalSettings): Promise<Map<string, ServedRegion>> {
  const { loadExportSigner } = await import('./crypto/export-signer.js');
  // Regions without keys of their own share the deployment's: each key is loaded once.
  const signers = new Map<string, ExportSigner>();
  const signerOf = (ecdsaKey: string) => {
    let signer = signers.get(ecdsaKey);
    if (!signer) signers.set(ecdsaKey, (signer = loadExportSigner(ecdsaKey)));
    return signer;
  };
  const loadKeys = (region: RetrievalRegion): RetrievalSigningKey[] =>
    region.signingKeys.map((k) => {
      try {
        return {
          signer: signerOf(k.ecdsaKey),
          signatureInfo: { verificationKeyId: k.keyId, verificationKeyVersion: k.keyVersion, signatureAlgorithm: retrieval.exportSignatureAlgorithm },
          notBeforeMs: k.notBeforeMs,
          notAfterMs: k.notAfterMs,
        };
      } catch (err) {
        throw new ConfigError(`${k.origin}: ${(err as Error).message}`);
      }
    });
  return new Map(retrieval.regions.map((r) => [r.mcc, { mcc: r.mcc, exportRegion: r.exportRegion, signingKeys: loadKeys(r) }]));
}

export async function startRole(role: Role, config: Config, log: Logger, clock: Clock = systemClock): Promise<Running> {
  const spec = roleSpec(role);
  // A bad signing key stops start-up before anything is started.
  const regions = config.retrieval && (await loadRegions(config.retrieval));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of [...stops].reverse()) await stop().catch((err: unknown) => log.warn(errorFields(err), 'stop failed'));
  };
  try {
    const host = config.service.listen.host ?? (spec.local ? LOCAL_HOST : ALL_INTERFACES);
    const telemetry = await startTelemetry(config.telemetry, log, host);
    stops.push(() => telemetry.shutdown());
    // Each database URL is probed once, through the pool opened for it last: the maintenance
    // pool, where there is one, migrates and purges next on the connection the probe opened.
    const toPrepare = new Map<string, Pool>();
    const openDatabase = (url: string, timeouts: PoolTimeouts = config.database.timeouts, max?: number) => {
      const opened = openPool(url, log, timeouts, max);
      toPrepare.set(url, opened);
      stops.push(() => closePool(opened));
      if (telemetry.tracer) traceQueries(opened, telemetry.tracer);
      return opened;
    };
    // Retrieval only reads: with DATABASE_READER_URL it reads there (an Aurora reader, a
    // replica), and a role that runs nothing but retrieval never connects to the writer.
    const readerUrl = config.retrieval && config.database.readerUrl;
    const writes = spec.migrates || config.submission !== undefined || config.purge !== undefined;
    let pool: Pool | undefined;
    // Migrations and the purge may run long, or wait for another replica's turn: they get
    // connections of their own, without the query timeout that bounds a request.
    let maintenancePool: Pool | undefined;
    if (writes || !readerUrl) {
      let url = config.database.url;
      if (url === undefined) {
        const { dataDir, embeddedPostgresPort: port } = config.database;
        const embedded = await startEmbeddedPostgres({ dataDir, port, log });
        stops.push(embedded.stop);
        url = embedded.url;
      }
      pool = openDatabase(url);
      if (spec.migrates || config.purge) maintenancePool = openDatabase(url, { ...config.database.timeouts, queryMs: undefined }, 2);
    }
    const readPool = readerUrl ? openDatabase(readerUrl) : pool;
    const gaugePool = pool ?? readPool;
    if (gaugePool) telemetry.metrics.observeStoredCounts(() => storedCounts(gaugePool));
    if (config.shortRetention.length > 0 && spec.migrates) {
      log.warn({ settings: config.shortRetention }, 'retention shorter than the protocol (ALLOW_SHORT_RETENTION)');
    }

    // The database made ready: created if missing, migrated, and purged once (protocol §9:
    // before submission listens), then the purge on its interval.
    let prepared = false;
    const chores = config.purge && maintenancePool ? writerChores(config, maintenancePool, clock, log, telemetry.metrics) : [];
    const runChores = async () => {
      for (const chore of chores) await chore.run();
    };
    const prepare = async () => {
      for (const [url, probe] of toPrepare) await ensureDatabase(url, probe, log, config.database.timeouts);
      if (spec.migrates && maintenancePool) await migrate(maintenancePool, log);
      if (config.purge) {
        await runChores();
        if (spec.purge === 'loop') {
          const loop = startChoreLoop(chores, config.purge.intervalMs, log);
          stops.push(() => loop.stop());
        }
      }
      prepared = true;
    };
    // The servers' modules load while the database is prepared: compiling them is this
    // thread's work, preparing is mostly waiting for Postgres.
    const submissionModule = config.submission && pool ? import('./submission/app.js') : undefined;
    const retrievalModules =
      config.retrieval && regions && readPool ? Promise.all([import('./retrieval/app.js'), import('./exports/cache.js')]) : undefined;
    // Awaited below, or never when preparing fails first.
    for (const loading of [submissionModule, retrievalModules]) loading?.catch(() => {});
    if (!spec.stays) await prepare();
    else {
      // A server starts whether or not Postgres is up (after a restart, a failover, or
      // before the database exists): /services/ping answers, requests that need the
      // database get their 500, /services/ready says not ready, and preparing is tried
      // again until it succeeds.
      const retries = retryUntilDone(prepare, log);
      stops.push(retries.stop);
      await retries.firstTry;
    }
    // Retrieval may read from the writer's own pool: each distinct pool is asked once.
    const readiness = new Readiness(
      () => prepared,
      [...new Set([pool, readPool])].filter((p): p is Pool => p !== undefined),
    );
    const ready = () => readiness.ready();

    const urls: Running['urls'] = telemetry.metricsUrl ? { metrics: telemetry.metricsUrl } : {};
    const portOf = (server: Server) => serverPort(role, server, config.service.listen.port);
    if (config.submission && pool && submissionModule) {
      const { buildSubmissionServer } = await submissionModule;
      const app = buildSubmissionServer({ settings: config.submission, service: config.service, pool, clock, log, telemetry, ready });
      stops.push(() => app.close());
      urls['key-submission'] = await listen(app, host, portOf('key-submission'));
    }
    if (config.retrieval && regions && readPool && retrievalModules) {
      const [{ buildRetrievalServer }, { ExportCache }] = await retrievalModules;
      const cache = new ExportCache(config.retrieval.exportCacheBytes);
      const app = buildRetrievalServer({
        settings: config.retrieval,
        service: config.service,
        pool: readPool,
        clock,
        log,
        regions,
        cache,
        telemetry,
        ready,
      });
      stops.push(() => app.close());
      urls['key-retrieval'] = await listen(app, host, portOf('key-retrieval'));
    }
    return { urls, stop: stopAll, ...(chores.length > 0 ? { runChores } : {}) };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface Chore {
  name: string;
  run: () => Promise<unknown>;
}

/**
 * What the process that purges does on every pass: the retention purge (protocol §9),
 * folding the statistics that requests logged into their tables, and, with batched
 * release, sealing the hour that has passed. Each may run in any number of processes at
 * once: the purge and sealing take advisory locks, a fold moves each logged row once.
 */
function writerChores(config: Config, pool: Pool, clock: Clock, log: Logger, metrics: Metrics): Chore[] {
  const chores: Chore[] = [
    { name: 'purge', run: () => purgeOnce(pool, config.purge!, clock, log, metrics) },
    { name: 'statistics', run: () => foldStatisticsLogs(pool) },
  ];
  const release = config.release;
  if (release?.policy === 'batched') chores.push({ name: 'seal', run: () => sealDueBatch(pool, release, clock, log, metrics) });
  return chores;
}

/**
 * Runs the chores every `intervalMs` until stopped, counted from the end of the previous
 * pass, so a pass slower than the interval delays the next one rather than queueing passes
 * behind it. A failed chore is logged and the next one run; `stop` waits for a pass in progress.
 */
function startChoreLoop(chores: Chore[], intervalMs: number, log: Logger): { stop: () => Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const pass = async () => {
    for (const chore of chores) {
      if (stopped) return;
      await chore.run().catch((err: unknown) => log.error(errorFields(err), `${chore.name} failed`));
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      current = pass().finally(() => {
        if (!stopped) schedule();
      });
    }, intervalMs);
  };
  schedule();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

/**
 * Runs `work` now, and again after each failure (1 s, doubling to 10 s) until it succeeds
 * or `stop` is called. `firstTry` settles when the first attempt does, either way.
 */
function retryUntilDone(work: () => Promise<void>, log: Logger): { firstTry: Promise<void>; stop: () => Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const attempt = (delayMs: number): Promise<void> =>
    work().catch((err: unknown) => {
      if (stopped) return;
      log.warn({ ...errorFields(err), retryInMs: delayMs }, 'database not ready; serving without it and trying again');
      timer = setTimeout(() => {
        current = attempt(Math.min(delayMs * 2, 10_000));
      }, delayMs);
    });
  current = attempt(1000);
  return {
    firstTry: current,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

/** /services/ready: prepared, and every database answers; remembered for a second. */
class Readiness {
  private last: { at: number; ready: boolean } | undefined;
  private pending: Promise<boolean> | undefined;

  constructor(
    private readonly prepared: () => boolean,
    private readonly pools: Pool[],
  ) {}

  ready(): Promise<boolean> {
    if (this.last && Date.now() - this.last.at < 1000) return Promise.resolve(this.last.ready);
    this.pending ??= (async () => {
      const ready = this.prepared() && (await Promise.all(this.pools.map(databaseAnswers))).every(Boolean);
      this.last = { at: Date.now(), ready };
      return ready;
    })().finally(() => (this.pending = undefined));
    return this.pending;
  }
}
