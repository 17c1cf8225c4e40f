// /upload (protocol §4.3): the app sends its Temporary Exposure Keys sealed in a NaCl box
// for the server key it claimed. Steps in the protocol's order; the first failure wins.
// Every error body is an EncryptedUploadResponse, and no error ever goes with a 2xx.
import type { FastifyInstance } from 'fastify';
import { KEY_BYTES, NONCE_BYTES, openBox } from '../crypto/box.js';
import { secretsEqual } from '../crypto/secrets.js';
import { ClientGone, readBody } from '../http/body.js';
import { sendProtobuf } from '../http/responses.js';
import { EncryptedUploadRequest, encodeUploadResponse, tryDecode, UploadError } from '../protocol/messages.js';
import { validateUpload, type UploadRule } from '../protocol/upload.js';
import { isChaff, type Chaff } from './chaff.js';
import type { SubmissionContext } from './context.js';
import { uploadGroups } from './upload-groups.js';
import { errorFields } from '../logger.js';

export const MAX_UPLOAD_BODY_BYTES = 1024;

export function registerUpload(app: FastifyInstance, ctx: SubmissionContext, chaff: Chaff | undefined): void {
  const lookalike = encodeUploadResponse(UploadError.NONE);
  const groups = uploadGroups(ctx);
  app.all('/upload', async (request, reply) => {
    const answer = (status: number, error: UploadError, rule: UploadRule = 'protocol') => {
      if (error !== UploadError.NONE) ctx.telemetry.metrics.uploadRejected(UploadError[error], rule);
      return sendProtobuf(reply, status, encodeUploadResponse(error));
    };
    try {
      // Chaff touches nothing: no keypair, no keys, no quota; the 08 00 of a real upload.
      if (chaff && isChaff(request)) return await chaff.answer(request, reply, '/upload', MAX_UPLOAD_BODY_BYTES, lookalike);
      // 1.
      const body = await readBody(request, reply, MAX_UPLOAD_BODY_BYTES);
      const upload = body && tryDecode(EncryptedUploadRequest, body);
      if (!upload) return answer(400, UploadError.UNKNOWN);

      // 2–4.
      const { serverPublicKey, appPublicKey, nonce, payload } = upload;
      if (serverPublicKey.length !== KEY_BYTES) return answer(400, UploadError.INVALID_CRYPTO_PARAMETERS);
      const keypair = await groups.findKeypair(serverPublicKey);
      if (!keypair) return answer(401, UploadError.INVALID_KEYPAIR);
      if (nonce.length !== NONCE_BYTES || appPublicKey.length !== KEY_BYTES) return answer(400, UploadError.INVALID_CRYPTO_PARAMETERS);
      if (!keypair.appPublicKey || !secretsEqual(appPublicKey, keypair.appPublicKey)) return answer(401, UploadError.INVALID_KEYPAIR);

      // 5–10.
      const plaintext = openBox(payload, nonce, appPublicKey, keypair.serverPrivateKey, serverPublicKey);
      if (!plaintext) return answer(400, UploadError.DECRYPTION_FAILED);
      const nowMs = ctx.clock.now();
      const validated = validateUpload(plaintext, nowMs, ctx.settings);
      if (!validated.ok) return answer(400, validated.error, validated.rule);

      // 11–12.
      const stored = await groups.store({ serverPublicKey, keys: validated.keys, nowMs });
      if (stored.stored) {
        ctx.telemetry.metrics.uploadAccepted(stored.region, stored.newKeys, validated.keys.length - stored.newKeys);
        ctx.telemetry.metrics.keysDropped('unservable', validated.unservable);
        return answer(200, UploadError.NONE);
      }
      switch (stored.reason) {
        case 'over-quota':
          return answer(400, UploadError.TOO_MANY_KEYS);
        case 'over-interval-limit':
          return answer(400, UploadError.INVALID_ROLLING_START_INTERVAL_NUMBER, 'start_interval_limit');
        case 'keypair-exhausted':
          return answer(400, UploadError.INVALID_KEYPAIR);
        case 'keypair-gone':
          return answer(401, UploadError.INVALID_KEYPAIR);
      }
    } catch (err) {
      // Nobody to answer: counted by the server as abandoned, no error of anyone's.
      if (err instanceof ClientGone) return reply.hijack();
      request.log.error(errorFields(err), 'upload failed');
      return answer(500, UploadError.SERVER_ERROR);
    }
  });
}
