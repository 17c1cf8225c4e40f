// The key-submission server: the routes of protocol §4 on the shared HTTP base.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isUnmeasured } from '../http/responses.js';
import { createHttpServer } from '../http/server.js';
import { Chaff } from './chaff.js';
import { registerClaimKey } from './claim-key.js';
import { registerClearDiagnosisKeys } from './clear-diagnosis-keys.js';
import type { SubmissionContext } from './context.js';
import { registerNewKeyClaim } from './new-key-claim.js';
import { registerUpload } from './upload.js';

/**
 * A key for hashing what the database must recognise but never hold: client addresses for
 * the ban counter, claimed codes for claim replays. Every replica derives the same one from
 * the portal tokens they share, so a ban holds across replicas, and nobody with only the
 * database can reverse the stored hashes (a code has few enough values to try them all).
 */
function hashKey(ctx: SubmissionContext, purpose: 'claim-key-client/v1' | 'claim-replay/v1'): Buffer {
  const tokens = ctx.settings.claimTokens.map((t) => t.token).sort();
  return createHash('sha256').update(`diagnosis-server/${purpose}\0`).update(tokens.join('\0')).digest();
}

export function buildSubmissionServer(ctx: SubmissionContext): FastifyInstance {
  const app = createHttpServer(ctx.service, ctx.log, ctx.telemetry, ctx.ready);
  registerNewKeyClaim(app, ctx);
  const chaff = ctx.settings.acceptChaff ? new Chaff(ctx.telemetry.metrics) : undefined;
  if (chaff) {
    // Chaff answers are timed like the real requests of their route.
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url;
      if ((route === '/claim-key' || route === '/upload') && !isUnmeasured(request)) chaff.record(route, reply.elapsedTime);
      done();
    });
  }
  registerClaimKey(app, ctx, { clientId: hashKey(ctx, 'claim-key-client/v1'), claimedCode: hashKey(ctx, 'claim-replay/v1') }, chaff);
  registerUpload(app, ctx, chaff);
  if (ctx.settings.enableTestTools) registerClearDiagnosisKeys(app, ctx);
  return app;
}
