// /events/{date}, /events/uploads/{date}, /events/otkdurations/{date} (protocol §5.3):
// a day's statistics for the health authority, behind HTTP Basic auth. `?region=310`
// answers for one region of a deployment that serves several; without it, for all.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { secretsEqual } from '../crypto/secrets.js';
import { eventsOn, oneTimeCodeLivesOn, uploadsOn } from '../statistics/store.js';
import { sendText, unauthorized } from '../http/responses.js';
import type { RetrievalContext } from './context.js';
import { errorFields } from '../logger.js';

/** A real calendar date in YYYY-MM-DD. */
function parseDate(text: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text) ? text : undefined;
}

function authorised(header: string | undefined, username: string | undefined, password: string | undefined): boolean {
  if (!username || !password || !header?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both compared, always, so timing does not tell which one was wrong.
  const userOk = secretsEqual(decoded.slice(0, colon), username);
  const passwordOk = secretsEqual(decoded.slice(colon + 1), password);
  return userOk && passwordOk;
}

export function registerEvents(app: FastifyInstance, ctx: RetrievalContext): void {
  const serve =
    (read: (date: string, region: string | undefined) => Promise<unknown[]>) =>
    async (request: FastifyRequest<{ Params: { date: string }; Querystring: { region?: unknown } }>, reply: FastifyReply) => {
      if (request.method !== 'GET' || !authorised(request.headers.authorization, ctx.settings.eventsUsername, ctx.settings.eventsPassword)) {
        return unauthorized(reply);
      }
      const date = parseDate(request.params.date);
      if (!date) return sendText(reply, 400, 'error parsing date');
      const region = request.query.region;
      if (region !== undefined && (typeof region !== 'string' || !/^\d{3}$/.test(region))) return sendText(reply, 400, 'error parsing region');
      try {
        const rows = await read(date, region);
        return reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(rows));
      } catch (err) {
        request.log.error(errorFields(err), 'events query failed');
        return sendText(reply, 500, 'database error');
      }
    };
  app.all(
    '/events/:date',
    serve((date, region) => eventsOn(ctx.pool, date, region)),
  );
  app.all(
    '/events/uploads/:date',
    serve((date, region) => uploadsOn(ctx.pool, date, region)),
  );
  app.all(
    '/events/otkdurations/:date',
    serve((date, region) => oneTimeCodeLivesOn(ctx.pool, date, region)),
  );
}
