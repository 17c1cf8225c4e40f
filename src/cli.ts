#!/usr/bin/env node
// `diagnosis-server <role>`: parses the command line and the environment, starts the role.
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, requireForRole, type Role } from './config.js';
import { developmentSecrets, withDevelopmentSecrets } from './dev-secrets.js';
import { createLogger } from './logger.js';
import { startRole } from './roles.js';

const USAGE = `usage: diagnosis-server <role>

roles:
  key-submission   one-time codes, key claim and uploads (port 8000)
  key-retrieval    signed exports for phones (port 8001)
  migrate          apply database migrations and exit
  all              every role in one process, for local use (embedded Postgres by default)

Configuration comes from the environment; see README.md.`;

const ROLES: readonly Role[] = ['key-submission', 'key-retrieval', 'migrate', 'all'];
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../.data/', import.meta.url));
/** SIGTERM must see the servers and the pool closed within a second. */
const SHUTDOWN_DEADLINE_MS = 1000;

async function main(argv: string[]): Promise<number> {
  const role = argv[0] as Role | undefined;
  if (!role || argv[0] === '--help' || argv[0] === '-h') {
    console.log(USAGE);
    return role ? 0 : 2;
  }
  if (!ROLES.includes(role)) {
    console.error(`diagnosis-server: unknown role "${role}"\n\n${USAGE}`);
    return 2;
  }

  let env = process.env;
  let filled: string[] = [];
  if (role === 'all') {
    const dataDir = process.env.DATA_DIR || DEFAULT_DATA_DIR;
    ({ env, filled } = withDevelopmentSecrets(process.env, await developmentSecrets(dataDir)));
  }
  const config = loadConfig(env, DEFAULT_DATA_DIR);
  requireForRole(config, role);
  const log = await createLogger(config.logLevel, role === 'all');

  const running = await startRole(role, config, log);
  if (role === 'migrate') {
    await running.stop();
    log.info('migrations are up to date');
    return 0;
  }
  for (const [name, url] of Object.entries(running.urls)) log.info({ role: name, url }, 'listening');
  if (role === 'all') {
    const lines = Object.entries(running.urls).map(([name, url]) => `  ${name.padEnd(15)} ${url}`);
    if (filled.includes('KEY_CLAIM_TOKEN')) {
      const token = config.claimTokens[0]!.token;
      lines.push('', 'Development secrets (generated, kept in the data folder; set the variables to use your own):');
      lines.push(`  KEY_CLAIM_TOKEN ${token}=${config.claimTokens[0]!.label}`);
      lines.push('', 'Try:', `  curl -X POST -H 'Authorization: Bearer ${token}' ${running.urls['key-submission']}/new-key-claim`);
    }
    console.log(['', 'diagnosis-server is running:', ...lines, ''].join('\n'));
  }

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down');
      setTimeout(() => {
        log.error('shutdown took longer than its deadline; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      void running.stop().then(resolve);
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
  log.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(`diagnosis-server: configuration: ${err.message}`);
    else console.error(`diagnosis-server: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
