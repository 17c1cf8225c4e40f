// Starting a role, as the role table says: database, migrations, the purge, servers, and
// an orderly stop of whatever was started, in reverse.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { closePool, openPool, type Pool, type PoolTimeouts } from './db/pool.js';
import { storedCounts } from './statistics/store.js';
import { systemClock, type Clock } from './protocol/time.js';
import { purgeOnce, startPurgeLoop } from './purge/purge.js';
import { roleSpec, serverPort, type Role, type Server } from './roles.js';
import { startTelemetry } from './telemetry/telemetry.js';
import { traceQueries } from './telemetry/tracing.js';
import { errorFields } from './logger.js';

export interface Running {
  /** Base URL per server, e.g. { 'key-submission': 'http://127.0.0.1:8000' }. */
  urls: Partial<Record<Server | 'metrics', string>>;
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
async function exportSigner(ecdsaKey: string) {
  const { loadExportSigner } = await import('./crypto/export-signer.js');
  try {
    return loadExportSigner(ecdsaKey);
  } catch (err) {
    throw new ConfigError(`ECDSA_KEY: ${(err as Error).message}`);
  }
}

export async function startRole(role: Role, config: Config, log: Logger, clock: Clock = systemClock): Promise<Running> {
  const spec = roleSpec(role);
  // A bad signing key stops start-up before anything is started.
  const signer = config.retrieval && (await exportSigner(config.retrieval.ecdsaKey));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of [...stops].reverse()) await stop().catch((err: unknown) => log.warn(errorFields(err), 'stop failed'));
  };
  try {
    const host = config.service.listen.host ?? (spec.local ? LOCAL_HOST : ALL_INTERFACES);
    const telemetry = await startTelemetry(config.telemetry, log, host);
    stops.push(() => telemetry.shutdown());
    const openDatabase = async (url: string, timeouts: PoolTimeouts = config.database.timeouts, max?: number) => {
      const opened = await openPool(url, log, timeouts, max);
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
      pool = await openDatabase(url);
      if (spec.migrates || config.purge) maintenancePool = await openDatabase(url, { ...config.database.timeouts, queryMs: undefined }, 2);
    }
    const readPool = readerUrl ? await openDatabase(readerUrl) : pool;
    const gaugePool = pool ?? readPool;
    if (gaugePool) telemetry.metrics.observeStoredCounts(() => storedCounts(gaugePool));

    if (spec.migrates && maintenancePool) await migrate(maintenancePool, log);
    if (config.shortRetention.length > 0 && spec.migrates) {
      log.warn({ settings: config.shortRetention }, 'retention shorter than the protocol (ALLOW_SHORT_RETENTION)');
    }

    // The purge runs once before submission listens, then on its interval (protocol §9).
    if (config.purge && maintenancePool) {
      await purgeOnce(maintenancePool, config.purge, clock, log, telemetry.metrics);
      if (spec.purge === 'loop') {
        const loop = startPurgeLoop(maintenancePool, config.purge, clock, log, telemetry.metrics);
        stops.push(() => loop.stop());
      }
    }

    const urls: Running['urls'] = telemetry.metricsUrl ? { metrics: telemetry.metricsUrl } : {};
    const portOf = (server: Server) => serverPort(role, server, config.service.listen.port);
    if (config.submission && pool) {
      const { buildSubmissionServer } = await import('./submission/app.js');
      const app = buildSubmissionServer({ settings: config.submission, service: config.service, pool, clock, log, telemetry });
      stops.push(() => app.close());
      urls['key-submission'] = await listen(app, host, portOf('key-submission'));
    }
    if (config.retrieval && signer && readPool) {
      const { buildRetrievalServer } = await import('./retrieval/app.js');
      const { ExportCache } = await import('./exports/cache.js');
      const cache = new ExportCache(config.retrieval.exportCacheBytes);
      const app = buildRetrievalServer({ settings: config.retrieval, service: config.service, pool: readPool, clock, log, signer, cache, telemetry });
      stops.push(() => app.close());
      urls['key-retrieval'] = await listen(app, host, portOf('key-retrieval'));
    }
    return { urls, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
