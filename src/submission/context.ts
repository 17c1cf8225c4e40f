// What the submission routes are handed: their settings, the pool, the clock, the log.
import type { Logger } from 'pino';
import type { ServiceSettings, SubmissionSettings } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Clock } from '../protocol/time.js';
import type { Telemetry } from '../telemetry/telemetry.js';

export interface SubmissionContext {
  settings: SubmissionSettings;
  service: ServiceSettings;
  pool: Pool;
  clock: Clock;
  log: Logger;
  telemetry: Telemetry;
  /** Whether the database is prepared and answers (/services/ready). */
  ready: () => Promise<boolean>;
}
