// POST /clear-diagnosis-keys (protocol §4.5): a test tool, registered only when
// ENABLE_TEST_TOOLS=true (which configuration refuses in production).
import type { FastifyInstance } from 'fastify';
import { sendText, unauthorized } from '../http/responses.js';
import type { SubmissionContext } from './context.js';
import { authenticatePortal } from './portal-auth.js';
import { deleteAllDiagnosisKeys } from './store.js';
import { errorFields } from '../logger.js';

export function registerClearDiagnosisKeys(app: FastifyInstance, ctx: SubmissionContext): void {
  app.all('/clear-diagnosis-keys', async (request, reply) => {
    if (request.method !== 'POST' || authenticatePortal(request.headers.authorization, ctx.settings) === undefined) {
      return unauthorized(reply);
    }
    try {
      await deleteAllDiagnosisKeys(ctx.pool);
    } catch (err) {
      request.log.error(errorFields(err), 'clearing diagnosis keys failed');
      return sendText(reply, 500, 'server error');
    }
    request.log.warn('diagnosis_keys cleared by the test tool');
    return reply.code(200).header('content-type', 'text/plain; charset=utf-8').send('cleared diagnosis_keys');
  });
}
