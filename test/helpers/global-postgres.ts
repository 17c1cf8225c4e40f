// One real Postgres for the whole run: TEST_DATABASE_URL when given, else a throwaway
// embedded cluster. Each test file then makes its own database on it (see database.ts).
import { pino } from 'pino';
import type { TestProject } from 'vitest/node';
import { freePort } from '../../src/clients/free-port.js';
import { startEmbeddedPostgres, throwawayDataDir } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('postgresUrl', process.env.TEST_DATABASE_URL);
    return;
  }
  try {
    const postgres = await startEmbeddedPostgres({
      dataDir: await throwawayDataDir('diagnosis-server-test-'),
      port: await freePort(),
      log: pino({ level: 'silent' }),
      throwaway: true,
      settings: { max_connections: '300', fsync: 'off' },
    });
    project.provide('postgresUrl', postgres.url.replace(/\/diagnosis$/, '/postgres'));
    return postgres.stop;
  } catch (err) {
    // Whatever stops the run is said, with what to do: a silent exit 1 helps nobody.
    console.error(
      `test set-up: could not start Postgres for the tests: ${(err as Error).message}\n(set TEST_DATABASE_URL to use a running Postgres)`,
    );
    throw err;
  }
}
