// POST /clear-diagnosis-keys (protocol §4.5): a test tool, registered only when
// ENABLE_TEST_TOOLS=true (which configuration refuses in production).
import type { FastifyInstance } from 'fastify';
import { sendText, unauthorized } from '../http/responses.js';
import { authenticatePortal, type SubmissionContext } from './context.js';

export function registerClearDiagnosisKeys(app: FastifyInstance, ctx: SubmissionContext): void {
  app.all('/clear-diagnosis-keys', async (request, reply) => {
    if (request.method !== 'POST' || authenticatePortal(request.headers.authorization, ctx.config) === undefined) {
      return unauthorized(reply);
    }
    try {
      await ctx.pool.query('DELETE FROM diagnosis_keys');
    } catch (err) {
      request.log.error({ err: (err as Error).message }, 'clearing diagnosis keys failed');
      return sendText(reply, 500, 'server error');
    }
    request.log.warn('diagnosis_keys cleared by the test tool');
    return reply.code(200).header('content-type', 'text/plain; charset=utf-8').send('cleared diagnosis_keys');
  });
}
