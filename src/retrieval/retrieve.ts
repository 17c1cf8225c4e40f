// GET /retrieve/{region}/{day}/{hmac} (protocol §5.1): the signed key file of a day, or of
// the 00000 bundle, for phones behind a CDN. Auth first, then method, then the day rules.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { buildExport } from '../exports/build.js';
import { cachedExport, ExportCache, type CachedExport } from '../exports/cache.js';
import { notFound, notModified, sendText, unauthorized } from '../http/responses.js';
import { hmacMatches, keyWindow, retrieveHmac, type KeyWindow, type WindowDecision } from '../protocol/retrieve.js';
import { signingKeysAt } from '../protocol/signing-keys.js';
import { hourNumber } from '../protocol/time.js';
import type { RetrievalContext, RetrievalSigningKey, ServedRegion } from './context.js';
import { FreshReads } from './fresh-reads.js';
import { windowVersion, withWindowKeys } from './store.js';
import { errorFields } from '../logger.js';

const CACHE_CONTROL = 'public, max-age=3600, max-stale=600';

/** Region and day pairs planned at once; past it the plans start over (as does a new hour). */
const MAX_PLANS = 4096;

/**
 * Everything a request for one region and day is judged and answered by in one hour, but
 * the versions of its keys: worked out on the hour's first request, not on every one (on
 * each, it was a tenth of a cached download's CPU).
 */
interface DayPlan {
  hour: number;
  /** The HMAC the URL must carry for an hour, remembered for this hour and its neighbours. */
  expectedMac: (hour: number) => Buffer;
  region: ServedRegion | undefined;
  decision: WindowDecision;
  /** The keys valid at the start of the hour. */
  signers: RetrievalSigningKey[];
  /** The versions of the window's hours, read fresh (FreshReads). */
  readVersion: () => Promise<string>;
  /** The cache key of the file at a version. */
  cacheKey: (version: string) => string;
}

export function registerRetrieve(app: FastifyInstance, ctx: RetrievalContext): void {
  const hmacKey = ctx.settings.retrieveHmacKey;
  const versions = new FreshReads<string>();
  const signedBy = (keys: readonly RetrievalSigningKey[]) =>
    keys.map((k) => `${k.signatureInfo.verificationKeyId}/${k.signatureInfo.verificationKeyVersion}`).join(',');

  const planDay = (mcc: string, day: string, nowMs: number): DayPlan => {
    const hour = hourNumber(nowMs);
    // Compared in constant time as ever (hmacMatches); only their computing is shared.
    const macs = new Map<number, Buffer>();
    const expectedMac = (h: number) => {
      let mac = macs.get(h);
      if (!mac) {
        mac = retrieveHmac(hmacKey, mcc, day, h);
        if (Math.abs(h - hour) <= 1) macs.set(h, mac);
      }
      return mac;
    };
    const region = ctx.regions.get(mcc);
    const decision = keyWindow(day, nowMs, ctx.settings);
    const signers = region ? signingKeysAt(region.signingKeys, nowMs) : [];
    const window = decision.ok ? decision.window : undefined;
    const versionKey = window ? `${window.firstHour}:${window.endHour}` : '';
    const keyPrefix =
      region && window
        ? ExportCache.key([
            ctx.settings.keyRelease,
            region.mcc,
            window.firstHour,
            window.endHour,
            window.minRollingStartIntervalExclusive,
            signedBy(signers),
            '',
          ])
        : '';
    const queryVersion = () => windowVersion(ctx.pool, window!);
    // Requests that shared a read got the same string: its key is made once.
    let last: { version: string; key: string } | undefined;
    return {
      hour,
      expectedMac,
      region,
      decision,
      signers,
      readVersion: () => versions.read(versionKey, queryVersion),
      cacheKey: (version) => {
        if (last?.version !== version) last = { version, key: keyPrefix + version };
        return last.key;
      },
    };
  };
  const plans = new Map<string, DayPlan>();
  const planFor = (mcc: string, day: string, nowMs: number): DayPlan => {
    const key = mcc + day;
    let plan = plans.get(key);
    if (!plan || plan.hour !== hourNumber(nowMs)) {
      if (plans.size >= MAX_PLANS) plans.clear();
      plan = planDay(mcc, day, nowMs);
      plans.set(key, plan);
    }
    return plan;
  };

  /** A cache miss: read the keys and version in one snapshot, build, remember under that version. */
  const build = (plan: DayPlan, region: ServedRegion, window: KeyWindow): Promise<CachedExport> =>
    withWindowKeys(ctx.pool, region.mcc, window, ctx.settings.keyRelease, async ({ version, batches }) => {
      const started = performance.now();
      const built = await buildExport(
        { startTimestamp: window.startTimestamp, endTimestamp: window.endTimestamp, region: region.exportRegion },
        plan.signers,
        batches,
      );
      const entry = cachedExport(built.zip, built.keyCount);
      ctx.cache.set(plan.cacheKey(version), entry);
      const ms = performance.now() - started;
      ctx.telemetry.metrics.exportBuilt(ms / 1000, built.keyCount, built.zip.length);
      ctx.log.info({ keys: built.keyCount, bytes: built.zip.length, ms: Math.round(ms) }, 'built export');
      return entry;
    });

  const handle = async (request: FastifyRequest<{ Params: { region: string; day: string; '*': string } }>, reply: FastifyReply) => {
    const { region: mcc, day, '*': hmac } = request.params;
    if (!/^\d{3}$/.test(mcc) || !/^\d{5}$/.test(day)) return notFound(reply);
    const nowMs = ctx.clock.now();
    const plan = planFor(mcc, day, nowMs);
    // Auth first, over the MCC asked for: one region's HMAC opens no other.
    if (!hmacMatches(hmac, plan.expectedMac, nowMs)) return unauthorized(reply);
    if (request.method !== 'GET') return sendText(reply, 405, 'method not allowed');
    const { region, decision } = plan;
    if (!region) return sendText(reply, 404, 'region not served');
    if (!decision.ok) return sendText(reply, decision.status, decision.message);

    // Every key valid at the start of this hour signs; with none, no file can be trusted.
    if (plan.signers.length === 0) {
      request.log.error('no signing key is valid now: check the notBefore and notAfter of SIGNING_KEYS_FILE');
      return sendText(reply, 500, 'server error');
    }
    let file: CachedExport;
    try {
      const key = plan.cacheKey(await plan.readVersion());
      file = ctx.cache.get(key) ?? (await ctx.cache.getOrBuild(key, () => build(plan, region, decision.window)));
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
