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
import { isChaff, type Chaff } from './chaff.js';
import type { SubmissionContext } from './context.js';
import { claimGroups } from './claim-groups.js';
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
  const groups = claimGroups(ctx);

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
    try {
      // Chaff touches nothing: no ban check, no code, no counter; a 200 like a real claim's.
      if (chaff && isChaff(request)) {
        const lookalike = encodeClaimResponse({ serverPublicKey: randomBytes(KEY_BYTES), triesRemaining: ban.maxFailures });
        return await chaff.answer(request, reply, '/claim-key', MAX_CLAIM_BODY_BYTES, lookalike);
      }
      // 1. The ban is checked before a byte of the body is read.
      const before = claimStanding(await groups.failures(clientId), ctx.clock.now(), ban);
      triesRemaining = before.triesRemaining;
      if (before.banned) {
        ctx.telemetry.metrics.claimRefusedBanned();
        return answer(429, { error: ClaimError.TEMPORARY_BAN, triesRemaining: 0, remainingBanMs: before.remainingBanMs });
      }

      // 2. Size, then shape.
      const body = await readBody(request, reply, MAX_CLAIM_BODY_BYTES);
      const claim = body && tryDecode(KeyClaimRequest, body);
      if (!claim) return answer(400, { error: ClaimError.UNKNOWN, triesRemaining });

      // 3–4. The code as typed, then the app key: malformed costs nothing.
      const code = normaliseOneTimeCode(claim.oneTimeCode);
      const appPublicKey = claim.appPublicKey;
      if (appPublicKey.length !== KEY_BYTES) return answer(400, { error: ClaimError.INVALID_KEY, triesRemaining });

      // 5–7 in one call, one transaction: a registered app key is refused (or, repeating the
      // claim whose answer was lost, answered the same again); then the client's attempts
      // take turns, each seeing the failures charged before it, so a burst sent at once
      // cannot all slip in under one counter read; then the code is redeemed, or a failure
      // is charged. Should the call fail, nothing of it is written: no charge.
      const nowMs = ctx.clock.now();
      const codeHash = replays ? codeFingerprint(code, keys.claimedCode) : undefined;
      const settled = await groups.claim({ clientId, code: couldBeOneTimeCode(code) ? code : undefined, appPublicKey, codeHash, nowMs });
      switch (settled.outcome) {
        case 'claimed':
          ctx.telemetry.metrics.codeClaimed(settled.originator, settled.region);
          return answer(200, { serverPublicKey: settled.serverPublicKey, triesRemaining: ban.maxFailures });
        case 'replayed':
          ctx.telemetry.metrics.claimReplayed();
          return answer(200, { serverPublicKey: settled.serverPublicKey, triesRemaining: ban.maxFailures });
        case 'app-key-registered':
          return answer(401, { error: ClaimError.INVALID_KEY, triesRemaining });
        case 'banned': {
          ctx.telemetry.metrics.claimRefusedBanned();
          const standing = claimStanding(settled.counter, nowMs, ban);
          return answer(429, { error: ClaimError.TEMPORARY_BAN, triesRemaining: 0, remainingBanMs: standing.remainingBanMs });
        }
        case 'no-such-code': {
          const standing = claimStanding(settled.counter, nowMs, ban);
          ctx.telemetry.metrics.claimFailed(standing.banned);
          return answer(401, {
            error: ClaimError.INVALID_ONE_TIME_CODE,
            triesRemaining: standing.triesRemaining,
            remainingBanMs: standing.remainingBanMs,
          });
        }
      }
    } catch (err) {
      // Nobody to answer (the body is read before any charge): counted as abandoned.
      if (err instanceof ClientGone) return reply.hijack();
      // 8. A database failure is no failed guess.
      request.log.error(errorFields(err), 'claim-key failed');
      return answer(500, { error: ClaimError.SERVER_ERROR, triesRemaining });
    }
  });
}
