// What the retrieval routes are handed.
import type { Logger } from 'pino';
import type { RetrievalSettings, ServiceSettings } from '../config.js';
import type { SigningKey } from '../exports/build.js';
import type { SigningKeyValidity } from '../protocol/signing-keys.js';
import type { Pool } from '../db/pool.js';
import type { ExportCache } from '../exports/cache.js';
import type { Clock } from '../protocol/time.js';
import type { Telemetry } from '../telemetry/telemetry.js';

/** A loaded signing key, and when it may sign. */
export type RetrievalSigningKey = SigningKey & SigningKeyValidity;

export interface RetrievalContext {
  settings: RetrievalSettings;
  service: ServiceSettings;
  pool: Pool;
  clock: Clock;
  log: Logger;
  /** Every configured key; a file is signed by those valid at the start of its hour. */
  signingKeys: RetrievalSigningKey[];
  cache: ExportCache;
  telemetry: Telemetry;
  /** Whether the database is prepared and answers (/services/ready). */
  ready: () => Promise<boolean>;
}
