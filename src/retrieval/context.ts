// What the retrieval routes are handed.
import type { Logger } from 'pino';
import type { RetrievalSettings, ServiceSettings } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { SigningKey } from '../exports/build.js';
import type { ExportCache } from '../exports/cache.js';
import type { SigningKeyValidity } from '../protocol/signing-keys.js';
import type { Clock } from '../protocol/time.js';
import type { Telemetry } from '../telemetry/telemetry.js';

/** A loaded signing key, and when it may sign. */
export type RetrievalSigningKey = SigningKey & SigningKeyValidity;

/** A served region with its signing keys loaded. */
export interface ServedRegion {
  mcc: string;
  exportRegion: string;
  /** Every configured key; a file is signed by those valid at the start of its hour. */
  signingKeys: RetrievalSigningKey[];
}

export interface RetrievalContext {
  settings: RetrievalSettings;
  service: ServiceSettings;
  pool: Pool;
  clock: Clock;
  log: Logger;
  /** By MCC: /retrieve for any other is 404. */
  regions: Map<string, ServedRegion>;
  cache: ExportCache;
  telemetry: Telemetry;
  /** Whether the database is prepared and answers (/services/ready). */
  ready: () => Promise<boolean>;
}
