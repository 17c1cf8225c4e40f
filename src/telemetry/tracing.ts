// Spans for each HTTP request and each database query (TRACER_PROVIDER). Attributes are
// the route pattern (never the URL, which can carry a hash id or an HMAC), the method, the
// status, and the SQL text (never its parameters): no address, code, token or key.
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Pool } from '../db/pool.js';

export function traceRequests(app: FastifyInstance, tracer: Tracer): void {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'not found';
    const span = tracer.startSpan(`${request.method} ${route}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'http.route': route },
    });
    spans.set(request, span);
    // The rest of the request runs inside the span's context, so queries find their parent.
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const span = spans.get(request);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

type Callback = (err: Error | null, result: unknown) => void;

/** Wraps every connection's `query` (pool.query goes through it too) in a client span. */
export function traceQueries(pool: Pool, tracer: Tracer): void {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text: string };
      const text = (typeof first === 'string' ? first : first.text).trim().replace(/\s+/g, ' ');
      const span = tracer.startSpan(`db ${text.split(' ')[0]!.toUpperCase()}`, {
        kind: SpanKind.CLIENT,
        attributes: { 'db.system.name': 'postgresql', 'db.query.text': text },
      });
      const finish = (err: unknown) => {
        if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
      };
      const last = args.length - 1;
      if (typeof args[last] === 'function') {
        const callback = args[last] as Callback;
        args[last] = (err: Error | null, result: unknown) => {
          finish(err);
          callback(err, result);
        };
        return query(...args);
      }
      const result = query(...args) as Promise<unknown> | NodeJS.EventEmitter;
      if ('then' in result) {
        return result.then(
          (value) => {
            finish(undefined);
            return value;
          },
          (err: unknown) => {
            finish(err);
            throw err;
          },
        );
      }
      // A submittable such as a COPY stream: the span lasts until the stream does.
      result.once('end', () => finish(undefined)).once('error', finish);
      return result;
    };
  });
}

/**
 * A request's share of a commit group (db/commit-groups.ts) in a span of its own, with the
 * size of the group that carried it: every request's trace shows how long it waited and in
 * what company, though the group's queries are traced under the first request it carried.
 * Without a tracer, only the call.
 */
export function inCommitGroupSpan<T>(
  tracer: Tracer | undefined,
  call: string,
  work: (joined?: (groupSize: number) => void) => Promise<T>,
): Promise<T> {
  if (!tracer) return work();
  return tracer.startActiveSpan(`commit group ${call}`, async (span) => {
    try {
      return await work((groupSize) => span.setAttribute('diagnosis.commit_group.size', groupSize));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
