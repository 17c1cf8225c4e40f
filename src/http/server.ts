// What both servers share: Fastify settings, the 404, errors, and one log line per request.
import { createServer, METHODS, type Server } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HttpLimits, ServiceSettings } from '../config.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { traceRequests } from '../telemetry/tracing.js';
import { deferBodies, withNeutralContentType } from './body.js';
import { isUnmeasured, notFound, sendText } from './responses.js';
import { registerServices } from './services.js';
import { errorFields } from '../logger.js';

const noSchemas = () => () => {
  throw new Error('routes here take no JSON schema: check requests in protocol/');
};

/** How often Node looks for requests past their deadline: the limits hold to about this. */
const DEADLINE_CHECK_MS = 1000;

/** How long a stop lets the requests being answered finish: half of the CLI's shutdown deadline. */
const DRAIN_MS = 500;

/**
 * Node's server with the limits set; Fastify's own timeout options are off by default
 * (a request that never finished its body held its connection for ever).
 */
function limitedServer(limits: HttpLimits, handler: Parameters<typeof createServer>[1]): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: DEADLINE_CHECK_MS,
    },
    handler,
  );
  // A socket that sends nothing at all is closed too (no 'timeout' listener: it is destroyed).
  server.setTimeout(limits.requestTimeoutMs);
  server.maxConnections = limits.maxConnections;
  return server;
}

/**
 * Fastify's log control, but a request refused during a stop is counted, not logged: Fastify
 * logged each as "request aborted - refusing to accept new requests as server is closing",
 * dozens of lines at info on every deploy under load, for requests nobody aborted.
 */
class CountingRefusals extends LogController {
  refused = 0;
  override serviceUnavailable(): void {
    this.refused++;
  }
}

export function createHttpServer(service: ServiceSettings, log: Logger, telemetry: Telemetry, ready: () => Promise<boolean>): FastifyInstance {
  const refusedWhileStopping = new CountingRefusals({ disableRequestLogging: true });
  const app = Fastify({
    serverFactory: (handler) => limitedServer(service.limits, withNeutralContentType(handler)),
    // The cast picks Fastify's default logger type for the instance, which the routes expect.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: log as FastifyBaseLogger,
    // Our own line per request below: Fastify's would log client addresses and full URLs.
    logController: refusedWhileStopping,
    // /new-key-claim/{hashID} carries 128 characters.
    routerOptions: { maxParamLength: 256 },
    // SIGTERM must not wait for idle keep-alive connections.
    forceCloseConnections: true,
    return503OnClosing: true,
    // A path the router cannot take (a segment past maxParamLength, a bad %-escape) is a
    // path nothing serves: the protocol's 404, never Fastify's JSON that echoes the path.
    frameworkErrors: (_err, _request, reply) => {
      notFound(reply);
    },
    // No route has a JSON schema (the protocol's checks are in protocol/): Fastify's schema
    // compilers, ajv above all, are never loaded, which is a good part of start-up.
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
  });
  // The endpoints that answer any method (protocol §4) must see every method Node parses:
  // Fastify knows only a few and sent the rest (PROPFIND, PURGE, M-SEARCH…) to the 404.
  // CONNECT never reaches a route: Node hands it to the server's 'connect' event.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }
  drainOnClose(app);
  app.addHook('onClose', (instance, done) => {
    if (refusedWhileStopping.refused > 0) instance.log.info({ requests: refusedWhileStopping.refused }, 'refused with a 503 while stopping');
    done();
  });
  deferBodies(app);
  app.setNotFoundHandler((_request, reply) => notFound(reply));
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ ...errorFields(err), route: request.routeOptions.url }, 'request failed');
      return sendText(reply, 500, 'server error');
    }
    return sendText(reply, status, 'bad request');
  });
  if (telemetry.tracer) traceRequests(app, telemetry.tracer);
  app.addHook('onRequestAbort', (request, done) => {
    const route = request.routeOptions.url ?? 'not found';
    request.log.debug({ route, method: request.method }, 'request abandoned by the client');
    telemetry.metrics.httpRequestAborted(route, request.method);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (isUnmeasured(request)) return done();
    const route = request.routeOptions.url ?? 'not found';
    request.log.info({ route, method: request.method, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    telemetry.metrics.httpRequest(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  registerServices(app, service, ready);
  return app;
}

/**
 * A stop lets the requests being answered finish, for up to DRAIN_MS, while new ones get a
 * 503 (return503OnClosing); only then are connections closed, and the pool after them. It
 * had cut them off at once: an upload stored but never acknowledged, and every download in
 * flight logged as a failed read of a pool already closed (40 at one SIGTERM under load).
 */
function drainOnClose(app: FastifyInstance): void {
  const answering = new Set<Promise<unknown>>();
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      const result: unknown = handler.call(this, request, reply);
      if (result instanceof Promise) {
        answering.add(result);
        const settled = () => answering.delete(result);
        result.then(settled, settled);
      }
      return result;
    };
  });
  app.addHook('preClose', async () => {
    if (answering.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS)));
    await Promise.race([Promise.allSettled([...answering]), deadline]);
    clearTimeout(timer);
  });
}
