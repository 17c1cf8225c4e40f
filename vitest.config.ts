import { defineConfig } from 'vitest/config';

/**
 * Tests of pure code: no Postgres, no server, no process started. `npm run test:unit` runs
 * only these, in a second or two. A test listed here that needs the database fails at once
 * (nothing provides its URL), so the list cannot silently hold a slow test.
 */
const UNIT = [
  'test/protocol/**/*.test.ts',
  'test/crypto/**/*.test.ts',
  'test/exports/**/*.test.ts',
  'test/db/copy-binary.test.ts',
  'test/db/commit-groups.test.ts',
  'test/retrieval/fresh-reads.test.ts',
  'test/simulator/en-crypto.test.ts',
  'test/simulator/exposure-risk.test.ts',
  'test/telemetry/dashboard.test.ts',
  'test/deploy/terraform.test.ts',
  'test/config.test.ts',
  'test/roles.test.ts',
  'test/logger.test.ts',
  'test/network/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each integration file gets its own database, so files may run side by side.
    fileParallelism: true,
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: UNIT,
          globalSetup: ['test/helpers/global-postgres.ts'],
        },
      },
    ],
  },
});
