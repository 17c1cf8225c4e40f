// The whole Exposure Notification loop against real servers: phones meet (population),
// some test positive and upload their keys as the app does (positive-phones), every phone
// downloads and checks the signed key files (download) and matches what it heard
// (matching). The result is held against who really met whom.
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../protocol/retention.js';
import { dateNumber } from '../protocol/time.js';
import { downloadAll } from './download.js';
import { shouldNotify, type ExposureConfiguration } from './exposure-risk.js';
import { compareMatches, expectedMatches, exposuresOf, identifierTable } from './matching.js';
import { simulateContacts } from './population.js';
import { PositivePhone, uploadDayByDay } from './positive-phones.js';
import { Random } from './random.js';
import type { Servers } from './servers.js';

export type { Servers } from './servers.js';
export { compareMatches } from './matching.js';

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
  /** The regions phones were spread over. */
  regions: string[];
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

/**
 * When phones download. From in-process servers: once the last day's keys may be public,
 * that is past the next midnight (when they stop being broadcast) plus the embargo, once
 * that hour has passed and its batch been sealed; the servers' clock moves there. From
 * remote servers: now (with batched release there, keys still under embargo are missing).
 */
async function downloadTime(servers: Servers, lastDayMs: number): Promise<number> {
  if (!servers.setTime) return Date.now();
  const embargoHours = Math.ceil((servers.embargoMinutes ?? 0) / 60);
  const at = (dateNumber(lastDayMs) + 1) * DAY_MS + (embargoHours + 1) * HOUR_MS + 5 * MINUTE_MS;
  servers.setTime(at);
  await servers.runChores?.();
  return at;
}

export async function simulate(settings: SimulationSettings, servers: Servers, progress: Progress = () => {}): Promise<SimulationSummary> {
  const started = performance.now();
  const now = Date.now();
  const random = new Random(settings.seed);

  progress('meeting', 0, 1);
  const { phones, meetings } = simulateContacts(
    { phones: settings.phones, days: settings.days, contactsPerDay: settings.contactsPerDay, lastDay: dateNumber(now) },
    random,
  );
  progress('meeting', 1, 1);

  // Who tests positive, and on which day (in the second half, so there is history).
  const positiveCount = Math.min(phones.length, Math.max(settings.positiveShare > 0 ? 1 : 0, Math.round(settings.positiveShare * phones.length)));
  const chosen = new Set<number>();
  while (chosen.size < positiveCount) chosen.add(random.int(0, phones.length - 1));
  const regions = servers.regions ?? [{ mcc: servers.region ?? '302', portalToken: servers.portalToken }];
  const regionOf = (phoneId: number) => regions[phoneId % regions.length]!;
  const positives = [...chosen].map(
    (id) => new PositivePhone(phones[id]!, random.int(Math.floor(settings.days / 2), settings.days - 1), regionOf(id).portalToken),
  );
  await uploadDayByDay(positives, settings.days, servers, now, (d) => progress('uploading', d + 1, settings.days));
  const downloadAt = await downloadTime(servers, now);
  const today = dateNumber(downloadAt);

  const configuration = (await (await fetch(`${servers.retrievalUrl}/exposure-configuration/CA.json`)).json()) as ExposureConfiguration;
  let downloaded = 0;
  const downloads = await downloadAll(
    phones,
    servers,
    downloadAt,
    (id) => regionOf(id).mcc,
    () => progress('downloading', ++downloaded, phones.length),
  );

  // Every phone that downloaded the same files derives the same identifiers: once per set.
  const tables = new Map([...downloads.keysOf].map(([fileSet, keys]) => [fileSet, identifierTable(keys)]));
  const matched = new Set<string>();
  let phonesMatched = 0;
  let notified = 0;
  for (const phone of phones) {
    const exposures = exposuresOf(phone, tables.get(downloads.fileSetOf.get(phone.id)!)!, today);
    for (const key of exposures.keys()) matched.add(`${phone.id}:${key}`);
    if (exposures.size > 0) phonesMatched++;
    if (shouldNotify(configuration, [...exposures.values()])) notified++;
  }

  return {
    phones: phones.length,
    regions: regions.map((r) => r.mcc),
    meetings: meetings.length / 2,
    positives: positives.length,
    keysPublished: positives.reduce((n, p) => n + p.published.length, 0),
    exposuresMatched: matched.size,
    phonesMatched,
    peopleNotified: notified,
    bytesDownloadedPerPhone: Math.round(downloads.bytes / phones.length),
    problems: [
      ...downloads.problems,
      ...compareMatches(
        expectedMatches(meetings, positives, today, (a, b) => regionOf(a) === regionOf(b)),
        matched,
      ),
    ],
    seconds: (performance.now() - started) / 1000,
  };
}
