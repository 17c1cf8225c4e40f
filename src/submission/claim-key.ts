// /claim-key (protocol §4.2): the app redeems the patient's one-time code for the server's
// public key. Every answer, errors included, is a KeyClaimResponse: the app decodes the
// body before it looks at the status.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { clientIdentifier, codeFingerprint } from '../crypto/secrets.js';
import { KEY_BYTES } from '../crypto/box.js';
import { ClientGone, readBody } from '../http/body.js';
import { trustedProxyMatcher } from '../network/trusted-proxies.js';
import { sendProtobuf } from '../http/responses.js';
import { claimStanding, clientAddress, type BanRules } from '../protocol/claim-ban.js';
import { ClaimError, encodeClaimResponse, KeyClaimRequest, tryDecode, type ClaimResponseFields } from '../protocol/messages.js';
import { couldBeOneTimeCode, normaliseOneTimeCode } from '../protocol/one-time-code.js';
import { claimReplaysAfter } from '../protocol/retention.js';
import { isChaff, type Chaff } from './chaff.js';
import type { SubmissionContext } from './context.js';
import { chargeClaimAttempt, claimOneTimeCode, readClaimFailures, refundClaimAttempt, registeredAppKey } from './store.js';
import { errorFields } from '../logger.js';

export const MAX_CLAIM_BODY_BYTES = 256;

export function registerClaimKey(
  app: FastifyInstance,
  ctx: SubmissionContext,
  keys: { clientId: Uint8Array; claimedCode: Uint8Array },
  chaff: Chaff | undefined,
): void {
  const replays = ctx.settings.claimReplayMinutes > 0;
  const ban: BanRules = { maxFailures: ctx.settings.maxConsecutiveClaimKeyFailures, banMs: ctx.settings.claimKeyBanDurationMs };

  const isTrustedProxy = trustedProxyMatcher(ctx.settings.trustedProxies);

  app.all('/claim-key', async (request, reply) => {
    const answer = (status: number, fields: ClaimResponseFields) => sendProtobuf(reply, status, encodeClaimResponse(fields));
    const address = clientAddress(
      request.headers['x-forwarded-for'] as string | undefined,
      request.socket.remoteAddress ?? '',
      ctx.settings.trustedProxyHops,
      isTrustedProxy,
    );
    const clientId = clientIdentifier(address, keys.clientId);
    let triesRemaining = ban.maxFailures;
    /** Whether this attempt is charged and not yet settled as a failure or a success. */
    let charged = false;
    const refund = async () => {
      if (!charged) return;
      charged = false;
      await refundClaimAttempt(ctx.pool, clientId);
    };
    try {
      // Chaff touches nothing: no ban check, no code, no counter; a 200 like a real claim's.
      if (chaff && isChaff(request)) {
        const lookalike = encodeClaimResponse({ serverPublicKey: randomBytes(KEY_BYTES), triesRemaining: ban.maxFailures });
        return await chaff.answer(request, reply, '/claim-key', MAX_CLAIM_BODY_BYTES, lookalike);
      }
      // 1. The ban is checked before a byte of the body is read.
      const before = claimStanding(await readClaimFailures(ctx.pool, clientId), ctx.clock.now(), ban);
      triesRemaining = before.triesRemaining;
      if (before.banned) {
        ctx.telemetry.metrics.claimRefusedBanned();
        return answer(429, { error: ClaimError.TEMPORARY_BAN, triesRemaining: 0, remainingBanMs: before.remainingBanMs });
      }

      // 2. Size, then shape.
      const body = await readBody(request, reply, MAX_CLAIM_BODY_BYTES);
      const claim = body && tryDecode(KeyClaimRequest, body);
      if (!claim) return answer(400, { error: ClaimError.UNKNOWN, triesRemaining });

      // 3–5. The code as typed, then the app key: malformed costs nothing, reused is refused.
      const code = normaliseOneTimeCode(claim.oneTimeCode);
      const appPublicKey = claim.appPublicKey;
      if (appPublicKey.length !== KEY_BYTES) return answer(400, { error: ClaimError.INVALID_KEY, triesRemaining });
      // A key that is registered already may be this claim repeated (its answer lost on the
      // way to the phone): the same answer again, counting nothing. Anything else: 401.
      const codeHash = replays ? codeFingerprint(code, keys.claimedCode) : undefined;
      const registered = await registeredAppKey(ctx.pool, appPublicKey, codeHash, claimReplaysAfter(ctx.clock.now(), ctx.settings));
      if (registered?.replayOf) {
        ctx.telemetry.metrics.claimReplayed();
        return answer(200, { serverPublicKey: registered.replayOf, triesRemaining: ban.maxFailures });
      }
      if (registered) return answer(401, { error: ClaimError.INVALID_KEY, triesRemaining });

      // 6. The attempt is charged before any code is looked at: a burst of claims sent at
      // once cannot all slip in under a counter read before any of them failed.
      const nowMs = ctx.clock.now();
      const charge = await chargeClaimAttempt(ctx.pool, clientId, nowMs, ban);
      // Should this attempt fail, the client stands thus.
      const ifFailed = claimStanding(charge.counter, nowMs, ban);
      if (!charge.charged) {
        ctx.telemetry.metrics.claimRefusedBanned();
        return answer(429, { error: ClaimError.TEMPORARY_BAN, triesRemaining: 0, remainingBanMs: ifFailed.remainingBanMs });
      }
      charged = true;
      const wrongCode = () => {
        charged = false;
        ctx.telemetry.metrics.claimFailed(ifFailed.banned);
        return answer(401, {
          error: ClaimError.INVALID_ONE_TIME_CODE,
          triesRemaining: ifFailed.triesRemaining,
          remainingBanMs: ifFailed.remainingBanMs,
        });
      };
      if (!couldBeOneTimeCode(code)) return wrongCode();

      // 7. Redeem (which clears the client's counter), or the charge stands as a failure.
      const claimed = await claimOneTimeCode(ctx.pool, ctx.settings, { code, appPublicKey, clientId, nowMs, codeHash });
      if (claimed.ok) {
        charged = false;
        ctx.telemetry.metrics.codeClaimed(claimed.originator, claimed.region);
        return answer(200, { serverPublicKey: claimed.serverPublicKey, triesRemaining: ban.maxFailures });
      }
      if (claimed.reason === 'app-key-registered') {
        // Another claim with this app key won a race (step 5): no failure of the code.
        await refund();
        return answer(401, { error: ClaimError.INVALID_KEY, triesRemaining });
      }
      return wrongCode();
    } catch (err) {
      // Nobody to answer (the body is read before any charge): counted as abandoned.
      if (err instanceof ClientGone) return reply.hijack();
      // 8. A database failure is no failed guess.
      request.log.error(errorFields(err), 'claim-key failed');
      await refund().catch(() => {});
      return answer(500, { error: ClaimError.SERVER_ERROR, triesRemaining });
    }
  });
}
