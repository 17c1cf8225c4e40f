// Simulated phones and who met whom: every phone broadcasts the identifiers of its daily
// Temporary Exposure Key, and records the identifiers it hears with time and attenuation.
import { randomBytes } from 'node:crypto';
import { INTERVALS_PER_DAY } from '../protocol/time.js';
import { rollingProximityIdentifierKey, rollingProximityIdentifiers } from './en-crypto.js';
import type { Random } from './random.js';

/** A phone's own daily key: what it broadcasts identifiers of, and uploads when diagnosed. */
export interface TemporaryExposureKey {
  keyData: Buffer;
  /** Absolute UTC day number the key covers. */
  day: number;
  rollingStartIntervalNumber: number;
}

export interface Phone {
  id: number;
  /** One key per simulated day, oldest first. */
  keys: TemporaryExposureKey[];
  /** Heard identifiers (hex) → the attenuation of each interval heard. */
  heard: Map<string, number[]>;
}

export interface Meeting {
  /** The phone whose identifiers were heard, and the one that heard them. */
  speaker: number;
  listener: number;
  day: number;
}

export interface PopulationSettings {
  phones: number;
  days: number;
  contactsPerDay: number;
  /** Absolute day number of the last simulated day (today). */
  lastDay: number;
}

export interface Population {
  phones: Phone[];
  meetings: Meeting[];
}

/**
 * Builds the phones and their meetings. Each day every phone starts `contactsPerDay`
 * meetings with others chosen at random, 10 to 60 minutes long at a steady distance
 * (attenuation 35–80 dB, a little noise per interval); both sides hear each other.
 */
export function simulateContacts(settings: PopulationSettings, random: Random): Population {
  const firstDay = settings.lastDay - settings.days + 1;
  const phones: Phone[] = Array.from({ length: settings.phones }, (_, id) => ({
    id,
    keys: Array.from({ length: settings.days }, (_, d) => ({
      keyData: randomBytes(16),
      day: firstDay + d,
      rollingStartIntervalNumber: (firstDay + d) * INTERVALS_PER_DAY,
    })),
    heard: new Map(),
  }));
  // The identifiers each key broadcasts, derived once per key.
  const identifiers = phones.map((phone) =>
    phone.keys.map((key) => rollingProximityIdentifiers(rollingProximityIdentifierKey(key.keyData), key.rollingStartIntervalNumber)),
  );

  const meetings: Meeting[] = [];
  const hear = (listener: Phone, speaker: number, dayIndex: number, interval: number, attenuation: number) => {
    const rpi = identifiers[speaker]![dayIndex]![interval]!.toString('hex');
    const list = listener.heard.get(rpi);
    if (list) list.push(attenuation);
    else listener.heard.set(rpi, [attenuation]);
  };
  for (let d = 0; d < settings.days; d++) {
    for (const phone of phones) {
      for (let c = 0; c < settings.contactsPerDay && settings.phones > 1; c++) {
        let other = random.int(0, settings.phones - 2);
        if (other >= phone.id) other++;
        const length = random.int(1, 6);
        const start = random.int(0, INTERVALS_PER_DAY - length);
        const distance = random.int(35, 80);
        for (let i = start; i < start + length; i++) {
          hear(phone, other, d, i, distance + random.int(-2, 2));
          hear(phones[other]!, phone.id, d, i, distance + random.int(-2, 2));
        }
        meetings.push({ speaker: other, listener: phone.id, day: firstDay + d }, { speaker: phone.id, listener: other, day: firstDay + d });
      }
    }
  }
  return { phones, meetings };
}
