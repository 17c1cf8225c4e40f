// What the retrieval routes are handed.
import type { Logger } from 'pino';
import type { RetrievalSettings, ServiceSettings } from '../config.js';
import type { ExportSigner } from '../crypto/export-signer.js';
import type { Pool } from '../db/pool.js';
import type { ExportCache } from '../exports/cache.js';
import type { Clock } from '../protocol/time.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export interface RetrievalContext {
  settings: RetrievalSettings;
  service: ServiceSettings;
  pool: Pool;
  clock: Clock;
  log: Logger;
  signer: ExportSigner;
  cache: ExportCache;
  telemetry: Telemetry;
  /** Whether the database is prepared and answers (/services/ready). */
  ready: () => Promise<boolean>;
}
