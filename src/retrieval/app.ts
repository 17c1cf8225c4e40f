// The key-retrieval server: the routes of protocol §5 on the shared HTTP base. It only
// reads the database, so it may point at a read replica.
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../http/server.js';
import type { RetrievalContext } from './context.js';
import { registerEvents } from './events.js';
import { DEFAULT_EXPOSURE_CONFIGURATION_DIR, loadExposureConfiguration, registerExposureConfiguration } from './exposure-configuration.js';
import { registerRetrieve } from './retrieve.js';

export function buildRetrievalServer(ctx: RetrievalContext): FastifyInstance {
  const app = createHttpServer(ctx.service, ctx.log, ctx.telemetry, ctx.ready);
  registerRetrieve(app, ctx);
  const byRegion = new Map(
    ctx.settings.regions.flatMap((r) =>
      r.exposureConfigurationDir ? [[r.mcc, loadExposureConfiguration(r.exposureConfigurationDir)] as const] : [],
    ),
  );
  registerExposureConfiguration(
    app,
    loadExposureConfiguration(ctx.settings.exposureConfigurationDir ?? DEFAULT_EXPOSURE_CONFIGURATION_DIR),
    byRegion,
  );
  registerEvents(app, ctx);
  return app;
}
