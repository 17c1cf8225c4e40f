#!/usr/bin/env node
// `diagnosis-server <command>`: a server role from the role table, or an operator tool.
import { codeCacheUse } from './code-cache.js';
import { ConfigError, loadConfig } from './config.js';
import { localEnvironment } from './dev-secrets.js';
import { createLogger } from './logger.js';
import { isRole, roleSpec, roleUsage, type Role } from './roles.js';

/** Operator tools, each loaded only when asked for. */
const TOOLS: Record<string, { usage: string; run: (args: string[]) => Promise<number> }> = {
  keys: {
    usage: 'print fresh secrets: ECDSA_KEY (and its public key), RETRIEVE_HMAC_KEY, a portal token',
    run: async () => (await import('./tools/keys.js')).printKeys(),
  },
  'verify-export': {
    usage: 'FILE.zip --public-key FILE.pem\n                   check a key file’s zip layout, header, signature and fields; print a summary',
    run: async (args) => (await import('./tools/verify-export.js')).verifyExportCommand(args),
  },
  simulate: {
    usage:
      '[--phones N --days N --contacts N --positives F --seed N]\n                   phones meeting, testing positive, uploading, downloading and matching, end to end',
    run: async (args) => (await import('./tools/simulate.js')).simulateCommand(args),
  },
};

const USAGE = `usage: diagnosis-server <command>

roles:
${roleUsage()}

tools:
${Object.entries(TOOLS)
  .map(([name, tool]) => `  ${name.padEnd(16)} ${tool.usage}`)
  .join('\n')}

Configuration comes from the environment; see README.md.`;

/** SIGTERM must see the servers and the pool closed within a second. */
const SHUTDOWN_DEADLINE_MS = 1000;

async function runRole(role: Role): Promise<number> {
  const spec = roleSpec(role);
  const local = spec.local ? await localEnvironment(process.env) : undefined;
  const env = local?.env ?? process.env;
  const filled: string[] = local?.filled ?? [];
  const config = loadConfig(env, role);
  const log = await createLogger(config.logLevel, spec.local === true);

  // Listen for the stop signal before starting, so that one arriving mid-start still
  // gets an orderly stop once start-up is done, not the default instant death.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const { startRole } = await import('./start.js');
  const running = await startRole(role, config, log);
  if (!spec.stays) {
    await running.stop();
    log.info(role === 'migrate' ? 'migrations are up to date' : 'purge done');
    return 0;
  }
  const codeCache = codeCacheUse();
  for (const [name, url] of Object.entries(running.urls)) log.info({ role: name, url, codeCache }, 'listening');
  if (codeCache === 'rejected') {
    // Correct but slower: every start of this image compiles the whole bundle again.
    log.warn('the code cache does not fit this Node (built by another Node, or damaged): starts compile the bundle; rebuild with this Node');
  }
  if (spec.local) {
    const lines = Object.entries(running.urls).map(([name, url]) => `  ${name.padEnd(15)} ${url}`);
    if (filled.length > 0) {
      lines.push('', 'Development secrets (generated once, kept in the data folder; set the variables to use your own):');
      if (filled.includes('KEY_CLAIM_TOKEN')) lines.push(`  KEY_CLAIM_TOKEN   ${env.KEY_CLAIM_TOKEN}`);
      if (filled.includes('RETRIEVE_HMAC_KEY')) lines.push(`  RETRIEVE_HMAC_KEY ${env.RETRIEVE_HMAC_KEY}`);
      if (filled.includes('ECDSA_KEY')) lines.push(`  ECDSA_KEY         (public key in ${local?.publicKeyFile})`);
    }
    const token = config.submission?.claimTokens[0]?.token;
    if (token && running.urls['key-submission']) {
      lines.push('', 'Try:', `  curl -X POST -H 'Authorization: Bearer ${token}' ${running.urls['key-submission']}/new-key-claim`);
    }
    console.log(['', 'diagnosis-server is running:', ...lines, ''].join('\n'));
  }

  const signal = await stopSignal;
  log.info({ signal }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown took longer than its deadline; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await running.stop();
  log.info('stopped');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const tool = Object.hasOwn(TOOLS, command) ? TOOLS[command] : undefined;
  if (tool) return tool.run(args);
  if (!isRole(command)) {
    console.error(`diagnosis-server: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  return runRole(command);
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
