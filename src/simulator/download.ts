// Every phone downloads what the app downloads: the 00000 bundle (its first run), then the
// last 14 days and today, each file verified as the EN framework would.
import { createHash } from 'node:crypto';
import { request } from '../clients/http.js';
import { inParallel } from '../clients/in-parallel.js';
import { retrievePath, verifiedKeyFiles } from '../clients/phone-download.js';
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';
import { DAYS_SERVED } from '../protocol/retrieve.js';
import { dateNumber } from '../protocol/time.js';
import type { Phone } from './population.js';
import type { Servers } from './servers.js';

const CONCURRENCY = 32;

export interface Downloads {
  /** Per phone, a name for the set of files it got: phones with the same set share a name. */
  fileSetOf: Map<number, string>;
  /** The published keys of each file set. */
  keysOf: Map<string, DiagnosisKey[]>;
  bytes: number;
  problems: string[];
}

/** The days a phone asks for: the bundle, then the last 14 days and today. */
export function daysDownloaded(today: number): string[] {
  return ['00000', ...Array.from({ length: DAYS_SERVED + 1 }, (_, i) => String(today - DAYS_SERVED + i))];
}

/**
 * Every phone's downloads of its region's files (`regionOf`, by phone id), at `atMs` on
 * the servers' clock (which runs on while they download).
 */
export async function downloadAll(
  phones: Phone[],
  servers: Servers,
  atMs: number,
  regionOf: (phoneId: number) => string,
  onPhone: () => void,
): Promise<Downloads> {
  const startedAt = Date.now();
  const today = dateNumber(atMs);
  const read = verifiedKeyFiles(servers.publicKey);
  const downloads: Downloads = { fileSetOf: new Map(), keysOf: new Map(), bytes: 0, problems: [] };
  await inParallel(phones, CONCURRENCY, async (phone) => {
    const region = regionOf(phone.id);
    // Phones of two regions never share a file set, even while both sets are empty.
    const hashes: string[] = [region];
    const keys: DiagnosisKey[] = [];
    for (const day of daysDownloaded(today)) {
      const path = retrievePath(servers.hmacKey, region, day, atMs + (Date.now() - startedAt));
      const response = await request(servers.retrievalUrl + path);
      if (response.status !== 200) {
        downloads.problems.push(`phone ${phone.id}: /retrieve/${region}/${day} answered ${response.status}`);
        continue;
      }
      downloads.bytes += response.bytes.length;
      hashes.push(createHash('sha256').update(response.bytes).digest('hex'));
      try {
        const file = await read(response.bytes);
        for (const key of file.exported.keys) {
          keys.push({
            keyData: Buffer.from(key.keyData!),
            rollingStartIntervalNumber: key.rollingStartIntervalNumber ?? 0,
            rollingPeriod: key.rollingPeriod ?? 144,
            transmissionRiskLevel: key.transmissionRiskLevel ?? 0,
          });
        }
      } catch (err) {
        downloads.problems.push(`phone ${phone.id}: ${(err as Error).message}`);
      }
    }
    const fileSet = hashes.join(',');
    downloads.fileSetOf.set(phone.id, fileSet);
    if (!downloads.keysOf.has(fileSet)) downloads.keysOf.set(fileSet, keys);
    onPhone();
  });
  return downloads;
}
