// POST /new-key-claim and /new-key-claim/{hashID} (protocol §4.1): the health portal asks
// for a one-time code to give a patient.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { generateBoxKeypair } from '../crypto/box.js';
import { notFound, sendText, unauthorized } from '../http/responses.js';
import { generateOneTimeCode } from '../protocol/one-time-code.js';
import type { SubmissionContext } from './context.js';
import { authenticatePortal } from './portal-auth.js';
import { issueOneTimeCode } from './store.js';
import { errorFields } from '../logger.js';

const HASH_ID = /^[0-9a-z]{128}$/;
const ALLOWED_HEADERS = 'Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, Referer, User-Agent';

export function registerNewKeyClaim(app: FastifyInstance, ctx: SubmissionContext): void {
  const handle = async (request: FastifyRequest, reply: FastifyReply, hashId: string | undefined) => {
    if (request.method === 'OPTIONS') {
      return reply
        .code(200)
        .header('access-control-allow-origin', ctx.settings.corsAllowOrigin)
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .send();
    }
    if (request.method !== 'POST') return unauthorized(reply);
    const portal = authenticatePortal(request.headers.authorization, ctx.settings);
    if (portal === undefined) return unauthorized(reply);
    const { originator, region } = portal;

    let result;
    try {
      result = await issueOneTimeCode(
        ctx.pool,
        ctx.settings,
        { originator, region, hashId, nowMs: ctx.clock.now() },
        generateOneTimeCode,
        generateBoxKeypair,
      );
    } catch (err) {
      request.log.error(errorFields(err), 'issuing a one-time code failed');
      return sendText(reply, 500, 'server error');
    }
    if (!result.ok) return sendText(reply, 403, 'forbidden');
    ctx.telemetry.metrics.codeIssued(originator, region, result.regenerated);
    return reply
      .code(200)
      .header('content-type', 'text/plain; charset=utf-8')
      .header('access-control-allow-origin', ctx.settings.corsAllowOrigin)
      .send(result.code + '\n');
  };

  app.all('/new-key-claim', (request, reply) => handle(request, reply, undefined));
  app.all<{ Params: { hashID: string } }>('/new-key-claim/:hashID', (request, reply) => {
    const { hashID } = request.params;
    return HASH_ID.test(hashID) ? handle(request, reply, hashID) : notFound(reply);
  });
}
