// Matching on the phone, and the truth to hold it against: which published keys a phone
// heard the identifiers of, and which it should have, from who really met whom.
import type { DiagnosisKey } from '../protocol/diagnosis-key.js';
import { DAYS_SERVED } from '../protocol/retrieve.js';
import { INTERVALS_PER_DAY } from '../protocol/time.js';
import { rollingProximityIdentifierKey, rollingProximityIdentifiers } from './en-crypto.js';
import type { Exposure } from './exposure-risk.js';
import type { Meeting, Phone } from './population.js';
import type { PositivePhone } from './positive-phones.js';

interface Match {
  key: string;
  day: number;
  transmissionRiskLevel: number;
}

/** Identifier (hex) → the published key it derives from. */
export function identifierTable(keys: DiagnosisKey[]): Map<string, Match> {
  const table = new Map<string, Match>();
  for (const key of keys) {
    const start = key.rollingStartIntervalNumber;
    const match = { key: key.keyData.toString('hex'), day: Math.floor(start / INTERVALS_PER_DAY), transmissionRiskLevel: key.transmissionRiskLevel };
    for (const rpi of rollingProximityIdentifiers(rollingProximityIdentifierKey(key.keyData), start, key.rollingPeriod)) {
      table.set(rpi.toString('hex'), match);
    }
  }
  return table;
}

/** What a phone matched: per published key (hex), the exposure the risk rules score. */
export function exposuresOf(phone: Phone, table: Map<string, Match>, today: number): Map<string, Exposure> {
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
  return exposures;
}

/**
 * "phone:key" for every meeting with a positive phone on a day whose key it published and
 * phones still use (newer than 14 days), when both phones are of one region (a phone
 * downloads its own region's files only): what must match, and nothing else.
 */
export function expectedMatches(
  meetings: Meeting[],
  positives: PositivePhone[],
  today: number,
  sameRegion: (a: number, b: number) => boolean = () => true,
): Set<string> {
  const published = new Map(positives.map((p) => [p.phone.id, new Map(p.published.map((k) => [k.day, k.keyData.toString('hex')]))]));
  const expected = new Set<string>();
  for (const meeting of meetings) {
    const key = published.get(meeting.speaker)?.get(meeting.day);
    if (key && meeting.day > today - DAYS_SERVED && sameRegion(meeting.speaker, meeting.listener)) expected.add(`${meeting.listener}:${key}`);
  }
  return expected;
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
