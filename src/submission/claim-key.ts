// /claim-key (protocol §4.2): the app redeems the patient's one-time code for the server's
// public key. Every answer, errors included, is a KeyClaimResponse: the app decodes the
// body before it looks at the status.
import type { FastifyInstance } from 'fastify';
import { clientIdentifier } from '../crypto/secrets.js';
import { KEY_BYTES } from '../crypto/box.js';
import { readBody } from '../http/body.js';
import { sendProtobuf } from '../http/responses.js';
import { claimStanding, clientAddress, type BanRules } from '../protocol/claim-ban.js';
import { ClaimError, encodeClaimResponse, KeyClaimRequest, tryDecode, type ClaimResponseFields } from '../protocol/messages.js';
import { normaliseOneTimeCode } from '../protocol/one-time-code.js';
import type { SubmissionContext } from './context.js';
import { appKeyRegistered, claimOneTimeCode, readClaimFailures, recordClaimFailure } from './store.js';
import { errorFields } from '../logger.js';

export const MAX_CLAIM_BODY_BYTES = 256;

export function registerClaimKey(app: FastifyInstance, ctx: SubmissionContext, clientIdKey: Uint8Array): void {
  const ban: BanRules = { maxFailures: ctx.settings.maxConsecutiveClaimKeyFailures, banMs: ctx.settings.claimKeyBanDurationMs };

  app.all('/claim-key', async (request, reply) => {
    const answer = (status: number, fields: ClaimResponseFields) => sendProtobuf(reply, status, encodeClaimResponse(fields));
    const address = clientAddress(
      request.headers['x-forwarded-for'] as string | undefined,
      request.socket.remoteAddress ?? '',
      ctx.settings.trustedProxyHops,
    );
    const clientId = clientIdentifier(address, clientIdKey);
    let triesRemaining = ban.maxFailures;
    try {
      // 1. The ban is checked before a byte of the body is read.
      const standing = claimStanding(await readClaimFailures(ctx.pool, clientId), ctx.clock.now(), ban);
      triesRemaining = standing.triesRemaining;
      if (standing.banned) {
        ctx.telemetry.metrics.claimRefusedBanned();
        return answer(429, { error: ClaimError.TEMPORARY_BAN, triesRemaining: 0, remainingBanMs: standing.remainingBanMs });
      }

      // 2. Size, then shape.
      const body = await readBody(request, reply, MAX_CLAIM_BODY_BYTES);
      const claim = body && tryDecode(KeyClaimRequest, body);
      if (!claim) return answer(400, { error: ClaimError.UNKNOWN, triesRemaining });

      // 3–5. The code as typed, then the app key: malformed costs nothing, reused is refused.
      const code = normaliseOneTimeCode(claim.oneTimeCode);
      const appPublicKey = claim.appPublicKey;
      if (appPublicKey.length !== KEY_BYTES) return answer(400, { error: ClaimError.INVALID_KEY, triesRemaining });
      if (await appKeyRegistered(ctx.pool, appPublicKey)) return answer(401, { error: ClaimError.INVALID_KEY, triesRemaining });

      // 6–7. Redeem, or count a failure.
      const nowMs = ctx.clock.now();
      const claimed = await claimOneTimeCode(ctx.pool, ctx.settings, { code, appPublicKey, clientId, nowMs });
      if (claimed.ok) {
        ctx.telemetry.metrics.codeClaimed(claimed.originator);
        return answer(200, { serverPublicKey: claimed.serverPublicKey, triesRemaining: ban.maxFailures });
      }
      if (claimed.reason === 'app-key-registered') return answer(401, { error: ClaimError.INVALID_KEY, triesRemaining });
      const after = claimStanding(await recordClaimFailure(ctx.pool, clientId, nowMs, ban.banMs), nowMs, ban);
      ctx.telemetry.metrics.claimFailed(after.banned);
      return answer(401, { error: ClaimError.INVALID_ONE_TIME_CODE, triesRemaining: after.triesRemaining, remainingBanMs: after.remainingBanMs });
    } catch (err) {
      // 8.
      request.log.error(errorFields(err), 'claim-key failed');
      return answer(500, { error: ClaimError.SERVER_ERROR, triesRemaining });
    }
  });
}
