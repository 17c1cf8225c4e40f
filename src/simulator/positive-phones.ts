// The phones that test positive, on the app's path: the portal's code, the claim, then
// their uploads, day by day, as the app makes them.
import { Phone as AppClient, sendUpload } from '../clients/app.js';
import { inParallel } from '../clients/in-parallel.js';
import { issueCode } from '../clients/portal.js';
import { UploadError } from '../protocol/messages.js';
import { DAY_MS, HOUR_MS } from '../protocol/retention.js';
import type { Phone, TemporaryExposureKey } from './population.js';
import type { Servers } from './servers.js';

/** The app uploads at most this many keys at once, newest first. */
const MAX_KEYS_PER_UPLOAD = 28;
/** Keys of the 14 days before a positive test, and the day itself. */
const KEYS_BEFORE_TEST = 14;

export class PositivePhone {
  private readonly app = new AppClient();
  /** The keys the server accepted: what phones should find in the files. */
  readonly published: TemporaryExposureKey[] = [];
  quotaLeft = true;

  constructor(
    readonly phone: Phone,
    /** Index of the simulated day of the positive test. */
    readonly testDay: number,
    /** The portal of the phone's region, which gives it its code. */
    readonly portalToken: string,
  ) {}

  async claim(servers: Servers): Promise<void> {
    const claim = await this.app.claim(servers.submissionUrl, await issueCode(servers.submissionUrl, this.portalToken));
    if (claim.status !== 200) throw new Error(`claim-key answered ${claim.status}`);
  }

  /** Uploads `keys` (newest first), sealed as the app seals them; true when accepted. */
  async upload(servers: Servers, keys: TemporaryExposureKey[], nowMs: number): Promise<boolean> {
    const sealed = this.app.seal(
      keys.map((k) => ({
        keyData: k.keyData,
        rollingStartIntervalNumber: k.rollingStartIntervalNumber,
        rollingPeriod: 144,
        transmissionRiskLevel: 1,
      })),
      Math.floor(nowMs / 1000),
    );
    const result = await sendUpload(servers.submissionUrl, sealed);
    if (result.status === 200 && result.response.error === UploadError.NONE) {
      this.published.push(...keys);
      return true;
    }
    // The quota is spent (or the keypair gone): the app stops uploading.
    this.quotaLeft = false;
    return false;
  }
}

/**
 * The day loop: on its test day a phone claims and uploads the last 14 days' keys, then
 * one key a day while the quota lasts. In-process servers see each upload on its own
 * simulated day (their clock moves), and two hours later their writer runs, as it would
 * have every 30 s: with batched release, that seals the batch holding the day's uploads
 * that are no longer broadcast. Remote servers see every day's upload now.
 */
export async function uploadDayByDay(
  positives: PositivePhone[],
  days: number,
  servers: Servers,
  nowMs: number,
  onDay: (day: number) => void,
): Promise<void> {
  for (let d = 0; d < days; d++) {
    const dayMs = servers.setTime ? nowMs - (days - 1 - d) * DAY_MS : Date.now();
    servers.setTime?.(dayMs);
    await inParallel(positives, 8, async (p) => {
      if (d < p.testDay || !p.quotaLeft) return;
      if (d === p.testDay) {
        await p.claim(servers);
        const keys = p.phone.keys.slice(Math.max(0, d - KEYS_BEFORE_TEST), d + 1).reverse();
        for (let i = 0; i < keys.length; i += MAX_KEYS_PER_UPLOAD) await p.upload(servers, keys.slice(i, i + MAX_KEYS_PER_UPLOAD), dayMs);
      } else {
        await p.upload(servers, [p.phone.keys[d]!], dayMs);
      }
    });
    if (servers.setTime && servers.runChores) {
      servers.setTime(dayMs + 2 * HOUR_MS);
      await servers.runChores();
    }
    onDay(d);
  }
  servers.setTime?.(nowMs);
}
