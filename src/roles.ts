// Starting a role: database, migrations, the purge, servers, and an orderly stop.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, type Config, type Role } from './config.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { closePool, openPool, type Pool } from './db/pool.js';
import { systemClock, type Clock } from './protocol/time.js';
import { purgeOnce, startPurgeLoop } from './purge/purge.js';
import { startTelemetry } from './telemetry/telemetry.js';
import { traceQueries } from './telemetry/tracing.js';

export interface Running {
  /** Base URL per server role, e.g. { 'key-submission': 'http://127.0.0.1:8000' }. */
  urls: Partial<Record<'key-submission' | 'key-retrieval' | 'metrics', string>>;
  stop(): Promise<void>;
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${shownHost}:${actualPort}`;
}

// `all` is for one person's machine, and prints development secrets: it stays on loopback.
// The server roles run in containers, where the address that counts is not loopback.
const LOCAL_HOST = '127.0.0.1';
const ALL_INTERFACES = '0.0.0.0';
const DEFAULT_SUBMISSION_PORT = 8000;
const DEFAULT_RETRIEVAL_PORT = 8001;

// Each role loads only its own modules (the other server's, the signing library): a
// smaller process that starts faster.
async function exportSigner(config: Config) {
  const { loadExportSigner } = await import('./crypto/export-signer.js');
  try {
    return loadExportSigner(config.ecdsaKey!);
  } catch (err) {
    throw new ConfigError(`ECDSA_KEY: ${(err as Error).message}`);
  }
}

export async function startRole(role: Role, config: Config, log: Logger, clock: Clock = systemClock): Promise<Running> {
  // A bad signing key stops start-up before anything is started.
  const signer = role === 'key-retrieval' || role === 'all' ? await exportSigner(config) : undefined;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of [...stops].reverse()) await stop().catch((err: unknown) => log.warn({ err: String(err) }, 'stop failed'));
  };
  try {
    const host = config.listen.host ?? (role === 'all' ? LOCAL_HOST : ALL_INTERFACES);
    const telemetry = await startTelemetry(config, log, host);
    stops.push(() => telemetry.shutdown());
    let url = config.databaseUrl;
    if (url === undefined) {
      const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, log });
      stops.push(embedded.stop);
      url = embedded.url;
    }
    const pool: Pool = await openPool(url, log);
    stops.push(() => closePool(pool));
    if (telemetry.tracer) traceQueries(pool, telemetry.tracer);
    telemetry.metrics.observeDatabase(pool);

    if (role !== 'key-retrieval') await migrate(pool, log);
    if (config.shortRetention.length > 0 && role !== 'key-retrieval') {
      log.warn({ settings: config.shortRetention }, 'retention shorter than the protocol (ALLOW_SHORT_RETENTION)');
    }

    // The purge runs once before submission listens, then on its interval (protocol §9).
    if (role === 'purge' || role === 'purger' || role === 'key-submission' || role === 'all') {
      await purgeOnce(pool, config, clock, log, telemetry.metrics);
    }
    if (role === 'purger' || role === 'key-submission' || role === 'all') {
      const loop = startPurgeLoop(pool, config, clock, log, telemetry.metrics);
      stops.push(() => loop.stop());
    }

    const urls: Running['urls'] = telemetry.metricsUrl ? { metrics: telemetry.metricsUrl } : {};
    const submissionPort = config.listen.port ?? DEFAULT_SUBMISSION_PORT;

    if (role === 'key-submission' || role === 'all') {
      const { buildSubmissionServer } = await import('./submission/app.js');
      const { submissionRules } = await import('./submission/context.js');
      const app = buildSubmissionServer({ config, pool, clock, log, rules: submissionRules(config), telemetry });
      stops.push(() => app.close());
      urls['key-submission'] = await listen(app, host, submissionPort);
    }
    if (role === 'key-retrieval' || role === 'all') {
      // In `all`, retrieval sits on the port after submission's.
      const port = role === 'all' ? (submissionPort === 0 ? 0 : submissionPort + 1) : (config.listen.port ?? DEFAULT_RETRIEVAL_PORT);
      const { buildRetrievalServer } = await import('./retrieval/app.js');
      const { ExportCache } = await import('./exports/cache.js');
      const app = buildRetrievalServer({ config, pool, clock, log, signer: signer!, cache: new ExportCache(config.exportCacheBytes), telemetry });
      stops.push(() => app.close());
      urls['key-retrieval'] = await listen(app, host, port);
    }
    return { urls, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
