// /services/* (protocol §4.4), the same on both servers: health and build information.
// /services/ping says the process serves (liveness: it answers with the database down);
// /services/ready, beyond the protocol, says the database is prepared and answers, for a
// load balancer or an orchestrator to route by.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ServiceSettings } from '../config.js';

const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

export function registerServices(app: FastifyInstance, service: ServiceSettings, ready: () => Promise<boolean>): void {
  const version = JSON.stringify({ branch: service.build.branch, revision: service.build.revision });
  const featureFlags = JSON.stringify({
    enableEntirePeriodBundle: service.featureFlags.enableEntirePeriodBundle,
    disableCurrentDateCheckFeatureFlag: service.featureFlags.disableCurrentDateCheck,
  });
  const json = 'application/json; charset=utf-8';

  app.all('/services/ping', (_req, reply) => noStore(reply).header('content-type', 'text/plain; charset=utf-8').send('OK\n'));
  app.all('/services/ready', async (_req, reply) => {
    const text = noStore(reply).header('content-type', 'text/plain; charset=utf-8');
    return (await ready()) ? text.send('ready\n') : text.code(503).send('database unavailable\n');
  });
  app.all('/services/present', (_req, reply) => noStore(reply).code(204).send());
  app.all('/services/version.json', (_req, reply) => noStore(reply).header('content-type', json).send(version));
  app.all('/services/featureFlags.json', (_req, reply) => noStore(reply).header('content-type', json).send(featureFlags));
}
