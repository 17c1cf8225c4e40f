// GET /retrieve/{region}/{day}/{hmac} (protocol §5.1): the signed key file of a day, or of
// the 00000 bundle, for phones behind a CDN. Auth first, then method, then the day rules.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { buildExport } from '../exports/build.js';
import { cachedExport, ExportCache, type CachedExport } from '../exports/cache.js';
import { notFound, notModified, sendText, unauthorized } from '../http/responses.js';
import { hmacMatches, keyWindow, retrieveHmac, type KeyWindow } from '../protocol/retrieve.js';
import { signingKeysAt } from '../protocol/signing-keys.js';
import type { RetrievalContext, RetrievalSigningKey, ServedRegion } from './context.js';
import { FreshReads } from './fresh-reads.js';
import { windowVersion, withWindowKeys } from './store.js';
import { errorFields } from '../logger.js';

const CACHE_CONTROL = 'public, max-age=3600, max-stale=600';

export function registerRetrieve(app: FastifyInstance, ctx: RetrievalContext): void {
  const hmacKey = ctx.settings.retrieveHmacKey;
  // The HMAC a URL must carry depends only on region, day and hour: each is computed once
  // (a few dozen live at a time), not on every request. Compared in constant time as ever.
  const expectedMacs = new Map<string, Buffer>();
  const expectedMac = (region: string, day: string, hour: number) => {
    const key = `${region}:${day}:${hour}`;
    let mac = expectedMacs.get(key);
    if (!mac) {
      if (expectedMacs.size >= 4096) expectedMacs.clear();
      mac = retrieveHmac(hmacKey, region, day, hour);
      expectedMacs.set(key, mac);
    }
    return mac;
  };
  const versions = new FreshReads<string>();
  const signedBy = (keys: readonly RetrievalSigningKey[]) =>
    keys.map((k) => `${k.signatureInfo.verificationKeyId}/${k.signatureInfo.verificationKeyVersion}`).join(',');

  const cacheKey = (region: ServedRegion, window: KeyWindow, version: string, signers: readonly RetrievalSigningKey[]) =>
    ExportCache.key([
      ctx.settings.keyRelease,
      region.mcc,
      window.firstHour,
      window.endHour,
      window.minRollingStartIntervalExclusive,
      version,
      signedBy(signers),
    ]);

  /** A cache miss: read the keys and version in one snapshot, build, remember under that version. */
  const build = (region: ServedRegion, window: KeyWindow, signers: readonly RetrievalSigningKey[]): Promise<CachedExport> =>
    withWindowKeys(ctx.pool, region.mcc, window, ctx.settings.keyRelease, async ({ version, batches }) => {
      const started = performance.now();
      const built = await buildExport(
        { startTimestamp: window.startTimestamp, endTimestamp: window.endTimestamp, region: region.exportRegion },
        signers,
        batches,
      );
      const entry = cachedExport(built.zip, built.keyCount);
      ctx.cache.set(cacheKey(region, window, version, signers), entry);
      const ms = performance.now() - started;
      ctx.telemetry.metrics.exportBuilt(ms / 1000, built.keyCount, built.zip.length);
      ctx.log.info({ keys: built.keyCount, bytes: built.zip.length, ms: Math.round(ms) }, 'built export');
      return entry;
    });

  const handle = async (request: FastifyRequest<{ Params: { region: string; day: string; '*': string } }>, reply: FastifyReply) => {
    const { region: mcc, day, '*': hmac } = request.params;
    if (!/^\d{3}$/.test(mcc) || !/^\d{5}$/.test(day)) return notFound(reply);
    const nowMs = ctx.clock.now();
    // Auth first, over the MCC asked for: one region's HMAC opens no other.
    if (!hmacMatches(hmac, (hour) => expectedMac(mcc, day, hour), nowMs)) return unauthorized(reply);
    if (request.method !== 'GET') return sendText(reply, 405, 'method not allowed');
    const region = ctx.regions.get(mcc);
    if (!region) return sendText(reply, 404, 'region not served');
    const decision = keyWindow(day, nowMs, ctx.settings);
    if (!decision.ok) return sendText(reply, decision.status, decision.message);

    // Every key valid at the start of this hour signs; with none, no file can be trusted.
    const signers = signingKeysAt(region.signingKeys, nowMs);
    if (signers.length === 0) {
      request.log.error('no signing key is valid now: check the notBefore and notAfter of SIGNING_KEYS_FILE');
      return sendText(reply, 500, 'server error');
    }
    let file: CachedExport;
    try {
      const { window } = decision;
      const version = await versions.read(`${window.firstHour}:${window.endHour}`, () => windowVersion(ctx.pool, window));
      const key = cacheKey(region, window, version, signers);
      file = await ctx.cache.getOrBuild(key, () => build(region, window, signers));
    } catch (err) {
      request.log.error(errorFields(err), 'retrieve failed');
      return sendText(reply, 500, 'database error');
    }
    reply.header('cache-control', CACHE_CONTROL).header('etag', file.etag);
    if (notModified(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
    return reply.code(200).header('content-type', 'application/zip').send(file.zip);
  };

  // Every method reaches the handler, HEAD included, so the HMAC is checked before any 405.
  app.all('/retrieve/:region/:day/*', handle);
}
