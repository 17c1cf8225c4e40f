// The whole Exposure Notification loop against real servers: phones meet, some test
// positive and upload their keys as the app does, every phone downloads the signed key
// files, checks them, and matches what it heard. The result is checked against who
// really met whom.
import { createHash, type KeyObject } from 'node:crypto';
import JSZip from 'jszip';
import nacl from 'tweetnacl';
import { covidshield } from '../../generated/covidshield.js';
import { verifyExport } from '../exports/verify.js';
import { EncryptedUploadRequest, EncryptedUploadResponse, KeyClaimRequest, KeyClaimResponse, Upload, UploadError } from '../protocol/messages.js';
import { retrieveHmac } from '../protocol/retrieve.js';
import { dateNumber, hourNumber } from '../protocol/time.js';
import { rollingProximityIdentifierKey, rollingProximityIdentifiers } from './en-crypto.js';
import { shouldNotify, type Exposure, type ExposureConfiguration } from './exposure-risk.js';
import { simulateContacts, type DailyKey, type Phone } from './population.js';
import { Random } from './random.js';

const DAY = 86_400_000;
/** The app uploads at most this many keys at once, newest first. */
const MAX_KEYS_PER_UPLOAD = 28;
/** Keys of the 14 days before a positive test, and the day itself. */
const KEYS_BEFORE_TEST = 14;
const DAYS_DOWNLOADED = 14;
const CONCURRENCY = 32;

export interface Servers {
  submissionUrl: string;
  retrievalUrl: string;
  /** A health portal's bearer token. */
  portalToken: string;
  hmacKey: Buffer;
  /** The key files' verification key. */
  publicKey: KeyObject;
  region?: string;
  /** Moves the servers' clock, when they run in this process; undefined for remote servers. */
  setTime?: (ms: number) => void;
}

export interface SimulationSettings {
  phones: number;
  days: number;
  contactsPerDay: number;
  /** Share of phones that test positive. */
  positiveShare: number;
  seed: number;
}

export interface SimulationSummary {
  phones: number;
  meetings: number;
  positives: number;
  keysPublished: number;
  exposuresMatched: number;
  phonesMatched: number;
  peopleNotified: number;
  bytesDownloadedPerPhone: number;
  /** What went wrong; empty when every match is the one expected. */
  problems: string[];
  seconds: number;
}

export type Progress = (stage: string, done: number, total: number) => void;

async function inParallel<T>(items: T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index]!, index);
      }
    }),
  );
}

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Buffer }> {
  const response = await fetch(url, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': 'application/x-protobuf', ...headers } });
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** A positive phone on the app's path: the portal's code, the claim, then its uploads. */
class DiagnosedPhone {
  private readonly keypair = nacl.box.keyPair();
  private serverPublicKey: Uint8Array | undefined;
  readonly published: DailyKey[] = [];
  quotaLeft = true;

  constructor(
    readonly phone: Phone,
    readonly testDay: number,
  ) {}

  async claim(servers: Servers): Promise<void> {
    const issued = await fetch(`${servers.submissionUrl}/new-key-claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${servers.portalToken}` },
    });
    if (issued.status !== 200) throw new Error(`new-key-claim answered ${issued.status}`);
    const code = (await issued.text()).trim();
    const claim = await post(
      `${servers.submissionUrl}/claim-key`,
      KeyClaimRequest.encode({ oneTimeCode: code, appPublicKey: this.keypair.publicKey }).finish(),
    );
    if (claim.status !== 200) throw new Error(`claim-key answered ${claim.status}`);
    this.serverPublicKey = KeyClaimResponse.decode(claim.bytes).serverPublicKey;
  }

  /** Uploads `keys` (newest first), sealed as the app seals them; true when accepted. */
  async upload(servers: Servers, keys: DailyKey[], nowMs: number): Promise<boolean> {
    const upload = Upload.encode({
      timestamp: { seconds: Math.floor(nowMs / 1000) },
      keys: keys.map((k) => ({
        keyData: k.keyData,
        rollingStartIntervalNumber: k.rollingStartIntervalNumber,
        rollingPeriod: 144,
        transmissionRiskLevel: 1,
      })),
    }).finish();
    const nonce = nacl.randomBytes(24);
    const payload = nacl.box(upload, nonce, this.serverPublicKey!, this.keypair.secretKey);
    const body = EncryptedUploadRequest.encode({
      serverPublicKey: this.serverPublicKey,
      appPublicKey: this.keypair.publicKey,
      nonce,
      payload,
    }).finish();
    const result = await post(`${servers.submissionUrl}/upload`, body);
    const error = EncryptedUploadResponse.decode(result.bytes).error;
    if (result.status === 200 && error === UploadError.NONE) {
      this.published.push(...keys);
      return true;
    }
    // The quota is spent (or the keypair gone): the app stops uploading.
    this.quotaLeft = false;
    return false;
  }
}

type PublishedKey = covidshield.TemporaryExposureKey.$Properties;

interface DownloadedFile {
  keys: PublishedKey[];
}

/**
 * Reads and checks one downloaded key file. Phones download byte-identical files, so a
 * file is parsed and verified once per distinct content and remembered by its hash; a
 * phone that received other bytes gets them checked on their own.
 */
function fileReader(publicKey: KeyObject) {
  const seen = new Map<string, Promise<DownloadedFile>>();
  return (bytes: Buffer): Promise<DownloadedFile> => {
    const hash = createHash('sha256').update(bytes).digest('hex');
    const known = seen.get(hash);
    if (known) return known;
    const file = (async () => {
      const report = await verifyExport(bytes, publicKey);
      if (!report.ok) throw new Error(`key file rejected: ${report.problems.join('; ')}`);
      const archive = await JSZip.loadAsync(bytes);
      const bin = Buffer.from(await archive.file('export.bin')!.async('uint8array'));
      return { keys: covidshield.TemporaryExposureKeyExport.decode(bin.subarray(16)).keys };
    })();
    seen.set(hash, file);
    return file;
  };
}

interface Match {
  key: string;
  day: number;
  transmissionRiskLevel: number;
}

/** Identifier (hex) → the published key it derives from, for a set of published keys. */
function identifierTable(keys: PublishedKey[]): Map<string, Match> {
  const table = new Map<string, Match>();
  for (const key of keys) {
    const start = key.rollingStartIntervalNumber ?? 0;
    const match = {
      key: Buffer.from(key.keyData!).toString('hex'),
      day: Math.floor(start / 144),
      transmissionRiskLevel: key.transmissionRiskLevel ?? 0,
    };
    for (const rpi of rollingProximityIdentifiers(rollingProximityIdentifierKey(key.keyData!), start, key.rollingPeriod ?? 144)) {
      table.set(rpi.toString('hex'), match);
    }
  }
  return table;
}

/** Expected against found "phone:key" matches: what is missing and what nobody caused. */
export function compareMatches(expected: Set<string>, matched: Set<string>): string[] {
  const missing = [...expected].filter((m) => !matched.has(m));
  const unexpected = [...matched].filter((m) => !expected.has(m));
  const problems: string[] = [];
  if (missing.length) problems.push(`${missing.length} expected matches not found (first: phone:key ${missing[0]})`);
  if (unexpected.length) problems.push(`${unexpected.length} matches nobody caused (first: phone:key ${unexpected[0]})`);
  return problems;
}

export async function simulate(settings: SimulationSettings, servers: Servers, progress: Progress = () => {}): Promise<SimulationSummary> {
  const started = performance.now();
  const now = Date.now();
  const today = dateNumber(now);
  const random = new Random(settings.seed);
  const region = servers.region ?? '302';
  const problems: string[] = [];

  progress('meeting', 0, 1);
  const { phones, meetings } = simulateContacts(
    { phones: settings.phones, days: settings.days, contactsPerDay: settings.contactsPerDay, lastDay: today },
    random,
  );
  progress('meeting', 1, 1);

  // Who tests positive, and on which day (in the second half, so there is history).
  const positiveCount = Math.min(phones.length, Math.max(settings.positiveShare > 0 ? 1 : 0, Math.round(settings.positiveShare * phones.length)));
  const chosen = new Set<number>();
  while (chosen.size < positiveCount) chosen.add(random.int(0, phones.length - 1));
  const diagnosed = [...chosen].map((id) => new DiagnosedPhone(phones[id]!, random.int(Math.floor(settings.days / 2), settings.days - 1)));

  // Day by day: a positive test claims and uploads the last 14 days' keys, then one key a
  // day while the quota lasts. On remote servers every day's upload happens now.
  for (let d = 0; d < settings.days; d++) {
    const dayMs = servers.setTime ? now - (settings.days - 1 - d) * DAY : Date.now();
    servers.setTime?.(dayMs);
    await inParallel(diagnosed, 8, async (p) => {
      if (d < p.testDay || !p.quotaLeft) return;
      if (d === p.testDay) {
        await p.claim(servers);
        const keys = p.phone.keys.slice(Math.max(0, d - KEYS_BEFORE_TEST), d + 1).reverse();
        for (let i = 0; i < keys.length; i += MAX_KEYS_PER_UPLOAD) await p.upload(servers, keys.slice(i, i + MAX_KEYS_PER_UPLOAD), dayMs);
      } else {
        await p.upload(servers, [p.phone.keys[d]!], dayMs);
      }
    });
    progress('uploading', d + 1, settings.days);
  }
  servers.setTime?.(now);

  const configuration = (await (await fetch(`${servers.retrievalUrl}/exposure-configuration/CA.json`)).json()) as ExposureConfiguration;

  // Every phone downloads the bundle (its first run) and the last 14 days and today.
  const days = ['00000', ...Array.from({ length: DAYS_DOWNLOADED + 1 }, (_, i) => String(today - DAYS_DOWNLOADED + i))];
  const read = fileReader(servers.publicKey);
  const tables = new Map<string, Map<string, Match>>();
  const matched = new Set<string>();
  let bytesDownloaded = 0;
  let notified = 0;
  let phonesMatched = 0;
  let downloadsDone = 0;
  await inParallel(phones, CONCURRENCY, async (phone) => {
    const files: DownloadedFile[] = [];
    const hashes: string[] = [];
    for (const day of days) {
      const hmac = retrieveHmac(servers.hmacKey, region, day, hourNumber(Date.now())).toString('hex');
      const response = await fetch(`${servers.retrievalUrl}/retrieve/${region}/${day}/${hmac}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      if (response.status !== 200) {
        problems.push(`phone ${phone.id}: /retrieve/${region}/${day} answered ${response.status}`);
        continue;
      }
      bytesDownloaded += bytes.length;
      hashes.push(createHash('sha256').update(bytes).digest('hex'));
      files.push(await read(bytes).catch((err: Error) => (problems.push(`phone ${phone.id}: ${err.message}`), { keys: [] })));
    }
    // Every phone that downloaded the same files derives the same identifiers: once is enough.
    const fileSet = hashes.join(',');
    let table = tables.get(fileSet);
    if (!table) tables.set(fileSet, (table = identifierTable(files.flatMap((f) => f.keys))));

    const exposures = new Map<string, Exposure>();
    for (const [rpi, attenuations] of phone.heard) {
      const match = table.get(rpi);
      if (!match) continue;
      const exposure = exposures.get(match.key) ?? {
        daysSinceExposure: today - match.day,
        transmissionRiskLevel: match.transmissionRiskLevel,
        attenuations: [],
      };
      exposure.attenuations.push(...attenuations);
      exposures.set(match.key, exposure);
    }
    for (const key of exposures.keys()) matched.add(`${phone.id}:${key}`);
    if (exposures.size > 0) phonesMatched++;
    if (shouldNotify(configuration, [...exposures.values()])) notified++;
    progress('downloading', ++downloadsDone, phones.length);
  });

  // What should have matched: every meeting with a positive phone, on a day whose key it
  // published and phones still use (newer than 14 days).
  const expected = new Set<string>();
  const publishedKeys = new Map<number, Map<number, string>>();
  for (const p of diagnosed) publishedKeys.set(p.phone.id, new Map(p.published.map((k) => [k.day, k.keyData.toString('hex')])));
  for (const meeting of meetings) {
    const key = publishedKeys.get(meeting.speaker)?.get(meeting.day);
    if (key && meeting.day > today - DAYS_DOWNLOADED) expected.add(`${meeting.listener}:${key}`);
  }
  problems.push(...compareMatches(expected, matched));

  return {
    phones: phones.length,
    meetings: meetings.length / 2,
    positives: diagnosed.length,
    keysPublished: diagnosed.reduce((n, p) => n + p.published.length, 0),
    exposuresMatched: matched.size,
    phonesMatched,
    peopleNotified: notified,
    bytesDownloadedPerPhone: Math.round(bytesDownloaded / phones.length),
    problems,
    seconds: (performance.now() - started) / 1000,
  };
}
